"""Kernel accuracy: PSNR (peak 1.0), MNC, and PSNR averaged over a spatially variant field.

The authors' test script reports PSNR_K = inf for spatially variant kernels (a shape mismatch
makes it compare the estimate with itself); :func:`kernel_field_psnr` gives the real value.
"""
import math

import numpy as np
import torch


def _as_float64(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _pair(est, gt):
    est, gt = _as_float64(est), _as_float64(gt)
    if est.shape != gt.shape:
        raise ValueError(f'kernels differ in shape: estimated {est.shape} vs true {gt.shape}')
    return est, gt


def _crop(k, border):
    if border < 0:
        raise ValueError(f'border must be >= 0, got {border}')
    if border == 0:
        return k
    if min(k.shape[-2:]) <= 2 * border:
        raise ValueError(f'border {border} leaves nothing of a {k.shape[-2:]} kernel')
    return k[..., border:-border, border:-border]


def kernel_psnr(est, gt, border=0):
    """20 log10(1 / RMSE) between two kernels of the same shape (inf if equal).

    ``border`` removes that many entries on each side of the last two axes first.
    """
    est, gt = _pair(est, gt)
    mse = np.mean((_crop(est, border) - _crop(gt, border)) ** 2)
    if mse == 0:
        return float('inf')
    return 20.0 * math.log10(1.0 / math.sqrt(mse))


def kernel_mnc(est, gt):
    """Maximum normalised correlation at zero shift: <est, gt> / (|est| |gt|)."""
    est, gt = _pair(est, gt)
    denom = math.sqrt(np.sum(est * est)) * math.sqrt(np.sum(gt * gt))
    if denom == 0:
        raise ValueError('kernel_mnc: a kernel is all zeros')
    return float(np.sum(est * gt) / denom)


def _repeated_kernel(x):
    """The one kernel of a field that repeats it by broadcasting (zero strides over positions),
    else None."""
    strides = x.stride() if isinstance(x, torch.Tensor) else np.asarray(x).strides
    if len(strides) >= 3 and all(s == 0 for s in strides[:-2]):
        return x[(0,) * (len(strides) - 2)]
    return None


def kernel_field_psnr(est, gt, border=0):
    """Mean over positions of the per-position kernel PSNR of two fields (..., l, l).

    Typical shapes: (h, w, l, l) or the models' (1, h*w, l, l). A position whose kernels are
    identical has infinite PSNR, which makes the mean infinite. Two fields that each repeat one
    kernel (expanded views) are compared once, without copying them h*w times.
    """
    one_est, one_gt = _repeated_kernel(est), _repeated_kernel(gt)
    if one_est is not None and one_gt is not None and tuple(est.shape) == tuple(gt.shape):
        est, gt = one_est[None], one_gt[None]
    est, gt = _pair(est, gt)
    if est.ndim < 3:
        raise ValueError(f'expected a kernel field (..., l, l), got shape {est.shape}')
    diff = _crop(est, border) - _crop(gt, border)
    mse = np.mean(diff.reshape(-1, diff.shape[-2] * diff.shape[-1]) ** 2, axis=1)
    with np.errstate(divide='ignore'):
        psnr = -10.0 * np.log10(mse)             # = 20 log10(1 / sqrt(mse))
    return float(np.mean(psnr))
