"""The weights shipped in pretrained_models/: checksums, strict loading, a short forward."""
import hashlib

import pytest
import torch
import yaml

from blindsr.archs.build import build_network
from blindsr.utils.checkpoint_io import load_state_dict
from blindsr.utils.paths import REPO_ROOT

FOLDER = REPO_ROOT / 'pretrained_models'
SUMS = [line.split() for line in (FOLDER / 'SHA256SUMS').read_text().splitlines() if line.strip()]


@pytest.mark.parametrize('digest, name', SUMS, ids=[n for _, n in SUMS])
def test_checksum(digest, name):
    assert hashlib.sha256((FOLDER / name).read_bytes()).hexdigest() == digest
    if name.startswith(NETWORKS):  # the README's table gives the same digest
        assert f'`{digest}`' in (FOLDER / 'README.md').read_text(), f'{name}: README.md has another sha256'


NETWORKS = ('MANet_s', 'KULNet')
WEIGHTS = [n for _, n in SUMS if n.startswith(NETWORKS)]
# the demo's toy average with the shipped code_norm stage 3 (measured 23.71 dB PSNR_Y, 37.77 dB LR-PSNR_Y)
TOY_PSNR_Y_MIN, TOY_LR_PSNR_Y_MIN = 23.3, 37.3
KULNET = 'KULNet_x4_SunHays80_cpu.pth'
# KULNet on toy1 with the kernel (3.5, 1.5, 30 degrees): measured 5.37 dB over bicubic, kernel PSNR 45.04 dB
KULNET_GAIN_MIN, KULNET_KPSNR_MIN = 4.5, 43.0


@pytest.mark.parametrize('name', WEIGHTS)
def test_loads_strictly_and_runs(name):
    record = yaml.safe_load((FOLDER / name).with_suffix('.yml').read_text())
    net = build_network(dict(record, pca_path=None)).eval()
    load_state_dict(net, FOLDER / name, strict=True)
    lr = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        if record['network_G']['which_model_G'] == 'MANet_s2':
            from blindsr.degradation.kernels import anisotropic_kernels
            kernel = anisotropic_kernels(torch.tensor([6.0]), torch.tensor([1.0]), torch.tensor([0.5]), scale=4)
            sr, field = net(lr, kernel)
        elif record['network_G']['which_model_G'] in ('KULNet', 'BlindNet'):
            sr, field, _, _ = net(lr, sample=False)      # field: one kernel per image (B, l, l)
        else:
            sr, field = net(lr)
    assert sr.shape == (1, 3, 64, 80) and torch.isfinite(sr).all()
    if field.dim() == 5:
        torch.testing.assert_close(field.sum((-1, -2)), torch.ones(1, 16, 20), atol=1e-5, rtol=0)
    if field.dim() == 3:    # KULNet's one kernel per image
        torch.testing.assert_close(field.sum((-1, -2)), torch.ones(1), atol=1e-5, rtol=0)


def test_main_command_stage3_demo(tmp_path):
    """The README's first command: blind SR of the toy images and a real photo with the shipped stage 3."""
    import csv
    import os
    import shutil
    import subprocess
    import sys

    from PIL import Image

    name = f'pytest_stage3_demo_{os.getpid()}'
    env = dict(os.environ, OMP_NUM_THREADS='2')
    try:
        res = subprocess.run([sys.executable, str(REPO_ROOT / 'codes/test.py'), '--opt',
                              str(REPO_ROOT / 'options/test/test_stage3_demo.yml'), '--set', f'name={name}'],
                             capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
        assert res.returncode == 0, res.stderr[-3000:]
        root = REPO_ROOT / 'results' / name
        toy = {r['image']: r for r in csv.DictReader(open(root / 'toy_dataset' / 'metrics.csv'))}
        assert Image.open(root / 'toy_dataset' / 'toy1.png').size == (256, 256)
        assert Image.open(root / 'historical' / 'img001.png').size == (640, 480)
        for folder, stem in (('toy_dataset', 'toy1'), ('toy_dataset', 'toy2'), ('historical', 'img001')):
            assert (root / folder / 'kernels' / f'{stem}.png').is_file()
        assert float(toy['average']['psnr_y']) > TOY_PSNR_Y_MIN
        assert float(toy['average']['lr_psnr_y']) > TOY_LR_PSNR_Y_MIN
    finally:
        shutil.rmtree(REPO_ROOT / 'results' / name, ignore_errors=True)


def test_shipped_kulnet_beats_bicubic_and_estimates_the_kernel():
    """The KULNet weights trained here, on a toy image blurred with one of the authors' nine test kernels."""
    from blindsr.archs.baselines_arch import Bicubic
    from blindsr.degradation.blur import blur_subsample
    from blindsr.degradation.kernels import anisotropic_kernels
    from blindsr.kulnet import KULNet
    from blindsr.metrics.kernel_metrics import kernel_psnr
    from blindsr.metrics.psnr_ssim import psnr_y
    from blindsr.utils.image_io import read_image

    net = KULNet(scale=4, sample_latent=False).eval()
    load_state_dict(net, FOLDER / KULNET, strict=True)
    hr = torch.from_numpy(read_image(REPO_ROOT / 'datasets/toy_dataset/HR_si/toy1.png')).permute(2, 0, 1)[None]
    kernel = anisotropic_kernels(3.5, 1.5, 30 / 180 * 3.14, scale=4)
    lr = blur_subsample(hr, kernel, 4).clamp(0, 1)
    with torch.no_grad():
        sr, est, _, _ = net(lr)
    bicubic = Bicubic(scale=4)(lr)

    gain = psnr_y(sr.clamp(0, 1), hr, crop=4) - psnr_y(bicubic, hr, crop=4)
    assert gain > KULNET_GAIN_MIN, gain
    assert kernel_psnr(est[0].numpy(), kernel[0].numpy()) > KULNET_KPSNR_MIN
