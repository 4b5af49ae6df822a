"""Test-set preparation for the FKP protocols (DIP-FKP and KernelGAN-FKP), as the authors did it.

Layout, for a dataset folder ``D`` holding ``D/HR/*.png``::

    D/DIPFKP_lr_x<s>/<name>.png        D/DIPFKP_gt_k_x<s>/<name>.mat        (key 'Kernel')
    D/KernelGANFKP_lr_x<s>/<name>.png  D/KernelGANFKP_gt_k_x<s>/<name>.mat  (s = 2 or 4)

Images are processed in sorted order from one RNG seeded once, so each image's kernel depends
on its position in the list (as in the authors' script).
"""
import logging
from pathlib import Path

import numpy as np
import torch

from blindsr.fkp.io import read_rgb, save_kernel_mat, save_png_like_imsave
from blindsr.fkp.kernels import eigenvalue_range, gen_kernel_random, kernelgan_x4_kernel
from blindsr.fkp.ops import blur_downsample

logger = logging.getLogger(__name__)

__all__ = ['degrade', 'modcrop', 'prepare_dipfkp_testset', 'prepare_kernelganfkp_testset', 'lr_to_gt_kernel_path',
           'lr_to_hr_path']


def modcrop(img, scale):
    """Crop (H, W, C) bottom/right to multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale]


def degrade(hr, kernel, scale, noise_im=0., rng=None):
    """HR float (H, W, 3) in [0, 1] -> LR float32 (H/s, W/s, 3): circular correlation, s-fold
    sub-sampling, Gaussian noise with std ~ U(0, noise_im) (both draws happen even for 0)."""
    x = torch.from_numpy(np.ascontiguousarray(hr, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    k = torch.from_numpy(np.asarray(kernel, dtype=np.float32))
    lr = blur_downsample(x, k, scale)[0].permute(1, 2, 0).numpy().copy()
    rng = np.random.default_rng() if rng is None else rng
    std = rng.uniform(0, noise_im)
    lr += rng.normal(0, std, lr.shape)
    return lr


def lr_to_gt_kernel_path(lr_path):
    """``.../X_lr_x4/a.png`` -> ``.../X_gt_k_x4/a.mat`` (the authors' path rule)."""
    lr_path = Path(lr_path)
    return lr_path.parent.parent / lr_path.parent.name.replace('lr_x', 'gt_k_x') / (lr_path.stem + '.mat')


def lr_to_hr_path(lr_path):
    lr_path = Path(lr_path)
    return lr_path.parent.parent / 'HR' / lr_path.name


def _prepare(dataset_dir, model, scale, make_kernel, noise_im, seed, out_dir):
    dataset_dir = Path(dataset_dir)
    out_dir = Path(out_dir) if out_dir is not None else dataset_dir
    lr_dir, k_dir = out_dir / f'{model}_lr_x{scale}', out_dir / f'{model}_gt_k_x{scale}'
    files = sorted((dataset_dir / 'HR').glob('*.png'))
    if not files:
        raise FileNotFoundError(f'no HR/*.png under {dataset_dir}')
    rng = np.random.RandomState(seed)
    written = []
    for path in files:
        hr = modcrop(read_rgb(path).astype(np.float32) / 255., scale)
        kernel = make_kernel(rng)
        lr = degrade(hr, kernel, scale, noise_im, rng)
        save_kernel_mat(k_dir / f'{path.stem}.mat', kernel)
        save_png_like_imsave(lr_dir / f'{path.stem}.png', lr)
        written.append(lr_dir / f'{path.stem}.png')
        logger.info('%s -> %s', path.name, lr_dir.name)
    return written


def prepare_dipfkp_testset(dataset_dir, scale, noise_ker=0., noise_im=0., seed=1, out_dir=None):
    """DIP-FKP data: k = min(4s+3, 21) kernels from FKP's training distribution. Returns LR paths."""
    k = min(4 * scale + 3, 21)
    low, high = eigenvalue_range(scale)
    return _prepare(dataset_dir, 'DIPFKP', scale,
                    lambda rng: gen_kernel_random(k, scale, low, high, noise_ker, rng), noise_im, seed, out_dir)


def prepare_kernelganfkp_testset(dataset_dir, scale, noise_ker=0., noise_im=0., seed=1, out_dir=None):
    """KernelGAN-FKP data: 11x11 x2-centred kernels, eigenvalues in [0.35, 5]; for x4 the x2
    kernel becomes the 21x21 analytic x4 kernel (re-centred). x3 is not part of the protocol."""
    if scale not in (2, 4):
        raise ValueError(f'KernelGAN-FKP supports x2 and x4 only, got x{scale}')

    def make(rng):
        k2 = gen_kernel_random(11, 2, 0.35, 5.0, noise_ker, rng)
        return kernelgan_x4_kernel(k2) if scale == 4 else k2

    return _prepare(dataset_dir, 'KernelGANFKP', scale, make, noise_im, seed, out_dir)
