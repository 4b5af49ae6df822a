"""The engine/model contract: declared capabilities, the TestOutput type, loss terms as data,
and every BaseModel hook called by the engine for a toy model registered here."""
import csv

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from blindsr.engine.tester import test as run_test
from blindsr.engine.trainer import train
from blindsr.losses.terms import COMPARISONS, build_loss_terms
from blindsr.models.base_model import BaseModel
from blindsr.models.blind_model import BlindSRModel
from blindsr.models import contract
from blindsr.models.contract import Capabilities, capabilities_of, check_test_output
from blindsr.options.loader import OptionsError, validate
from blindsr.options.schema import LOSS_TERM
from blindsr.registry import ARCHS, LOSSES, MODELS
from blindsr.utils.paths import REPO_ROOT


@ARCHS.register('ContractToyEstimatorSR')
class ToyEstimatorSR(nn.Module):
    """A one-kernel estimator and an SR net in one network, both trained (KULNet's shape)."""

    capabilities = Capabilities(estimates_kernel=True, outputs=('sr', 'est_kernel', 'latent_mean', 'latent_log_std'),
                                estimator='estimator')

    def __init__(self, scale=4, kernel_size=21):
        super().__init__()
        self.scale, self.kernel_size = scale, kernel_size
        self.estimator = nn.Conv2d(3, kernel_size ** 2, 3, padding=1)
        self.latent = nn.Conv2d(3, 4, 3, padding=1)
        self.sr = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, lr):
        logits = self.estimator(lr).mean((2, 3))
        kernel = torch.softmax(logits, -1).view(-1, self.kernel_size, self.kernel_size)
        z = self.latent(lr)
        sr = F.interpolate(self.sr(lr), scale_factor=self.scale, mode='nearest')
        return sr, kernel, z, 0.1 * z


@LOSSES.register('contract_toy_kl')
class ToyKL(nn.Module):
    def forward(self, mean, log_std):
        return (-0.5 * (1 + 2 * log_std - mean ** 2 - torch.exp(2 * log_std))).mean()


def _train_opt(name, tmp_path, **train):
    raw = {'name': name, 'model': 'blind', 'scale': 4, 'sig_min': 0.7, 'sig_max': 10.0,
           'datasets': {'train': {'name': 't', 'mode': 'GT', 'dataroot_GT': str(REPO_ROOT / 'datasets/Set5/HR'),
                                  'GT_size': 32, 'batch_size': 2, 'n_workers': 0},
                        'val': {'name': 'v', 'mode': 'GT', 'dataroot_GT': str(REPO_ROOT / 'datasets/toy_dataset/HR_si')}},
           'network_G': {'which_model_G': 'ContractToyEstimatorSR'},
           'train': dict({'lr_G': 1e-3, 'niter': 2, 'lr_steps': [100], 'val_freq': 0}, **train),
           'logger': {'print_freq': 1, 'save_checkpoint_freq': 100}}
    return raw


def _finish(opt, tmp_path):
    from blindsr.options.loader import _resolve_paths
    opt['is_train'] = True
    opt['opt_path'] = str(tmp_path / 'toy.yml')
    _resolve_paths(opt, True)
    return opt


def test_every_architecture_used_by_the_blind_recipe_declares_its_capabilities():
    for name in ('MANet_s1', 'MANet_s2', 'MANet_s3', 'MeanKernel', 'MANet_s2_mean', 'Bicubic'):
        caps = ARCHS.get(name).capabilities
        assert isinstance(caps, Capabilities), name
    s1, s2, s3 = (ARCHS.get(n).capabilities for n in ('MANet_s1', 'MANet_s2', 'MANet_s3'))
    assert (s1.estimates_kernel, s1.makes_sr, s1.trains_estimator) == (True, False, True)
    assert (s2.takes_kernel, s2.makes_sr, s2.estimates_kernel) == (True, True, False)
    assert (s3.estimates_kernel, s3.makes_sr, s3.trains_estimator) == (True, True, False)
    with pytest.raises(TypeError, match='declares no capabilities'):
        capabilities_of(nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match='unknown network outputs'):
        Capabilities(outputs=('sr', 'kernel_map'))


def test_an_estimator_that_also_makes_sr_keeps_its_kernel_term(tmp_path):
    """The old recipe dropped the kernel loss of any network that makes SR."""
    raw = _train_opt('contract_terms', tmp_path, kernel_criterion='l1', kernel_weight=1.0,
                     pixel_criterion='l1', pixel_weight=1.0,
                     losses=[{'type': 'contract_toy_kl', 'weight': 0.001, 'compares': 'latent'}])
    opt = validate(raw, is_train=True)
    terms = build_loss_terms(opt['train'], ToyEstimatorSR.capabilities, 4)
    assert [(t.name, t.compares, t.weight) for t in terms] == [
        ('l_ker', 'kernel', 1.0), ('l_pix', 'sr', 1.0), ('l_contract_toy_kl', 'latent', 0.001)]
    # the frozen estimator of MANet stage 3 gets no kernel term; stage 1 gets no pixel term
    s3 = build_loss_terms(dict(opt['train'], losses=None), ARCHS.get('MANet_s3').capabilities, 4)
    s1 = build_loss_terms(dict(opt['train'], losses=None), ARCHS.get('MANet_s1').capabilities, 4)
    assert [t.name for t in s3] == ['l_pix'] and [t.name for t in s1] == ['l_ker']
    with pytest.raises(ValueError, match=r"losses\[0\]: compares 'latent'.*cannot provide"):
        build_loss_terms(opt['train'], ARCHS.get('MANet_s3').capabilities, 4)


def test_loss_entries_are_checked_at_load_and_an_unknown_loss_lists_what_exists(tmp_path):
    raw = _train_opt('contract_bad', tmp_path, pixel_criterion='l1', pixel_weight=1.0,
                     losses=[{'type': 'klx', 'weight': 1.0, 'compares': 'latent'}])
    with pytest.raises(OptionsError, match=r"train.losses\[0\].type.*unknown loss 'klx'.*l1"):
        validate(raw, is_train=True)
    raw['train']['losses'] = [{'type': 'l1', 'weight': 1.0, 'compares': 'pixels'}]
    with pytest.raises(OptionsError, match=r"train.losses\[0\].compares' must be one of"):
        validate(raw, is_train=True)
    raw['train'].update(losses=None, pixel_criterion='l3')
    opt = validate(raw, is_train=True)
    with pytest.raises(ValueError, match="train.pixel_criterion: unknown loss 'l3'.*Available: .*cb, .*l1"):
        build_loss_terms(opt['train'], ToyEstimatorSR.capabilities, 4)
    assert set(COMPARISONS) == set(LOSS_TERM['compares'].choices)


def test_the_blind_recipe_trains_every_term_of_an_end_to_end_network(tmp_path, one_thread):
    raw = _train_opt('pytest_contract_e2e', tmp_path, kernel_criterion='l1', kernel_weight=1.0,
                     pixel_criterion='l1', pixel_weight=1.0,
                     losses=[{'type': 'contract_toy_kl', 'weight': 0.001, 'compares': 'latent', 'name': 'l_kl'}])
    opt = _finish(validate(raw, is_train=True), tmp_path)
    model = BlindSRModel(opt, torch.device('cpu'))
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    model.feed_data({'GT': torch.rand(2, 3, 32, 32, generator=gen)}, generator=gen)
    logs = model.optimize_parameters(1)
    assert set(logs) == {'l_ker', 'l_pix', 'l_kl'} and all(v > 0 for v in logs.values())
    after = model.net.state_dict()
    for part in ('estimator.weight', 'latent.weight', 'sr.weight'):   # nothing frozen: every part moved
        assert not torch.equal(before[part], after[part]), part
    model.feed_data({'GT': torch.rand(1, 3, 32, 32, generator=gen)}, generator=gen, train=False)
    out = check_test_output(model.test(), model.capabilities, 'BlindSRModel')
    assert out['sr'].shape == (1, 3, 32, 32) and out['est_kernel'].shape == (1, 21, 21)
    assert out['est_field'].shape == (1, 8, 8, 21, 21)
    assert torch.allclose(out['est_field'].sum((-2, -1)), torch.ones(1, 8, 8))


class ToyRecipe(BaseModel):
    """A recipe that overrides every engine hook and records the calls."""

    capabilities = Capabilities(estimates_kernel=True, outputs=('sr', 'est_kernel'))
    calls = []

    def __init__(self, opt, device, dist=False):
        super().__init__(opt, device, dist)
        self.net = nn.Conv2d(3, 3, 1)
        if self.is_train:
            self.optimizers.append(torch.optim.SGD(self.net.parameters(), lr=0.1))

    def feed_data(self, batch, generator=None, train=True):
        self.hr = batch['GT']
        self.lr = F.avg_pool2d(self.hr, self.opt['scale'])

    def optimize_parameters(self, step):
        self.calls.append('optimize')
        loss = (self.net(self.lr) - self.lr).abs().mean()
        loss.backward()
        self.optimizers[0].step()
        return {'l_toy': loss.item()}

    def test(self, tile=None, tile_overlap=0):
        self.calls.append('test')
        k = torch.full((1, 21, 21), 1 / 441)
        h, w = self.lr.shape[-2:]
        return contract.TestOutput(lr=self.lr, lr_clean=self.lr, hr=self.hr, sr=F.interpolate(self.lr, size=self.hr.shape[-2:]),
                          est_kernel=k, est_field=k[:, None, None].expand(1, h, w, 21, 21), extras={'answer': 42})

    def validate(self, opt, it):
        self.calls.append('validate')
        return [{'toy_metric': float(it)}]

    def extra_metrics(self, out):
        self.calls.append('extra_metrics')
        return {'answer': out['extras']['answer']}

    def save_extra_outputs(self, out, folder, stem):
        self.calls.append('save_extra_outputs')
        (folder / f'{stem}.extra').parent.mkdir(parents=True, exist_ok=True)
        (folder / f'{stem}.extra').write_text('42')

    def networks(self):
        return {'G': self.net}


MODELS.register('contract_toy')(ToyRecipe)


def test_the_engine_calls_every_hook_of_a_registered_model(tmp_path, one_thread):
    ToyRecipe.calls.clear()
    raw = _train_opt('pytest_contract_hooks', tmp_path)
    raw.update(model='contract_toy')
    raw['train'].update(val_freq=2, niter=2)
    opt = _finish(validate(raw, is_train=True), tmp_path)
    try:
        train(opt)
        assert ToyRecipe.calls == ['optimize', 'optimize', 'validate']
        root = REPO_ROOT / 'results' / 'pytest_contract_hooks'
        assert (root / 'models' / 'latest_G.pth').is_file()
        ToyRecipe.calls.clear()
        test_raw = {'name': 'pytest_contract_hooks_test', 'model': 'contract_toy', 'scale': 4,
                    'datasets': {'test': {'name': 'toy', 'mode': 'GT',
                                          'dataroot_GT': str(REPO_ROOT / 'datasets/toy_dataset/HR_si')}},
                    'network_G': {'which_model_G': 'Bicubic'}}
        topt = validate(test_raw, is_train=False)
        from blindsr.options.loader import _resolve_paths
        topt.update(is_train=False, opt_path=str(tmp_path / 't.yml'))
        _resolve_paths(topt, False)
        summary = run_test(topt)
        assert ToyRecipe.calls.count('test') == 2 and ToyRecipe.calls.count('save_extra_outputs') == 2
        assert ToyRecipe.calls.count('extra_metrics') == 2
        folder = REPO_ROOT / 'results' / 'pytest_contract_hooks_test' / 'toy'
        rows = list(csv.DictReader(open(folder / 'metrics.csv')))
        assert rows[0]['answer'] == '42' and float(rows[0]['psnr_y']) > 15
        stem = rows[0]['image']
        assert summary['toy']['answer'] == 42 and (folder / f'{stem}.extra').read_text() == '42'
    finally:
        import shutil
        for p in (REPO_ROOT / 'results').glob('pytest_contract_hooks*'):
            shutil.rmtree(p, ignore_errors=True)


def test_a_test_output_that_breaks_the_contract_is_named():
    caps = Capabilities(estimates_kernel=True)
    lr = torch.zeros(1, 3, 4, 4)
    with pytest.raises(TypeError, match=r"Toy.test\(\) broke the TestOutput contract: missing \['sr', 'est_field'\]"):
        check_test_output({'lr': lr, 'lr_clean': lr}, caps, 'Toy')
    with pytest.raises(TypeError, match=r"unknown \['dip_sr'\] \(put method-specific results in extras\)"):
        check_test_output({'lr': lr, 'lr_clean': lr, 'sr': lr, 'est_field': lr, 'dip_sr': lr}, caps, 'Toy')
