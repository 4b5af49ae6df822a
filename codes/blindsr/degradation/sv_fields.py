"""Spatially variant kernel fields (MANet Table 2, ``sv_mode`` 1-6), kept at LR resolution.

The authors make one kernel per square HR block (``block_size`` = 40 pixels, their
hard-coded ``divide_H/W``); parameters depend on the block index (h, w) among
(nH, nW) = (ceil(H / block_size), ceil(W / block_size)) blocks, with
a = (2.5 - 0.175) * scale and b = 0.175 * scale:

====  ========================  ==================  ===========================
mode  sig1 (variance)           sig2 (variance)     theta
====  ========================  ==================  ===========================
1     a + b                     a h / nH + b        0
2     a w / nW + b              a h / nH + b        0
3     a + b                     b                   pi h / nH
4     a w / nW + b              a h / nH + b        pi h / nH
5     U(b, a + b)               U(b, a + b)         U(0, pi)   (per block)
6     a + b                     b                   pi/4 or 3pi/4 (checkerboard)
====  ========================  ==================  ===========================

With probability ``rate_iso`` a block is instead isotropic with std ``sig``.

We only ever build one kernel per block and then gather the kernels of the pixels we
need: a field sampled with ``stride`` s has shape (B, ceil(H/s), ceil(W/s), l, l) and
``field[b, i, j]`` is the kernel of HR pixel (s*i, s*j). With ``stride = scale`` these are
exactly the pixels kept by ``[::s, ::s]`` (the project's convention); ``stride = 1`` gives
the full HR field, for tests on tiny images only.

Randomness (mode 5, and the iso/aniso coin when 0 < rate_iso < 1): a ``torch.Generator``
by default. Passing ``numpy_rng`` (a ``np.random.RandomState``) replays the authors'
numpy stream instead: per block, in row-major block order, ``uniform`` x3 (mode 5 only)
then one ``random()`` for the coin; ``RandomState(0)`` reproduces their
``np.random.seed(0)`` results.
"""
import math

import torch

from . import kernels as K
from ._random import rand

SV_MODES = (1, 2, 3, 4, 5, 6)


def block_grid(hr_size, block_size=40):
    """Number of HR blocks (nH, nW) for an image of size (H, W)."""
    H, W = hr_size
    return math.ceil(H / block_size), math.ceil(W / block_size)


def _block_draws(shape, per_block, generator, device, numpy_rng):
    if numpy_rng is not None:
        return torch.from_numpy(numpy_rng.random_sample(shape + (per_block,))).to(device)
    return rand(shape + (per_block,), generator=generator, device=device, dtype=torch.float64)


def sv_block_params(sv_mode, hr_size, scale, block_size=40, batch=1, sig=2.6, rate_iso=0.0,
                    generator=None, device='cpu', numpy_rng=None):
    """Per-block parameters: ``(sigma (B, nH, nW, 3) float64, iso (B, nH, nW) bool)``."""
    if sv_mode not in SV_MODES:
        raise ValueError(f'sv_mode must be one of {SV_MODES}, got {sv_mode!r}')
    nH, nW = block_grid(hr_size, block_size)
    shape = (batch, nH, nW)
    a = (2.5 - 0.175) * scale
    b = 0.175 * scale
    h = torch.arange(nH, dtype=torch.float64, device=device).view(1, nH, 1).expand(shape)
    w = torch.arange(nW, dtype=torch.float64, device=device).view(1, 1, nW).expand(shape)
    full = torch.full(shape, a + b, dtype=torch.float64, device=device)
    low = torch.full(shape, b, dtype=torch.float64, device=device)
    zero = torch.zeros(shape, dtype=torch.float64, device=device)

    coin = None
    if sv_mode == 5:
        u = _block_draws(shape, 4, generator, device, numpy_rng)
        span = (a + b) - b  # numpy's uniform(low, high) = low + (high - low) * u
        sig1, sig2, theta = b + span * u[..., 0], b + span * u[..., 1], math.pi * u[..., 2]
        coin = u[..., 3]
    else:
        sig1 = {1: full, 2: a * w / nW + b, 3: full, 4: a * w / nW + b, 6: full}[sv_mode]
        sig2 = {1: a * h / nH + b, 2: a * h / nH + b, 3: low, 4: a * h / nH + b, 6: low}[sv_mode]
        checker = torch.where((h + w) % 2 == 0, torch.full_like(h, math.pi / 4), torch.full_like(h, math.pi * 3 / 4))
        theta = {1: zero, 2: zero, 3: math.pi * (h / nH), 4: math.pi * (h / nH), 6: checker}[sv_mode]
        if numpy_rng is not None or 0 < rate_iso < 1:
            coin = _block_draws(shape, 1, generator, device, numpy_rng)[..., 0]
    if coin is None:
        coin = torch.full(shape, 0.0 if rate_iso >= 1 else 1.0, dtype=torch.float64, device=device)
    iso = coin < rate_iso
    aniso_rows = torch.stack([sig1, sig2, theta], dim=-1)
    iso_row = torch.tensor([sig, sig, 0.0], dtype=torch.float64, device=device)
    sigma = torch.where(iso.unsqueeze(-1), iso_row, aniso_rows)
    return sigma, iso


def sv_block_kernels(sv_mode, hr_size, scale, kernel_size=21, block_size=40, batch=1, sig=2.6, rate_iso=0.0,
                     generator=None, device='cpu', dtype=torch.float32, numpy_rng=None):
    """One kernel per HR block: ``(kernels (B, nH, nW, l, l), sigma (B, nH, nW, 3))``."""
    sigma, iso = sv_block_params(sv_mode, hr_size, scale, block_size, batch, sig, rate_iso, generator, device,
                                 numpy_rng)
    shape = sigma.shape[:3]
    kernels = K.kernels_from_params(sigma.reshape(-1, 3), iso.reshape(-1), scale, kernel_size, dtype)
    return kernels.view(*shape, kernel_size, kernel_size), sigma.to(dtype)


def sample_blocks(block_values, hr_size, block_size=40, stride=1):
    """Gather per-block values (B, nH, nW, ...) at HR pixels (stride*i, stride*j).

    Returns (B, ceil(H/stride), ceil(W/stride), ...).
    """
    H, W = hr_size
    device = block_values.device
    rows = torch.arange(0, H, stride, device=device) // block_size
    cols = torch.arange(0, W, stride, device=device) // block_size
    return block_values[:, rows[:, None], cols[None, :]]


def sv_kernel_field(sv_mode, hr_size, scale, kernel_size=21, block_size=40, batch=1, sig=2.6, rate_iso=0.0,
                    generator=None, device='cpu', dtype=torch.float32, numpy_rng=None, stride=None):
    """Spatially variant kernel field and its parameters.

    Returns ``(field (B, h, w, l, l), sigma (B, h, w, 3))`` with (h, w) = ceil((H, W) / stride);
    ``stride`` defaults to ``scale`` (LR resolution, the project's convention).
    """
    stride = scale if stride is None else stride
    kernels, sigma = sv_block_kernels(sv_mode, hr_size, scale, kernel_size, block_size, batch, sig, rate_iso,
                                      generator, device, dtype, numpy_rng)
    return (sample_blocks(kernels, hr_size, block_size, stride),
            sample_blocks(sigma, hr_size, block_size, stride))
