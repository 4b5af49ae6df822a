"""FKP through the framework: prior training (train.py), DIP-FKP and KernelGAN-FKP (test.py),
the FKP test-set layouts (prepare_testset.py --protocol) and FKP's .mat kernels in the datasets."""
import csv
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import scipy.io as sio
import torch
from blindsr.archs.fkp_arch import load_kernel_prior
from blindsr.data.kernels_dataset import EPOCH_KERNELS, KernelDataset
from blindsr.data.loader import build_dataset
from blindsr.data.sampler import SeededSamples
from blindsr.fkp.data_prep import prepare_dipfkp_testset
from blindsr.fkp.io import load_kernel_mat
from blindsr.fkp.prior_training import validation_data, validation_log_likelihood
from blindsr.options import load_options
from blindsr.registry import MODELS
from blindsr.testsets.fkp import prepare_fkp_testsets
from blindsr.utils.paths import REPO_ROOT
from PIL import Image

PY = sys.executable
CODES = REPO_ROOT / 'codes'


@pytest.fixture
def run_name(request):
    """A unique run name; its results folder is removed afterwards."""
    name = f'pytest_{re.sub(r"[^A-Za-z0-9]", "_", request.node.name)}_{os.getpid()}'
    yield name
    for p in (REPO_ROOT / 'results').glob(f'{name}*'):
        shutil.rmtree(p, ignore_errors=True)


def run(script, *args):
    env = dict(os.environ, OMP_NUM_THREADS='2')
    res = subprocess.run([PY, str(CODES / script), *map(str, args)], capture_output=True, text=True, env=env, cwd='/',
                         check=False)
    if res.returncode != 0:
        raise AssertionError(f'{script} {args} failed ({res.returncode}):\n{res.stderr[-3000:]}')
    return res


def read_csv(path):
    with open(path) as f:
        return {row['image']: row for row in csv.DictReader(f)}


def save_rgb(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


# ----------------------------------------------------------------------------- prior training
def test_prior_trains_through_train_py(run_name):
    res = run('train.py', '--opt', REPO_ROOT / 'options/train/train_FKP_x2.yml', '--set', f'name={run_name}',
              '--set', 'train.niter=60', '--set', 'train.val_freq=20', '--set', 'fkp.val_limit=200',
              '--set', 'datasets.train.batch_size=50', '--set', 'logger.print_freq=10',
              '--set', 'logger.save_checkpoint_freq=30', '--set', 'use_tb_logger=false')
    log = res.stderr
    nll = [float(v) for v in re.findall(r'nll: ([0-9.e+-]+)', log)]
    val = [float(v) for v in re.findall(r'# Validation at iter \d+ # log_likelihood: ([0-9.e+-]+)', log)]
    assert len(nll) == 6 and len(val) == 3, log[-2000:]
    assert val[-1] > val[0] + 10, val                      # measured: -214, -190, -187 (x2, 200 kernels)
    assert np.mean(nll[-2:]) < np.mean(nll[:2]), nll
    models = REPO_ROOT / 'results' / run_name / 'models'
    data = validation_data(2, seed=0, limit=200)           # what validate() scored (manual_seed 0)
    for name in ('latest_G.pth', 'best_G.pth', '30_G.pth'):
        prior = load_kernel_prior(models / name, scale=2)  # strict key match, released layout
        assert prior.k == 11 and float(prior.normalization) == pytest.approx(0.2335)
    latest = load_kernel_prior(models / 'latest_G.pth', scale=2)
    assert validation_log_likelihood(latest, data) == pytest.approx(val[-1], abs=0.01)
    best = load_kernel_prior(models / 'best_G.pth', scale=2)
    assert validation_log_likelihood(best, data) == pytest.approx(max(val), abs=0.01)


def test_kernel_dataset_is_seeded_per_index():
    opt = {'name': 'k', 'mode': 'kernels', 'scale': 4, 'phase': 'train'}
    ds = SeededSamples(build_dataset(opt), seed=3)
    assert len(ds) == EPOCH_KERNELS
    a = ds[7]['flow_data']
    assert a.shape == (361,) and a.dtype == torch.float32
    assert torch.equal(ds[7]['flow_data'], a) and not torch.equal(ds[8]['flow_data'], a)
    ds.set_epoch(1)
    assert not torch.equal(ds[7]['flow_data'], a)          # a new epoch draws new kernels
    val = KernelDataset(dict(opt, phase='val'), val_limit=50)
    assert len(val) == 50 and torch.equal(val[3]['flow_data'], validation_data(4, limit=50)[3])


# ----------------------------------------------------------------------------- DIP-FKP
@pytest.fixture
def fkp_test_crop(shared, tmp_path):
    """FKP_Test's LR cut to its central 32x32, with the matching 128x128 HR and the true kernel."""
    root = shared('datasets/FKP_Test')
    lr = np.array(Image.open(root / 'DIPFKP_lr_x4/102061.png').convert('RGB'))
    hr = np.array(Image.open(root / 'HR/102061.png').convert('RGB'))
    t, left = lr.shape[0] // 2 - 16, lr.shape[1] // 2 - 16
    out = tmp_path / 'FKP_crop'
    save_rgb(out / 'DIPFKP_lr_x4/102061.png', lr[t:t + 32, left:left + 32])
    save_rgb(out / 'HR/102061.png', hr[4 * t:4 * t + 128, 4 * left:4 * left + 128])
    (out / 'DIPFKP_gt_k_x4').mkdir()
    shutil.copy(root / 'DIPFKP_gt_k_x4/102061.mat', out / 'DIPFKP_gt_k_x4/102061.mat')
    return out


def test_dipfkp_through_test_py(shared, fkp_test_crop, run_name):
    golden = np.load(shared('golden/fkp/dip_fkp_short.npz'))
    run('test.py', '--opt', REPO_ROOT / 'options/test/test_DIPFKP_x4.yml', '--set', f'name={run_name}',
        '--set', f'datasets.test_1.dataroot_GT={fkp_test_crop / "HR"}',
        '--set', f'datasets.test_1.dataroot_LQ={fkp_test_crop / "DIPFKP_lr_x4"}',
        # at most 3 iterations; early stopping that can never see an improvement stops it after 2
        '--set', 'dipfkp.max_iters=3', '--set', 'dipfkp.early_stop_patience=1',
        '--set', 'dipfkp.early_stop_min_delta=1.0', '--set', 'dipfkp.early_stop_start=1')
    folder = REPO_ROOT / 'results' / run_name / 'FKP_Test'
    sr = np.array(Image.open(folder / '102061.png'))
    assert sr.shape == (128, 128, 3)
    assert np.array(Image.open(folder / 'dip' / '102061.png')).shape == (128, 128, 3)
    assert (folder / 'kernels' / '102061.png').is_file()
    kernel = sio.loadmat(folder / 'kernels' / '102061.mat')['Kernel']
    assert kernel.shape == (19, 19) and kernel.dtype == np.float32
    # the latent is frozen until iteration 77: the kernel is the authors' projected initial one
    np.testing.assert_allclose(kernel, golden['estimated_kernel'], atol=1e-6)
    row = read_csv(folder / 'metrics.csv')['102061']
    assert float(row['psnr_k']) == pytest.approx(float(golden['kernel_psnr']), abs=1e-3)   # 44.931 dB
    assert float(row['iterations']) == 2
    assert 12 < float(row['psnr_y']) < 20                 # measured 14.5 dB (USRNet, the initial kernel)
    assert float(row['lr_psnr_y']) > 25                   # measured 30.0 dB (HR re-blurred by the estimate)
    assert float(row['psnr_y_dip']) < float(row['psnr_y'])   # 2 DIP iterations are far from an image
    history = list(csv.DictReader(open(folder / 'dip' / '102061_history.csv')))
    assert [int(r['iteration']) for r in history] == [1, 2]
    assert float(history[-1]['psnr_k']) == pytest.approx(float(row['psnr_k']), abs=1e-3)
    assert float(history[0]['lr_mse']) > 0 and float(history[0]['loss']) > 0


@pytest.mark.parametrize('scale', [2, 3])
def test_dipfkp_x2_x3_option_files_run(shared, tmp_path, run_name, scale):
    """test_DIPFKP_x{2,3}.yml on a set built by prepare_testset.py --protocol dipfkp (2 iterations)."""
    shared(f'pretrained_models/official/FKP_x{scale}.pt')
    hr = np.array(Image.open(REPO_ROOT / 'datasets/Set5/HR/baby.png').convert('RGB'))[200:272, 200:272]
    save_rgb(tmp_path / 'crop' / 'HR' / 'baby.png', hr)
    data = tmp_path / 'data'
    run('prepare_testset.py', '--opt', REPO_ROOT / 'options/test/prepare_testset_fkp.yml', '--protocol', 'dipfkp',
        '--scales', scale, '--output', data, '--set', f'datasets.test1.dataroot_GT={tmp_path / "crop" / "HR"}',
        '--set', 'datasets.test2=null', '--set', 'datasets.test3=null', '--set', 'datasets.test4=null')
    run('test.py', '--opt', REPO_ROOT / f'options/test/test_DIPFKP_x{scale}.yml', '--set', f'name={run_name}',
        '--set', f'datasets.test_1.dataroot_GT={data / "crop" / "HR"}',
        '--set', f'datasets.test_1.dataroot_LQ={data / "crop" / f"DIPFKP_lr_x{scale}"}',
        '--set', 'dipfkp.max_iters=2')
    folder = REPO_ROOT / 'results' / run_name / 'Set5'
    assert np.array(Image.open(folder / 'baby.png')).shape == (72, 72, 3)
    kernel = sio.loadmat(folder / 'kernels' / 'baby.mat')['Kernel']
    assert kernel.shape == (4 * scale + 3,) * 2 and 0.9 < kernel.sum() < 1.1     # FKP's kernels sum to ~1
    row = read_csv(folder / 'metrics.csv')['baby']
    assert float(row['iterations']) == 2 and float(row['psnr_k']) > 30


def test_dipfkp_rejects_bad_options(shared):
    path = REPO_ROOT / 'options/test/test_DIPFKP_x4.yml'
    opt = load_options(path, is_train=False, overrides=['kernel_size=21'])
    with pytest.raises(ValueError, match='set kernel_size: 19'):
        MODELS.get('dipfkp')(opt, torch.device('cpu'))
    opt = load_options(path, is_train=False, overrides=['path.pretrain_model_K=' +
                                                       str(shared('pretrained_models/official/FKP_x2.pt'))])
    with pytest.raises(ValueError, match='does not match scale x4'):
        MODELS.get('dipfkp')(opt, torch.device('cpu'))


# ----------------------------------------------------------------------------- KernelGAN-FKP
def test_kernelganfkp_through_test_py(shared, tmp_path, run_name):
    """prepare_testset.py --protocol kernelganfkp on a crop of barbara, then test.py at x4."""
    hr = np.array(Image.open(shared('datasets/Set14/HR/barbara.png')).convert('RGB'))[100:444, 200:544]
    save_rgb(tmp_path / 'crop' / 'HR' / 'barbara.png', hr)                 # x4 LR: 86x86
    data = tmp_path / 'prepared'
    run('prepare_testset.py', '--opt', REPO_ROOT / 'options/test/prepare_testset_fkp.yml', '--protocol', 'kernelganfkp',
        '--scales', '4', '--output', data, '--set', f'datasets.test1.dataroot_GT={tmp_path / "crop" / "HR"}',
        '--set', 'datasets.test2=null', '--set', 'datasets.test3=null', '--set', 'datasets.test4=null')
    assert sorted(p.name for p in (data / 'crop').iterdir()) == ['HR', 'KernelGANFKP_gt_k_x4', 'KernelGANFKP_lr_x4']
    run('test.py', '--opt', REPO_ROOT / 'options/test/test_KernelGANFKP_x4.yml', '--set', f'name={run_name}',
        '--set', f'datasets.test_1.dataroot_GT={data / "crop" / "HR"}',
        '--set', f'datasets.test_1.dataroot_LQ={data / "crop" / "KernelGANFKP_lr_x4"}',
        '--set', 'kernelganfkp.iterations=3', '--set', 'kernelganfkp.batch_size=8')
    folder = REPO_ROOT / 'results' / run_name / 'Sun_Hays80'
    assert np.array(Image.open(folder / 'barbara.png')).shape == (344, 344, 3)
    kernel = sio.loadmat(folder / 'kernels' / 'barbara.mat')['Kernel']
    assert kernel.shape == (21, 21) and 0.98 < kernel.sum() < 1.08     # analytic x4 kernel of the x2 one
    row = read_csv(folder / 'metrics.csv')['barbara']
    truth = load_kernel_mat(data / 'crop' / 'KernelGANFKP_gt_k_x4' / 'barbara.mat')
    ref = 20 * np.log10(1 / np.sqrt(np.mean((kernel.astype(np.float64) - truth) ** 2)))   # FKP's kernel PSNR
    assert float(row['psnr_k']) == pytest.approx(ref, abs=1e-4)
    assert ref > 60                                       # measured 77.7 dB after 3 iterations
    assert 20 < float(row['psnr_y']) < 35                 # measured 25.1 dB


def test_kernelganfkp_x2_options_build(shared):
    shared('pretrained_models/official/FKP_x2.pt')
    opt = load_options(REPO_ROOT / 'options/test/test_KernelGANFKP_x2.yml', is_train=False)
    model = MODELS.get('kernelganfkp')(opt, torch.device('cpu'))
    assert model.prior.k == 11 and model.kernel_side() == 11 and model.settings['iterations'] == 1000
    with pytest.raises(ValueError, match='x2 and x4'):
        MODELS.get('kernelganfkp')(load_options(REPO_ROOT / 'options/test/test_KernelGANFKP_x2.yml', is_train=False,
                                                overrides=['scale=3']), torch.device('cpu'))


# ----------------------------------------------------------------------------- data layout
@pytest.fixture
def hr_set(tmp_path):
    rng = np.random.RandomState(0)
    for name, size in (('b', (50, 42)), ('a', (37, 45))):
        save_rgb(tmp_path / 'Toy' / 'HR' / f'{name}.png', rng.randint(0, 256, size + (3,), dtype=np.uint8))
    return tmp_path / 'Toy' / 'HR'


def _prepare_opt(hr_dir):
    return {'datasets': {'test1': {'name': 'Toy', 'mode': 'GT', 'dataroot_GT': str(hr_dir)}}}


def test_fkp_protocol_layout(hr_set, tmp_path):
    out = tmp_path / 'out'
    summary = prepare_fkp_testsets(_prepare_opt(hr_set), out, 'dipfkp', scales=[2, 4])
    assert summary.written == 2 + 2 * 4 and summary.kept == 0
    root = out / 'Toy'
    assert sorted(p.name for p in root.iterdir()) == ['DIPFKP_gt_k_x2', 'DIPFKP_gt_k_x4', 'DIPFKP_lr_x2',
                                                     'DIPFKP_lr_x4', 'HR']
    assert sorted(p.name for p in (root / 'HR').iterdir()) == ['a.png', 'b.png']
    # the same pixels and kernels as the FKP data preparation run in place
    prepare_dipfkp_testset(hr_set.parent, 4, seed=1)
    for name in ('a', 'b'):
        ours = load_kernel_mat(root / 'DIPFKP_gt_k_x4' / f'{name}.mat')
        assert ours.shape == (19, 19) and ours.dtype == np.float64
        np.testing.assert_array_equal(ours, load_kernel_mat(hr_set.parent / 'DIPFKP_gt_k_x4' / f'{name}.mat'))
        lr = Image.open(root / 'DIPFKP_lr_x4' / f'{name}.png')
        assert lr.mode == 'RGBA'
        np.testing.assert_array_equal(np.array(lr), np.array(Image.open(hr_set.parent / 'DIPFKP_lr_x4' / f'{name}.png')))
    # existing files are kept unless overwrite
    (root / 'DIPFKP_lr_x4' / 'a.png').write_bytes(b'mine')
    again = prepare_fkp_testsets(_prepare_opt(hr_set), out, 'dipfkp', scales=[4])
    assert again.written == 0 and again.kept == 2 + 4
    assert (root / 'DIPFKP_lr_x4' / 'a.png').read_bytes() == b'mine'
    prepare_fkp_testsets(_prepare_opt(hr_set), out, 'dipfkp', scales=[4], overwrite=True)
    assert Image.open(root / 'DIPFKP_lr_x4' / 'a.png').size == (11, 9)          # 45x37 mod-cropped / 4
    assert not [p for p in out.iterdir() if p.name.startswith('.')]               # no temporary folder left
    with pytest.raises(ValueError, match='not 3'):
        prepare_fkp_testsets(_prepare_opt(hr_set), out, 'kernelganfkp', scales=[3])
    kg = prepare_fkp_testsets(_prepare_opt(hr_set), out, 'kernelganfkp')
    assert kg.written == 2 * 4
    assert load_kernel_mat(root / 'KernelGANFKP_gt_k_x2' / 'a.mat').shape == (11, 11)
    assert load_kernel_mat(root / 'KernelGANFKP_gt_k_x4' / 'a.mat').shape == (21, 21)


@pytest.mark.parametrize('mode', ['LQ', 'GTLQ'])
def test_datasets_read_fkp_mat_kernels(hr_set, tmp_path, mode):
    prepare_fkp_testsets(_prepare_opt(hr_set), tmp_path / 'out', 'dipfkp', scales=[2])
    root = tmp_path / 'out' / 'Toy'
    ds = build_dataset({'name': 't', 'mode': mode, 'phase': 'test', 'scale': 2,
                        'dataroot_GT': str(root / 'HR') if mode == 'GTLQ' else None,
                        'dataroot_LQ': str(root / 'DIPFKP_lr_x2')})
    item = ds[0]
    assert item['LQ'].shape == (3, 18, 22)
    truth = load_kernel_mat(root / 'DIPFKP_gt_k_x2' / 'a.mat')
    assert item['kernel'].dtype == torch.float32
    np.testing.assert_allclose(item['kernel'].numpy(), truth, rtol=1e-6)
