"""End-to-end: train.py / test.py with tiny networks on tiny crops, resume, DDP, bad input."""
import csv
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from blindsr.utils.paths import REPO_ROOT

PY = sys.executable
TRAIN = str(REPO_ROOT / 'codes' / 'train.py')
TEST = str(REPO_ROOT / 'codes' / 'test.py')

TRAIN_OPT = """
name: {name}
model: blind
scale: 4
gpu_ids: [0]
sig_min: 0.7
sig_max: 10.0
rate_iso: 0
sig1: 6
sig2: 1
theta: 0.5
pca_path: pretrained_models/pca_matrix_aniso21_15_x4.pth
datasets:
  train: {{name: toy, mode: GT, dataroot_GT: datasets/Set5/HR, GT_size: 48, batch_size: 4,
           use_flip: true, use_rot: true, n_workers: 0}}
  val: {{name: toy_val, mode: GT, dataroot_GT: {val_root}}}
network_G: {net}
path: {path}
train:
  lr_G: !!float {lr}
  lr_scheme: MultiStepLR
  lr_steps: [1000]
  niter: {niter}
  {loss}
  manual_seed: 0
  val_freq: {val_freq}
logger: {{print_freq: 1, save_checkpoint_freq: {save_freq}}}
"""

S1 = '{which_model_G: MANet_s1, in_nc: 3, manet_nf: 16, manet_nb: 1, split: 2}'
S2 = '{which_model_G: MANet_s2, in_nc: 3, out_nc: 3, nf: 8, nb: 1, gc: 4}'
S3 = '{which_model_G: MANet_s3, in_nc: 3, out_nc: 3, nf: 8, nb: 1, gc: 4, manet_nf: 16, manet_nb: 1, split: 2}'


@pytest.fixture
def run_name(request):
    """A unique run name; its results folder (and archives) are removed afterwards."""
    name = f'pytest_{re.sub(r"[^A-Za-z0-9]", "_", request.node.name)}_{os.getpid()}'
    yield name
    import shutil
    for p in (REPO_ROOT / 'results').glob(f'{name}*'):
        shutil.rmtree(p, ignore_errors=True)


def write_opt(tmp_path, name, net=S1, niter=20, loss='kernel_criterion: l1\n  kernel_weight: 1.0', lr='1e-3',
              val_freq=1000, save_freq=1000, path='{strict_load: true}', val_root='datasets/toy_dataset/HR_si',
              filename='opt.yml'):
    p = tmp_path / filename
    p.write_text(textwrap.dedent(TRAIN_OPT.format(name=name, net=net, niter=niter, loss=loss, lr=lr,
                                                  val_freq=val_freq, save_freq=save_freq, path=path,
                                                  val_root=val_root)))
    return p


def run(args, env=None, check=True):
    e = dict(os.environ, OMP_NUM_THREADS='1', **(env or {}))
    res = subprocess.run([PY] + args, capture_output=True, text=True, env=e, cwd='/')
    if check and res.returncode != 0:
        raise AssertionError(f'{args} failed ({res.returncode}):\n{res.stderr[-3000:]}')
    return res


def losses(stderr, key):
    return [float(v) for v in re.findall(rf'{key}: ([0-9.e+-]+)', stderr)]


def test_stage1_kernel_loss_goes_down(tmp_path, run_name):
    res = run([TRAIN, '--opt', str(write_opt(tmp_path, run_name, niter=20))])
    l_ker = losses(res.stderr, 'l_ker')
    assert len(l_ker) == 20
    assert np.mean(l_ker[-5:]) < 0.8 * np.mean(l_ker[:5]), l_ker
    root = REPO_ROOT / 'results' / run_name
    assert (root / 'models' / 'latest_G.pth').is_file()
    assert (root / 'options.yml').is_file()
    sd = torch.load(root / 'models' / 'latest_G.pth')
    assert all(k.startswith('kernel_estimation.') for k in sd)


def test_resume_gives_the_same_losses(tmp_path, run_name):
    full = run([TRAIN, '--opt', str(write_opt(tmp_path, run_name + 'a', niter=8, save_freq=4))])
    part_opt = write_opt(tmp_path, run_name + 'b', niter=8, save_freq=4, filename='b.yml')
    run([TRAIN, '--opt', str(part_opt), '--set', 'train.niter=4'])
    resumed = run([TRAIN, '--opt', str(part_opt), '--resume', 'auto'])
    ref = losses(full.stderr, 'l_ker')
    got = losses(resumed.stderr, 'l_ker')
    assert len(ref) == 8 and len(got) == 4
    np.testing.assert_allclose(got, ref[4:], rtol=1e-5)
    for suffix in ('a', 'b'):
        import shutil
        shutil.rmtree(REPO_ROOT / 'results' / (run_name + suffix), ignore_errors=True)


def test_stage2_and_stage3_smoke(tmp_path, run_name):
    s1 = run_name + '_s1'
    run([TRAIN, '--opt', str(write_opt(tmp_path, s1, niter=2, filename='s1.yml'))])
    s2 = run_name + '_s2'
    res = run([TRAIN, '--opt', str(write_opt(tmp_path, s2, net=S2, niter=3, val_freq=3, filename='s2.yml',
                                             loss='pixel_criterion: l1\n  pixel_weight: 1.0'))])
    assert len(losses(res.stderr, 'l_pix')) == 3
    assert 'psnr_y' in res.stderr
    path = (f'{{pretrain_model_K: results/{s1}/models/latest_G.pth, '
            f'pretrain_model_G: results/{s2}/models/latest_G.pth, strict_load: false}}')
    res = run([TRAIN, '--opt', str(write_opt(tmp_path, run_name, net=S3, niter=3, val_freq=3, path=path,
                                             filename='s3.yml', loss='pixel_criterion: l1\n  pixel_weight: 1.0'))])
    assert len(losses(res.stderr, 'l_pix')) == 3
    assert 'psnr_k' in res.stderr and 'lr_psnr_y' in res.stderr
    # the estimator stayed frozen in stage 3
    k1 = torch.load(REPO_ROOT / 'results' / s1 / 'models' / 'latest_G.pth')
    k3 = torch.load(REPO_ROOT / 'results' / run_name / 'models' / 'latest_G.pth')
    for k, v in k1.items():
        assert torch.equal(v, k3[k]), k
    for n in (s1, s2):
        import shutil
        shutil.rmtree(REPO_ROOT / 'results' / n, ignore_errors=True)


def test_ddp_two_processes(tmp_path, run_name):
    opt = write_opt(tmp_path, run_name, niter=3, save_freq=3)
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    res = run(['-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={port}', TRAIN,
               '--opt', str(opt), '--launcher', 'pytorch'])
    assert '2 processes' in res.stderr
    assert (REPO_ROOT / 'results' / run_name / 'training_state' / '3.state').is_file()


def test_test_py_gt_and_lq_modes(tmp_path, run_name):
    train_name = run_name + '_tr'
    run([TRAIN, '--opt', str(write_opt(tmp_path, train_name, niter=2, filename='tr.yml'))])
    test_opt = tmp_path / 'test.yml'
    test_opt.write_text(textwrap.dedent(f"""
        name: {run_name}
        model: blind
        scale: 4
        sig1: 6
        sig2: 1
        theta: 0.7853981633974483
        datasets:
          test_1: {{name: toy_gt, mode: GT, dataroot_GT: datasets/toy_dataset/HR_si}}
          test_2: {{name: toy_lq, mode: LQ, dataroot_LQ: datasets/toy_dataset/LR_mode0_noise0, scale: 4, kernel_size: 21}}
          test_3: {{name: toy_pairs, mode: GTLQ, dataroot_GT: datasets/toy_dataset/HR_si,
                    dataroot_LQ: datasets/toy_dataset/LR_mode0_noise0}}
        network_G: {S1}
        path: {{pretrain_model_G: results/{train_name}/models/latest_G.pth, strict_load: true}}
    """))
    run([TEST, '--opt', str(test_opt), '--save_kernel'])
    root = REPO_ROOT / 'results' / run_name
    rows = list(csv.DictReader(open(root / 'toy_gt' / 'metrics.csv')))
    assert [r['image'] for r in rows] == ['toy1', 'toy2', 'average']
    assert float(rows[0]['psnr_k']) > 20 and float(rows[0]['lr_psnr_y']) > 15
    npz = np.load(root / 'toy_gt' / 'npz' / 'toy1.npz')
    assert npz['est_ker_lr'].shape == (64, 64, 21, 21) and npz['gt_ker'].shape == (21, 21)
    np.testing.assert_allclose(npz['est_ker_lr'].sum((-1, -2)), 1, atol=1e-5)
    assert (root / 'toy_gt' / 'kernels' / 'toy1.png').is_file()
    # LQ mode (real LR): the stage-1 estimator gives kernels but no SR, so no metric
    assert (root / 'toy_lq' / 'kernels' / 'toy2.png').is_file()
    assert np.load(root / 'toy_lq' / 'npz' / 'toy2.npz')['est_ker_lr'].shape == (120, 120, 21, 21)
    # GTLQ pairs: the estimator runs on the given LR; no true kernel, so no kernel PSNR
    assert (root / 'toy_pairs' / 'npz' / 'toy1.npz').is_file()
    # spatially variant test kernels (mode 4): kernel PSNR is a real number against the true field
    sv_name = run_name + '_sv'
    run([TEST, '--opt', str(test_opt), '--save_kernel', '--set', 'sv_mode=4', '--set', f'name={sv_name}',
         '--set', 'sv_block_size=16', '--set', 'datasets.test_2=null', '--set', 'datasets.test_3=null'])
    sv_root = REPO_ROOT / 'results' / sv_name / 'toy_gt'
    rows = list(csv.DictReader(open(sv_root / 'metrics.csv')))
    assert 5 < float(rows[0]['psnr_k']) < 80 and float(rows[0]['lr_psnr_y']) > 15
    gt = np.load(sv_root / 'npz' / 'toy1.npz')['gt_ker']
    assert gt.shape == (64, 64, 21, 21)
    assert not np.allclose(gt[0, 0], gt[-1, -1])        # the field varies over the image
    import shutil
    for n in (train_name, sv_name):
        shutil.rmtree(REPO_ROOT / 'results' / n, ignore_errors=True)


@pytest.mark.parametrize('case, message', [
    ('missing_opt', 'option file not found'),
    ('typo', "unknown key 'train.nitr' (did you mean 'niter'?)"),
    ('empty_folder', 'no image files'),
    ('missing_ckpt', 'not found'),
    ('zero_print_freq', "'logger.print_freq' = 0 must be >= 1"),
    ('negative_niter', "'train.niter' = -5 must be >= 1"),
    ('corrupt_images', '2 of 9 dataset image file(s) cannot be read'),  # + 2 val images
])
def test_bad_input_one_line_error(tmp_path, run_name, case, message):
    args = [TRAIN, '--opt', str(write_opt(tmp_path, run_name))]
    if case == 'missing_opt':
        args = [TRAIN, '--opt', str(tmp_path / 'nope.yml')]
    elif case == 'typo':
        args += ['--set', 'train.nitr=3']
    elif case == 'empty_folder':
        (tmp_path / 'empty').mkdir()
        args += ['--set', f'datasets.train.dataroot_GT={tmp_path / "empty"}']
    elif case == 'missing_ckpt':
        args += ['--set', 'path.pretrain_model_G=results/none/none.pth']
    elif case == 'zero_print_freq':
        args += ['--set', 'logger.print_freq=0']
    elif case == 'negative_niter':
        args += ['--set', 'train.niter=-5']
    elif case == 'corrupt_images':      # Set5 (5 images) plus two bad files; found before any iteration
        import shutil
        folder = tmp_path / 'HR'
        shutil.copytree(REPO_ROOT / 'datasets' / 'Set5' / 'HR', folder)
        (folder / 'broken.png').write_bytes(b'garbage' * 10)
        (folder / 'empty.jpg').write_bytes(b'')
        args += ['--set', f'datasets.train.dataroot_GT={folder}']
    res = run(args, check=False)
    assert res.returncode == 2, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and message in last, res.stderr[-2000:]
    assert 'Traceback' not in res.stderr
    if case == 'corrupt_images':
        assert str(tmp_path / 'HR' / 'broken.png') in last and str(tmp_path / 'HR' / 'empty.jpg') in last
    if case in ('zero_print_freq', 'negative_niter', 'corrupt_images', 'empty_folder'):
        assert not (REPO_ROOT / 'results' / run_name).exists()


def test_lr_consistency_loss_tensorboard_and_checkpoint_pruning(tmp_path, run_name):
    # with spatially variant training fields: both losses take a true kernel field
    res = run([TRAIN, '--opt', str(write_opt(tmp_path, run_name, niter=4, save_freq=1)),
               '--set', 'train.pixel_criterion_lr=l1', '--set', 'train.pixel_weight_lr=1.0',
               '--set', 'train_sv_rate=1.0',
               '--set', 'use_tb_logger=true', '--set', 'logger.keep_checkpoints=2'])
    l_lr = losses(res.stderr, 'l_pix_lr')
    assert len(l_lr) == 4 and all(0 < v < 1 for v in l_lr)
    assert len(losses(res.stderr, 'l_ker')) == 4
    root = REPO_ROOT / 'results' / run_name
    assert sorted(p.name for p in (root / 'training_state').iterdir()) == ['3.state', '4.state']
    assert sorted(p.name for p in (root / 'models').glob('[0-9]*')) == ['3_G.pth', '3_G.yml', '4_G.pth', '4_G.yml']
    assert list((root / 'tb_logger').glob('events.out.tfevents.*'))


def test_test_py_records_an_unreadable_image_and_runs_the_rest(tmp_path, run_name):
    import shutil
    folder = tmp_path / 'HR'
    folder.mkdir()
    for n in ('toy1', 'toy2'):
        shutil.copy(REPO_ROOT / 'datasets' / 'toy_dataset' / 'HR_si' / f'{n}.png', folder / f'{n}.png')
    (folder / 'broken.png').write_bytes(b'\x00not a png at all' * 8)
    opt = tmp_path / 'test.yml'
    opt.write_text(textwrap.dedent(f"""
        name: {run_name}
        model: blind
        scale: 4
        datasets:
          test_1: {{name: toy_gt, mode: GT, dataroot_GT: {folder}}}
        network_G: {{which_model_G: Bicubic}}
        path: {{strict_load: true}}
    """))
    res = run([TEST, '--opt', str(opt)], check=False)
    assert res.returncode == 1, res.stderr[-3000:]
    assert 'Traceback' not in res.stderr
    rows = list(csv.DictReader(open(REPO_ROOT / 'results' / run_name / 'toy_gt' / 'metrics.csv')))
    assert [r['image'] for r in rows] == ['broken', 'toy1', 'toy2', 'average']
    assert [r['status'] for r in rows] == ['failed', 'ok', 'ok', '']
    assert 'cannot decode image' in rows[0]['reason'] and rows[0]['psnr_y'] == ''
    assert float(rows[1]['psnr_y']) > 15
    assert float(rows[3]['psnr_y']) == pytest.approx((float(rows[1]['psnr_y']) + float(rows[2]['psnr_y'])) / 2, abs=1e-5)
    assert '1 of 3 image(s) failed: broken' in res.stderr


@pytest.mark.parametrize('cpu_bf16', [False, True])
def test_amp_on_cpu_is_bf16_autocast_only_when_asked(cpu_bf16):
    """On CPU ``amp`` alone keeps fp32; with ``amp_cpu_bf16`` the training forward runs in bf16 (no grad scaler)
    and the steps still train."""
    from blindsr.options.loader import load_options
    from blindsr.registry import MODELS
    opt = load_options(REPO_ROOT / 'options/train/train_stage1_demo.yml', is_train=True,
                       overrides=['datasets.train.GT_size=32', 'datasets.train.batch_size=2', 'datasets.train.n_workers=0',
                                  'network_G.manet_nf=16', 'amp=true', f'amp_cpu_bf16={str(cpu_bf16).lower()}'])
    torch.manual_seed(0)
    model = MODELS.get(opt['model'])(opt, torch.device('cpu'))
    assert model.use_amp is cpu_bf16 and not model.scaler.is_enabled()
    dtypes = []
    conv = next(m for m in model.net.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda mod, args, out: dtypes.append(out.dtype))
    before = [p.detach().clone() for p in model.net.parameters()]
    gen = torch.Generator().manual_seed(0)
    for step in range(2):
        model.feed_data({'GT': torch.rand(2, 3, 32, 32)}, generator=gen, train=True)
        logs = model.optimize_parameters(step)
        assert all(np.isfinite(v) for v in logs.values())
    assert set(dtypes) == {torch.bfloat16 if cpu_bf16 else torch.float32}
    assert any((a - b).abs().max() > 0 for a, b in zip(before, model.net.parameters()))
