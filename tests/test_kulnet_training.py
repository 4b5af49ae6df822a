"""KULNet trained end to end by the generic ``blind`` recipe: the authors' option semantics (the
hard-coded 0.001 * KL as an implied loss), the terms' values, the estimator training, resume."""
import re
import shutil

import pytest
import torch

from blindsr.data.errors import DatasetError
from blindsr.engine.trainer import train
from blindsr.kulnet import KULNet
from kulnet_reference import kulnet_losses
from blindsr.losses.terms import build_loss_terms, term_inputs
from blindsr.models.blind_model import BlindSRModel
from blindsr.models.contract import Capabilities, check_test_output
from blindsr.options.loader import _resolve_paths, load_options, validate
from blindsr.registry import ARCHS
from blindsr.utils.paths import REPO_ROOT

# The KULNet authors' options/train/train.yml (the x2 file they ship; their comments dropped), as the
# spec's table gives it.
AUTHORS_TRAIN_YML = """\
name: KULNet_train_x2
use_tb_logger: true
model: blind
distortion: sr
scale: 2
gpu_ids: [0]
kernel_size: 21
sig_min: 0.2
sig_max: 4
train_noise: True
noise_high: 25
train_jpeg: False
jpeg_low: 70
sig: 1.6
sig1: 3.5
sig2: 1.5
theta: 0.5233
rate_iso: 0
test_noise: True
noise: 10
test_jpeg: False
jpeg: 70
cal_lr_psnr: False
datasets:
  train:
    name: DF2K
    mode: GT
    dataroot_GT: ../datasets/DF2K/HR
    use_shuffle: true
    n_workers: 8
    batch_size: 16
    GT_size: 96
    LR_size: ~
    use_flip: true
    use_rot: true
    color: RGB
  val:
    name: Set14
    mode: GT
    dataroot_GT: ../datasets/Set14/HR
network_G:
  which_model_G: BlindNet
path:
  pretrain_model_K: ~
  pretrain_model_G: ~
  strict_load: false
  resume_state: ~
train:
  lr_G: !!float 2e-4
  lr_scheme: MultiStepLR
  beta1: 0.9
  beta2: 0.999
  niter: 480000
  warmup_iter: -1
  lr_steps: [120000, 240000, 360000, 480000]
  lr_gamma: 0.5
  restarts: ~
  restart_weights: ~
  eta_min: !!float 1e-7
  pixel_criterion: l1
  pixel_weight: 1.0
  kernel_criterion: l1
  kernel_weight: 1.0
  manual_seed: 0
  val_freq: !!float 1e3
logger:
  print_freq: 100
  save_checkpoint_freq: !!float 5e3
"""

AUTHORS_TRAIN = {'pixel_criterion': 'l1', 'pixel_weight': 1.0, 'kernel_criterion': 'l1', 'kernel_weight': 1.0}


def _raw(name, niter=2, **train_opt):
    """A tiny x4 KULNet run in the authors' form: no ``losses`` key."""
    return {'name': name, 'model': 'blind', 'scale': 4, 'kernel_size': 21, 'sig_min': 0.2, 'sig_max': 4.0,
            'rate_iso': 0, 'train_noise': True, 'noise_high': 25,
            'datasets': {'train': {'name': 't', 'mode': 'GT', 'dataroot_GT': str(REPO_ROOT / 'datasets/Set5/HR'),
                                   'GT_size': 48, 'batch_size': 2, 'n_workers': 0},
                         'val': {'name': 'v', 'mode': 'GT',
                                 'dataroot_GT': str(REPO_ROOT / 'datasets/toy_dataset/HR_si')}},
            'network_G': {'which_model_G': 'BlindNet'},
            'train': dict(AUTHORS_TRAIN, lr_G=2e-4, niter=niter, lr_steps=[100], val_freq=0, manual_seed=0,
                          **train_opt),
            'logger': {'print_freq': 1, 'save_checkpoint_freq': 2}}


def _opt(raw, tmp_path):
    opt = validate(raw, is_train=True)
    opt.update(is_train=True, opt_path=str(tmp_path / 'kulnet.yml'))
    _resolve_paths(opt, True)
    return opt


def _logged(name, key):
    """Per-iteration values of ``key`` in the run's log files (all of them, oldest first)."""
    values = []
    for log in sorted((REPO_ROOT / 'results' / name).glob('train_*.log')):
        values += [float(v) for v in re.findall(rf'{key}: ([0-9.e+-]+)', log.read_text())]
    return values


@pytest.fixture
def results():
    names = []
    yield names
    for name in names:
        shutil.rmtree(REPO_ROOT / 'results' / name, ignore_errors=True)


def test_blindnet_is_the_authors_name_for_kulnet():
    assert ARCHS.get('BlindNet') is KULNet


def test_an_implied_loss_must_be_a_whole_entry():
    with pytest.raises(ValueError, match=r"lacks \['name'\]"):
        Capabilities(implied_losses=({'type': 'kl', 'weight': 1e-3, 'compares': 'latent'},))


def test_the_kl_term_is_implied_and_an_explicit_entry_overrides_it(tmp_path):
    caps = KULNet.capabilities
    opt = validate(_raw('kulnet_terms'), is_train=True)
    terms = build_loss_terms(opt['train'], caps, 4)
    assert [(t.name, t.compares, t.weight) for t in terms] == [
        ('l_ker', 'kernel', 1.0), ('l_pix', 'sr', 1.0), ('l_kl', 'latent', 1e-3)]
    opt = validate(_raw('kulnet_terms', losses=[{'type': 'kl', 'weight': 0.01, 'compares': 'latent'}]),
                   is_train=True)
    terms = build_loss_terms(opt['train'], caps, 4)
    assert [(t.name, t.weight) for t in terms] == [('l_ker', 1.0), ('l_pix', 1.0), ('l_kl', 0.01)]
    # a network that declares no implied loss gets none
    assert 'latent' not in {t.compares for t in build_loss_terms(opt['train'] | {'losses': None},
                                                                  ARCHS.get('MANet_s1').capabilities, 4)}


@pytest.mark.parametrize('scale, lr_size', [(4, 12), (2, 10)])
def test_implied_terms_give_the_authors_loss_values(one_thread, scale, lr_size):
    """The generic kernel comparison of one est_kernel is the authors' 1e4 * MAE / (s^2 h w)."""
    gen = torch.Generator().manual_seed(1)
    net = KULNet(scale=scale)
    caps = KULNet.capabilities
    lr = torch.rand(2, 3, lr_size, lr_size, generator=gen)
    hr = torch.rand(2, 3, scale * lr_size, scale * lr_size, generator=gen)
    true_k = torch.softmax(torch.randn(2, 21 * 21, generator=gen), -1).view(2, 21, 21)
    with torch.no_grad():
        outputs = dict(zip(caps.outputs, net(lr, sample=False)))
    terms = build_loss_terms(dict(AUTHORS_TRAIN, pixel_criterion_lr=None, pixel_weight_lr=None, losses=None),
                             caps, scale)
    batch = {'lr': lr, 'hr': hr, 'kernel': true_k}
    got = {t.name: t.weight * t.criterion(*term_inputs(t, outputs, batch, None)).item() for t in terms}
    ref = kulnet_losses(outputs['sr'], outputs['est_kernel'], outputs['latent_mean'], outputs['latent_log_std'],
                        hr, true_k, scale=scale)
    assert set(got) == {'l_pix', 'l_ker', 'l_kl'}
    for name, value in got.items():
        assert abs(value - ref[name].item()) <= 1e-6 * max(1.0, abs(ref[name].item())), name
    closed = 1e4 * (outputs['est_kernel'] - true_k).abs().mean().item() / (scale ** 2 * lr_size ** 2)
    assert abs(got['l_ker'] - closed) <= 1e-6 * closed


def test_a_few_iterations_train_both_parts_and_test_gives_the_contract(tmp_path, one_thread):
    model = BlindSRModel(_opt(_raw('pytest_kulnet_steps'), tmp_path), torch.device('cpu'))
    assert model.net.training and model.net.sample_latent
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    for step in (1, 2):
        model.feed_data({'GT': torch.rand(2, 3, 48, 48, generator=gen)}, generator=gen)
        logs = model.optimize_parameters(step)
        assert set(logs) == {'l_pix', 'l_ker', 'l_kl'}
        assert all(torch.isfinite(torch.tensor(v)) and v > 0 for v in logs.values()), logs
    after = model.net.state_dict()
    for part in ('kernel_extra.Conv_tail.Conv_end.weight', 'SR_net.conv.weight', 'SR_net.delta_0'):
        assert not torch.equal(before[part], after[part]), part
    model.feed_data({'GT': torch.rand(1, 3, 40, 48, generator=gen)}, generator=gen, train=False)
    out = check_test_output(model.test(), model.capabilities, 'BlindSRModel')
    assert out['sr'].shape == (1, 3, 40, 48) and out['est_kernel'].shape == (1, 21, 21)
    assert out['est_field'].shape == (1, 10, 12, 21, 21)
    assert torch.equal(out['est_field'][0, 3, 7], out['est_kernel'][0])
    assert model.net.training   # test() restores the training mode


def test_deterministic_network_option_gives_a_repeatable_test(tmp_path, one_thread):
    raw = _raw('pytest_kulnet_det')
    raw['network_G']['sample_latent'] = False
    model = BlindSRModel(_opt(raw, tmp_path), torch.device('cpu'))
    model.feed_data({'GT': torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))}, train=False)
    a, b = model.test(), model.test()
    assert torch.equal(a['est_kernel'], b['est_kernel']) and torch.equal(a['sr'], b['sr'])


def test_resume_gives_the_same_losses(tmp_path, one_thread, results):
    """The latent noise comes from torch's global CPU generator, so the saved RNG state must restore it
    (a loader worker: with none, the seeded samples reseed that generator in the main process)."""
    results += ['pytest_kulnet_full', 'pytest_kulnet_part']
    full = _raw('pytest_kulnet_full', niter=4)
    full['datasets']['train']['n_workers'] = 1
    train(_opt(full, tmp_path))
    ref = {k: _logged('pytest_kulnet_full', k) for k in ('l_pix', 'l_ker', 'l_kl')}
    part = _raw('pytest_kulnet_part', niter=4)
    part['datasets']['train']['n_workers'] = 1
    part['train']['niter'] = 2
    train(_opt(part, tmp_path))
    part['train']['niter'] = 4
    train(_opt(part, tmp_path), resume='auto')
    got = {k: _logged('pytest_kulnet_part', k) for k in ref}
    for key in ref:
        assert len(ref[key]) == 4 and len(got[key]) == 4, (key, ref[key], got[key])
        torch.testing.assert_close(torch.tensor(got[key][2:]), torch.tensor(ref[key][2:]), rtol=1e-4, atol=0)
        assert all(v > 0 for v in ref[key])
    # the logs have 5 digits, too few to see the latent noise: the final weights must be equal too
    full_w, part_w = (torch.load(REPO_ROOT / 'results' / n / 'models' / 'latest_G.pth') for n in results)
    assert full_w.keys() == part_w.keys()
    for name in full_w:
        assert torch.equal(full_w[name], part_w[name]), name


@pytest.mark.parametrize('path', ['options/train/train_KULNet_x4.yml', 'options/train/train_KULNet_x4_cpu.yml'])
def test_the_kulnet_option_files_load(path):
    opt = load_options(str(REPO_ROOT / path), is_train=True)
    assert opt['network_G']['which_model_G'] == 'BlindNet' and opt['model'] == 'blind' and opt['scale'] == 4
    assert opt['train']['losses'] is None   # the KL term is implied, as in the authors' file
    terms = build_loss_terms(opt['train'], KULNet.capabilities, 4)
    assert [(t.name, t.weight) for t in terms] == [('l_ker', 1.0), ('l_pix', 1.0), ('l_kl', 1e-3)]
    assert (opt['sig_min'], opt['sig_max'], opt['rate_iso'], opt['train_noise'], opt['noise_high']) == (0.2, 4, 0, True, 25)
    assert (opt['sig1'], opt['sig2'], opt['theta'], opt['test_noise'], opt['noise']) == (3.5, 1.5, 0.5233, True, 10)
    t = opt['train']
    assert (t['lr_G'], t['lr_scheme'], t['lr_gamma'], t['manual_seed']) == (2e-4, 'MultiStepLR', 0.5, 0)
    if path.endswith('_x4.yml'):   # the paper's figures
        train_set = opt['datasets']['train']
        assert (train_set['batch_size'], train_set['GT_size'], opt['datasets']['val']['name']) == (16, 192, 'Set14')
        assert (t['niter'], t['lr_steps'], t['val_freq']) == (480000, [120000, 240000, 360000, 480000], 1000)


def test_the_authors_train_yml_runs_unchanged(tmp_path, one_thread, results):
    """Their file as it is: it names their DF2K folder, which is refused by name; pointed at small
    folders and shortened (``--set``), it trains KULNet x2 from scratch with their schedule."""
    path = tmp_path / 'train.yml'
    path.write_text(AUTHORS_TRAIN_YML)
    as_shipped = load_options(path, is_train=True)
    assert not (REPO_ROOT / 'results/KULNet_train_x2').exists()
    with pytest.raises(DatasetError, match=r'datasets\.train\.dataroot_GT: .*DF2K/HR: image folder not found'):
        train(as_shipped)
    assert not (REPO_ROOT / 'results/KULNet_train_x2').exists()     # a failed start leaves nothing behind
    results.append('pytest_kulnet_authors_x2')
    overrides = ['name=pytest_kulnet_authors_x2', 'train.niter=2', 'train.val_freq=2',
                 f'datasets.train.dataroot_GT={REPO_ROOT / "datasets/Set5/HR"}', 'datasets.train.batch_size=2',
                 'datasets.train.GT_size=48', 'datasets.train.n_workers=0',
                 f'datasets.val.dataroot_GT={REPO_ROOT / "datasets/toy_dataset/HR_si"}', 'logger.print_freq=1']
    opt = load_options(path, is_train=True, overrides=overrides)
    assert opt['scale'] == 2 and opt['train']['lr_gamma'] == 0.5
    assert opt['train']['lr_steps'] == [120000, 240000, 360000, 480000]
    assert [(t.name, t.weight) for t in build_loss_terms(opt['train'], KULNet.capabilities, 2)] == \
        [('l_ker', 1.0), ('l_pix', 1.0), ('l_kl', 1e-3)]
    train(opt)
    losses = {k: _logged('pytest_kulnet_authors_x2', k) for k in ('l_pix', 'l_ker', 'l_kl')}
    assert all(len(v) == 2 and all(x > 0 for x in v) for v in losses.values()), losses
    weights = torch.load(REPO_ROOT / 'results/pytest_kulnet_authors_x2/models/latest_G.pth')
    assert weights.keys() == KULNet(scale=2).state_dict().keys()
    log = next((REPO_ROOT / 'results/pytest_kulnet_authors_x2').glob('train_*.log')).read_text()
    assert re.search(r'Validation at iter 2 # psnr_y: [0-9.]+', log)
