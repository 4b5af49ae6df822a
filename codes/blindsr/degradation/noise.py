"""Additive Gaussian noise and 8-bit quantisation of LR images, as the authors.

Noise levels are in 0..255 units (the option files' ``noise``/``noise_high``); the noisy
image is clamped to [0, 1] (their ``b_GaussianNoising``). Quantisation is
``(x * 255).round() / 255`` with no clamp (their ``SRMDPreprocessing``), so a clean LR
stays what the blur made it.
"""
import torch

from ._random import rand, randn


def random_noise_levels(batch, noise_high, rate_cln=0.0, generator=None, device='cpu'):
    """Training levels (B,) in 0..255 units: U(0, noise_high), zeroed with probability ``rate_cln``.

    The authors' training passes ``rate_cln=-1`` (never clean); it is kept for completeness.
    """
    u = rand((batch, 2), generator=generator, device=device)
    return u[:, 0] * noise_high * (u[:, 1] >= rate_cln).to(u.dtype)


def add_gaussian_noise(img, level, generator=None):
    """``clamp(img + N(0, 1) * level / 255, 0, 1)`` with ``level`` a number or (B,) tensor (0..255 units)."""
    B = img.shape[0]
    level = torch.as_tensor(level, dtype=img.dtype, device=img.device).reshape(-1)
    level = level.expand(B).view(B, *([1] * (img.dim() - 1))) / 255.0
    noise = randn(img.shape, generator=generator, device=img.device, dtype=img.dtype)
    return (img + noise * level).clamp(0.0, 1.0)


def quantize(img):
    """Round to 1/255 steps, no clamp: ``(img * 255).round() / 255``."""
    return (img * 255.0).round() / 255.0
