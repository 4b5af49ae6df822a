"""Image PSNR and SSIM as the MANet/KULNet/FKP papers report them.

Reported numbers use the Y channel (BT.601, float, not rounded) of the 8-bit result, with
``crop_border`` pixels (default in the test scripts: the scale) removed on every side.
All computations are float64; inputs are never modified.
"""
import math

import cv2
import numpy as np
import torch

from blindsr.metrics.color import bgr2ycbcr, rgb2ycbcr
from blindsr.utils.image_io import tensor2img

_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2


def _check_pair(img1, img2):
    img1 = np.asarray(img1)
    img2 = np.asarray(img2)
    if img1.shape != img2.shape:
        raise ValueError(f'images differ in shape: {img1.shape} vs {img2.shape}')
    return img1, img2


def crop_border(img, border):
    """Remove ``border`` pixels on each side of the two leading (H, W) axes (a view)."""
    if border < 0:
        raise ValueError(f'crop border must be >= 0, got {border}')
    if border == 0:
        return img
    h, w = img.shape[:2]
    if h <= 2 * border or w <= 2 * border:
        raise ValueError(f'crop border {border} leaves nothing of a {h}x{w} image')
    return img[border:-border, border:-border, ...]


def calculate_psnr(img1, img2, crop=0, max_value=255.0):
    """PSNR in dB of two same-shape arrays whose values span [0, ``max_value``]; inf if equal."""
    img1, img2 = _check_pair(img1, img2)
    a = crop_border(img1, crop).astype(np.float64)
    b = crop_border(img2, crop).astype(np.float64)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float('inf')
    return 20.0 * math.log10(max_value / math.sqrt(mse))


def _ssim_2d(a, b):
    """SSIM of two float64 HxW arrays in [0, 255]: 11x11 Gaussian (sigma 1.5), valid region."""
    if min(a.shape) < 11:
        raise ValueError(f'SSIM needs at least 11x11 pixels, got {a.shape[0]}x{a.shape[1]}')
    g = cv2.getGaussianKernel(11, 1.5)
    window = g @ g.T

    def filt(x):
        return cv2.filter2D(x, -1, window)[5:-5, 5:-5]

    mu_a, mu_b = filt(a), filt(b)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    var_a = filt(a * a) - mu_aa
    var_b = filt(b * b) - mu_bb
    cov = filt(a * b) - mu_ab
    ssim_map = ((2 * mu_ab + _SSIM_C1) * (2 * cov + _SSIM_C2)) / \
               ((mu_aa + mu_bb + _SSIM_C1) * (var_a + var_b + _SSIM_C2))
    return float(ssim_map.mean())


def calculate_ssim(img1, img2, crop=0):
    """SSIM of HxW or HxWxC arrays in [0, 255]; the mean over channels for 3 channels."""
    img1, img2 = _check_pair(img1, img2)
    a = crop_border(img1, crop).astype(np.float64)
    b = crop_border(img2, crop).astype(np.float64)
    if a.ndim == 3 and a.shape[2] == 1:
        a, b = a[:, :, 0], b[:, :, 0]
    if a.ndim == 2:
        return _ssim_2d(a, b)
    if a.ndim == 3:
        return float(np.mean([_ssim_2d(a[:, :, c], b[:, :, c]) for c in range(a.shape[2])]))
    raise ValueError(f'expected an HxW or HxWxC image, got shape {img1.shape}')


def to_y(img, input_order='bgr'):
    """Y channel (float64, in [0, 255], not rounded) of a colour image.

    ``img`` is a numpy HxWx3 array (``uint8`` or float in [0, 1]) in ``input_order``, or an
    RGB tensor (CxHxW or 1xCxHxW, [0, 1]) which is first quantised with :func:`tensor2img`
    exactly as the authors' test script does. A 1-channel/2-D image is taken as Y already.
    """
    if isinstance(img, torch.Tensor):
        img, input_order = tensor2img(img), 'bgr'
    img = np.asarray(img)
    if img.dtype == np.uint8:
        x = img.astype(np.float64) / 255.0
    elif img.dtype == np.uint16:
        x = img.astype(np.float64) / 65535.0
    else:
        x = img.astype(np.float64)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.ndim == 2:
        return x * 255.0
    if input_order == 'bgr':
        return bgr2ycbcr(x, only_y=True) * 255.0
    if input_order == 'rgb':
        return rgb2ycbcr(x, only_y=True) * 255.0
    raise ValueError(f"input_order must be 'rgb' or 'bgr', got {input_order!r}")


def psnr_y(img1, img2, crop=0, input_order='bgr'):
    """PSNR on the Y channel (see :func:`to_y` for accepted inputs), ``crop`` pixels removed."""
    return calculate_psnr(to_y(img1, input_order), to_y(img2, input_order), crop=crop)


def ssim_y(img1, img2, crop=0, input_order='bgr'):
    """SSIM on the Y channel (see :func:`to_y` for accepted inputs), ``crop`` pixels removed."""
    return calculate_ssim(to_y(img1, input_order), to_y(img2, input_order), crop=crop)


def lr_psnr_y(lr_redegraded, lr_clean, crop=0, input_order='bgr'):
    """LR-consistency PSNR: Y-PSNR between the HR re-degraded with the *estimated* kernel(s)
    and the clean LR. This is the kernel-quality measure usable for spatially variant kernels;
    the authors crop ``scale`` LR pixels. The re-degradation is the degradation module's job.
    """
    return psnr_y(lr_redegraded, lr_clean, crop=crop, input_order=input_order)


def lr_ssim_y(lr_redegraded, lr_clean, crop=0, input_order='bgr'):
    """SSIM counterpart of :func:`lr_psnr_y`."""
    return ssim_y(lr_redegraded, lr_clean, crop=crop, input_order=input_order)
