"""KULNet through test.py and infer.py: the authors' test.yml (nine kernels, theta in degrees,
reseeding per kernel, the mean over kernels), deterministic mode, the uncertainty map of several
latent draws, real photos. Weights: a randomly initialised KULNet saved in tmp_path."""
import csv
import math
import os
import shutil

import cv2
import numpy as np
import pytest
import torch
import yaml

from blindsr.commands import infer as infer_command
from blindsr.commands import test as test_command
from blindsr.degradation.kernels import anisotropic_kernels
from blindsr.kulnet import KULNet
from blindsr.models.blind_model import BlindSRModel
from blindsr.options import OptionsError, load_options
from blindsr.options.loader import validate
from blindsr.options.kernel_sweep import kernel_options, sweep_kernels
from blindsr.utils import uncertainty_picture as up
from blindsr.utils.paths import REPO_ROOT

# The KULNet authors' options/test/test.yml as the spec (../shared/specs/kulnet.md (a)) gives it:
# x2 on Set5, their nine kernels with theta in degrees, noise 0, their weights' path.
AUTHORS_TEST_YML = """\
name: KULNet_test_x2
suffix: ~
model: blind
distortion: sr
scale: 2
crop_border: ~
gpu_ids: [0]
kernel_size: 21
sig1: [2.0, 2.0, 3.5, 3.5, 3.5, 4.0, 4.0, 4.0, 4.0]
sig2: [0.5, 1.0, 1.5, 2.0, 2.0, 1.5, 2.0, 3.0, 4.0]
theta: [0, 10, 30, 45, 90, 120, 135, 165, 180]
rate_iso: 0
sv_mode: 0
test_noise: True
noise: 0
test_jpeg: False
jpeg: 70
cal_lr_psnr: False

datasets:
  test_1:
    name: Set5
    mode: GT
    dataroot_GT: ../datasets/Set5/HR
    dataroot_LQ: ~

network_G:
  which_model_G: BlindNet

path:
  strict_load: true
  pretrain_model_G: ../experiments/pretrained_models/x2/latest_G.pth
"""


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """A random KULNet (its parameters do not depend on the scale), with our network record beside it."""
    folder = tmp_path_factory.mktemp('kulnet_weights')
    torch.manual_seed(0)
    path = folder / 'kulnet_random.pth'
    torch.save(KULNet(scale=4).state_dict(), path)
    record = {'model': 'blind', 'scale': 4, 'kernel_size': 21, 'code_length': 15,
              'network_G': {'which_model_G': 'KULNet'}}
    path.with_suffix('.yml').write_text(yaml.safe_dump(record))
    return path


@pytest.fixture(scope='module')
def hr_folder(tmp_path_factory):
    """Two 48x48 HR crops of the repository's Set5."""
    folder = tmp_path_factory.mktemp('kulnet_hr')
    for stem in ('baby', 'bird'):
        img = cv2.imread(str(REPO_ROOT / 'datasets/Set5/HR' / f'{stem}.png'))
        cv2.imwrite(str(folder / f'{stem}.png'), img[64:112, 64:112])
    return folder


@pytest.fixture(scope='module')
def hr_folder_x4(tmp_path_factory):
    """One 80x80 HR crop: at x4 its LR (20x20) is large enough for the LR-SSIM window after the crop."""
    folder = tmp_path_factory.mktemp('kulnet_hr_x4')
    img = cv2.imread(str(REPO_ROOT / 'datasets/Set5/HR/baby.png'))
    cv2.imwrite(str(folder / 'baby.png'), img[64:144, 64:144])
    return folder


@pytest.fixture
def results():
    names = []
    yield names
    for name in names:
        shutil.rmtree(REPO_ROOT / 'results' / name, ignore_errors=True)


def _name(results, tag):
    name = f'pytest_kulnet_{tag}_{os.getpid()}'
    results.append(name)
    return name


def _rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def _authors_file(tmp_path):
    p = tmp_path / 'test.yml'
    p.write_text(AUTHORS_TEST_YML)
    return p


def test_authors_test_yml_loads_unchanged_as_a_sweep(tmp_path):
    opt = load_options(_authors_file(tmp_path), is_train=False)
    kernels = sweep_kernels(opt)
    assert [(k.sig1, k.sig2, k.theta_given) for k in kernels] == list(zip(
        [2.0, 2.0, 3.5, 3.5, 3.5, 4.0, 4.0, 4.0, 4.0], [0.5, 1.0, 1.5, 2.0, 2.0, 1.5, 2.0, 3.0, 4.0],
        [0, 10, 30, 45, 90, 120, 135, 165, 180]))
    # degrees converted as the authors' test.py: / 180 * 3.14, not pi
    assert kernels[-1].theta == pytest.approx(3.14, abs=1e-12) and kernels[2].theta == pytest.approx(30 / 180 * 3.14)
    one = kernel_options(opt, kernels[2])
    assert (one['sig1'], one['sig2'], one['theta']) == (3.5, 1.5, kernels[2].theta)
    assert opt['sig1'] == [2.0, 2.0, 3.5, 3.5, 3.5, 4.0, 4.0, 4.0, 4.0]     # the options stay as written


def test_kernel_lists_are_validated(tmp_path):
    text = AUTHORS_TEST_YML.replace('sig2: [0.5, 1.0, 1.5, 2.0, 2.0, 1.5, 2.0, 3.0, 4.0]', 'sig2: [0.5, 1.0]')
    with pytest.raises(OptionsError, match='equal lengths.*sig1: 9, sig2: 2'):
        load_options(_write(tmp_path, text), is_train=False)
    with pytest.raises(OptionsError, match=r"'sig1\[1\]' = .* must be >= 0|'sig1' = .* must be >= 0"):
        load_options(_write(tmp_path, AUTHORS_TEST_YML.replace('sig1: [2.0, 2.0,', 'sig1: [2.0, -2.0,')),
                     is_train=False)
    with pytest.raises(OptionsError, match='sig1'):
        load_options(_write(tmp_path, AUTHORS_TEST_YML.replace('sig1: [2.0, 2.0,', 'sig1: [2.0, abc,')),
                     is_train=False)
    # one number beside the lists serves every kernel; a single theta stays in radians
    opt = load_options(_write(tmp_path, AUTHORS_TEST_YML.replace('sig1: [2.0, 2.0, 3.5, 3.5, 3.5, 4.0, 4.0, 4.0, 4.0]',
                                                                 'sig1: 4.5')), is_train=False)
    assert [k.sig1 for k in sweep_kernels(opt)] == [4.5] * 9
    plain = load_options(_write(tmp_path, 'name: x\nscale: 4\nsig1: 6\ntheta: 0.785\n'
                                'datasets: {t: {name: t, mode: LQ, dataroot_LQ: datasets/historical/LR}}\n'
                                'network_G: {which_model_G: KULNet}\n'), is_train=False)
    assert sweep_kernels(plain) is None and plain['theta'] == 0.785
    train = {'name': 'x', 'scale': 4, 'sig1': [2.0, 3.0], 'network_G': {'which_model_G': 'KULNet'},
             'datasets': {'train': {'name': 't', 'mode': 'GT', 'dataroot_GT': 'datasets/Set5/HR', 'GT_size': 48}},
             'train': {'lr_G': 1e-4, 'niter': 1, 'pixel_criterion': 'l1', 'pixel_weight': 1.0}}
    with pytest.raises(OptionsError, match='sig1: a list of test kernels is for test.py'):
        validate(train, is_train=True)


def _write(tmp_path, text):
    p = tmp_path / 'opt.yml'
    p.write_text(text)
    return p


def _run_authors(tmp_path, weights, hr_folder, name, *extra):
    return test_command.main(['--opt', str(_authors_file(tmp_path)), '--set', f'name={name}',
                      '--set', f'datasets.test_1.dataroot_GT={hr_folder}',
                      '--set', f'path.pretrain_model_G={weights}', *extra])


def test_authors_test_yml_runs_nine_kernels_and_reseeds(tmp_path, weights, hr_folder, results):
    first, second = _name(results, 'authors_a'), _name(results, 'authors_b')
    assert _run_authors(tmp_path, weights, hr_folder, first) == 0
    torch.rand(1000), np.random.rand(1000)      # the global streams moved: reseeding must undo this
    assert _run_authors(tmp_path, weights, hr_folder, second) == 0
    sets = [REPO_ROOT / 'results' / n / 'Set5' for n in (first, second)]
    rows = _rows(sets[0] / 'metrics.csv')
    assert [r['kernel'] for r in rows] == [k.label for k in sweep_kernels(
        load_options(_authors_file(tmp_path), is_train=False))] + ['mean']
    for key in ('psnr_y', 'ssim_y', 'psnr_k'):
        per_kernel = [float(r[key]) for r in rows[:-1]]
        assert all(math.isfinite(v) for v in per_kernel)
        assert float(rows[-1][key]) == pytest.approx(np.mean(per_kernel), abs=1e-5)
    assert rows[1]['theta'] == '10.000000'
    # per kernel: the SR images, kernel pictures and per-image metrics of the two HR images
    per_image = _rows(sets[0] / rows[4]['kernel'] / 'metrics.csv')
    assert [r['image'] for r in per_image] == ['baby', 'bird', 'average']
    assert cv2.imread(str(sets[0] / rows[4]['kernel'] / 'baby.png')).shape == (48, 48, 3)
    assert (sets[0] / rows[4]['kernel'] / 'kernels' / 'baby.png').is_file()
    # the latent is sampled (the authors' default), yet the two runs agree exactly
    assert _rows(sets[1] / 'metrics.csv') == rows
    for k in rows[:-1]:
        for stem in ('baby', 'bird'):
            a, b = (cv2.imread(str(s / k['kernel'] / f'{stem}.png')) for s in sets)
            assert np.array_equal(a, b)
    # the true kernel of a sweep entry is the authors' (theta * 3.14 / 180)
    assert float(rows[2]['psnr_k']) != float(rows[3]['psnr_k'])


def test_sweep_kernel_is_the_one_the_lr_was_made_with(tmp_path, weights, hr_folder, results):
    name = _name(results, 'authors_npz')
    assert _run_authors(tmp_path, weights, hr_folder, name, '--save_kernel',
                        '--set', 'sig1=[3.5]', '--set', 'sig2=[1.5]', '--set', 'theta=[30]') == 0
    data = np.load(REPO_ROOT / 'results' / name / 'Set5' / 'k_3.5_1.5_30' / 'npz' / 'baby.npz')
    expected = anisotropic_kernels(3.5, 1.5, 30 / 180 * 3.14, 2, 21)[0].numpy()
    assert np.allclose(data['gt_ker'], expected, atol=1e-7)


def test_shipped_option_file_sweeps_gt_sets_and_runs_lq_gtlq_once(tmp_path, weights, hr_folder_x4, results):
    name = _name(results, 'modes')
    for sub in ('lq', 'gt', 'lr'):
        (tmp_path / sub).mkdir()
    def crop(src, dst, side):
        cv2.imwrite(str(tmp_path / dst), cv2.imread(str(REPO_ROOT / 'datasets' / src))[:side, :side])
    crop('historical/LR/img001.png', 'lq/img001.png', 20)
    crop('toy_dataset/HR_si/toy1.png', 'gt/toy1.png', 80)
    crop('toy_dataset/LR_mode0_noise0/toy1.png', 'lr/toy1.png', 20)     # the LR of that HR crop
    assert test_command.main(['--opt', str(REPO_ROOT / 'options/test/test_KULNet_x4.yml'), '--set', f'name={name}',
                              '--set', 'sig1=[2.0, 4.0]', '--set', 'sig2=[0.5, 4.0]', '--set', 'theta=[0, 180]',
                              '--set', f'datasets.test_1.dataroot_GT={hr_folder_x4}',
                              '--set', f'datasets.test_2.dataroot_LQ={tmp_path / "lq"}',
                              '--set', f'datasets.test_3.dataroot_GT={tmp_path / "gt"}',
                              '--set', f'datasets.test_3.dataroot_LQ={tmp_path / "lr"}',
                              '--set', f'path.pretrain_model_G={weights}']) == 0
    root = REPO_ROOT / 'results' / name
    assert [r['kernel'] for r in _rows(root / 'Set5' / 'metrics.csv')] == ['k_2_0.5_0', 'k_4_4_180', 'mean']
    assert sorted(p.name for p in (root / 'Set5').iterdir() if p.is_dir()) == ['k_2_0.5_0', 'k_4_4_180']
    assert [r['image'] for r in _rows(root / 'historical' / 'metrics.csv')] == ['img001', 'average']
    assert cv2.imread(str(root / 'historical' / 'img001.png')).shape == (80, 80, 3)
    gtlq = _rows(root / 'toy_dataset' / 'metrics.csv')
    assert [r['image'] for r in gtlq] == ['toy1', 'average'] and math.isfinite(float(gtlq[0]['psnr_y']))


def _model(weights, *overrides):
    opt = load_options(REPO_ROOT / 'options/test/test_KULNet_x4.yml', is_train=False,
                       overrides=[f'path.pretrain_model_G={weights}', 'sig1=3.5', 'sig2=1.5', 'theta=0.5233',
                                  *overrides])
    return BlindSRModel(opt, torch.device('cpu'))


def _test_output(model, seed):
    torch.manual_seed(seed)
    model.feed_data({'GT': torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))},
                    generator=torch.Generator().manual_seed(1), train=False)
    return model.test()


def test_deterministic_mode_gives_identical_outputs(weights):
    model = _model(weights, 'network_G.sample_latent=false')
    a, b = _test_output(model, 1), _test_output(model, 2)
    assert torch.equal(a['sr'], b['sr']) and torch.equal(a['est_kernel'], b['est_kernel'])
    sampled = _model(weights)
    c, d = _test_output(sampled, 1), _test_output(sampled, 2)
    assert not torch.equal(c['est_kernel'], d['est_kernel'])        # the authors' default samples
    assert torch.equal(c['sr'], _test_output(sampled, 1)['sr'])       # ... from the global torch stream


def test_samples_average_draws_and_give_their_spread(weights):
    model = _model(weights, 'samples=3')
    out = _test_output(model, 3)
    assert out['uncertainty'].shape == out['sr'].shape == (1, 3, 32, 32)
    assert out['uncertainty'].min() >= 0 and out['uncertainty'].max() > 0
    # the mean of the three draws of the same stream
    single = _model(weights)
    torch.manual_seed(3)
    draws = []
    for _ in range(3):
        single.feed_data({'GT': torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))},
                         generator=torch.Generator().manual_seed(1), train=False)
        draws.append(single.test()['sr'])
    draws = torch.stack(draws)
    assert torch.allclose(out['sr'], draws.mean(0), atol=1e-6)
    assert torch.allclose(out['uncertainty'], draws.std(0, correction=0), atol=1e-5)
    off = _test_output(_model(weights, 'samples=3', 'network_G.sample_latent=false'), 3)
    assert torch.count_nonzero(off['uncertainty']) == 0


def test_test_py_samples_writes_uncertainty_maps(tmp_path, weights, hr_folder_x4, results):
    on, off = _name(results, 'samples_on'), _name(results, 'samples_off')
    common = ['--opt', str(REPO_ROOT / 'options/test/test_KULNet_x4.yml'), '--set', 'datasets.test_2=null',
              '--set', 'datasets.test_3=null', '--set', f'datasets.test_1.dataroot_GT={hr_folder_x4}',
              '--set', 'sig1=3.5', '--set', 'sig2=1.5', '--set', 'theta=0.5233',
              '--set', f'path.pretrain_model_G={weights}', '--samples', '3']
    assert test_command.main(common + ['--set', f'name={on}']) == 0
    assert test_command.main(common + ['--set', f'name={off}', '--set', 'network_G.sample_latent=false']) == 0
    for name, spread_positive in ((on, True), (off, False)):
        folder = REPO_ROOT / 'results' / name / 'Set5'
        pic = cv2.imread(str(folder / 'uncertainty' / 'baby.png'))
        sr = cv2.imread(str(folder / 'baby.png'))
        assert sr.shape == (80, 80, 3)
        assert pic.shape == (80, 80 + up.GAP + up.BAR_WIDTH + up.LABEL_WIDTH, 3)
        spreads = [float(r['sr_spread']) for r in _rows(folder / 'metrics.csv')]
        assert all(s > 0 for s in spreads) if spread_positive else all(s == 0 for s in spreads)
        assert not list(folder.rglob('*.tmp'))


def test_uncertainty_picture_scale():
    std = np.zeros((3, 20, 30))
    std[:, 5, 7] = 2 / 255          # one pixel: the 99th percentile is 0, the scale falls back to the maximum
    pic, peak = up.uncertainty_picture(std)
    assert peak == pytest.approx(2.0)
    std[:, :10] = 1 / 255           # the top of the scale ignores the brightest 1 %
    assert up.uncertainty_picture(std)[1] == pytest.approx(1.0)
    assert pic.shape == (40, 30 + up.GAP + up.BAR_WIDTH + up.LABEL_WIDTH, 3)      # bar at least 40 tall
    assert (pic[5, 7] != pic[0, 0]).any() and (pic[:20, :30].reshape(-1, 3) == pic[0, 0]).all(1).sum() == 599


def test_infer_py_on_a_real_photo(tmp_path, weights, shared):
    src = cv2.imread(str(shared('datasets/RealSRSet/LR/chip.png')))
    (tmp_path / 'in').mkdir()
    cv2.imwrite(str(tmp_path / 'in' / 'chip.png'), src[40:64, 40:64])
    out = tmp_path / 'out'
    assert infer_command.main(['--input', str(tmp_path / 'in'), '--model', str(weights), '--output', str(out),
                       '--samples', '2', '--tile', '16', '--tile_overlap', '4']) == 0
    assert cv2.imread(str(out / 'chip.png')).shape == (96, 96, 3)
    bar = up.GAP + up.BAR_WIDTH + up.LABEL_WIDTH
    assert cv2.imread(str(out / 'uncertainty' / 'chip.png')).shape == (96, 96 + bar, 3)
    # whole image, deterministic: the same output twice
    for run in ('a', 'b'):
        assert infer_command.main(['--input', str(tmp_path / 'in'), '--model', str(weights), '--output',
                           str(tmp_path / run), '--tile', '0', '--set', 'network_G.sample_latent=false']) == 0
    assert np.array_equal(cv2.imread(str(tmp_path / 'a' / 'chip.png')), cv2.imread(str(tmp_path / 'b' / 'chip.png')))
    assert not (tmp_path / 'a' / 'uncertainty').exists()
