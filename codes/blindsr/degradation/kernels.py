"""Gaussian blur kernels with the MANet authors' conventions, batched in torch.

Conventions (all needed to reuse the authors' weights and test sets, see
``shared/golden/manet/README.md`` quirks 2, 3 and 8):

* anisotropic parameters ``(sig1, sig2, theta)``: ``sig1``/``sig2`` are the *variances*
  along the rotated axes (eigenvalues of the covariance), ``theta`` the rotation;
* an isotropic kernel takes a *standard deviation* ``sig``; its parameter row is
  reported as ``(sig, sig, 0)`` like the authors do;
* the Gaussian is evaluated on a grid of side ``g = kernel_size - scale + 1`` centred at
  ``(g - 1) / 2``; the grid's first coordinate is the *column* offset (their
  ``mgrid``/``dstack`` order), which decides the sign of the rotation;
* values below ``eps * max`` (float64 eps) are zeroed, the kernel is normalised to sum 1,
  and placed in the *top-left* ``g x g`` corner of a ``kernel_size`` square of zeros
  (centroid ``(kernel_size - scale) / 2``, not the centre).

Kernels are computed in float64 (they are tiny) and returned in ``dtype``.
"""
import math

import numpy as np
import torch

from . import _random

EPS = float(np.finfo(np.float64).eps)  # the authors' cut-off factor, whatever the output dtype


def gaussian_grid(sig1, sig2, theta, size):
    """Anisotropic Gaussians on a ``size x size`` grid, shape (N, size, size), float64.

    ``sig1``, ``sig2`` (variances, > 0) and ``theta`` are 1-D tensors of length N; the
    device is theirs.
    """
    sig1, sig2, theta = (torch.as_tensor(t).to(torch.float64).reshape(-1) for t in (sig1, sig2, theta))
    device = sig1.device
    cos, sin = torch.cos(theta), torch.sin(theta)
    c11 = sig1 * cos ** 2 + sig2 * sin ** 2
    c22 = sig1 * sin ** 2 + sig2 * cos ** 2
    c21 = (sig1 - sig2) * cos * sin
    det = c11 * c22 - c21 ** 2
    offs = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2.0
    r = offs.view(1, size, 1)   # row offset
    u = offs.view(1, size, 1).transpose(1, 2)  # column offset: the first coordinate of the authors' pdf
    inv11, inv22, inv12 = (c22 / det).view(-1, 1, 1), (c11 / det).view(-1, 1, 1), (-c21 / det).view(-1, 1, 1)
    q = inv11 * u * u + 2 * inv12 * u * r + inv22 * r * r
    # exp(-(q - q_min) / 2): same kernel after normalisation, max exactly 1, never underflows.
    logk = -0.5 * (q - q.amin(dim=(1, 2), keepdim=True))
    k = torch.exp(logk)
    k = torch.where(k < EPS, torch.zeros_like(k), k)
    return k / k.sum(dim=(1, 2), keepdim=True)


def grid_size(kernel_size, scale):
    """Side of the evaluated grid: ``kernel_size - scale + 1`` (the authors' shift)."""
    g = kernel_size - scale + 1
    if g < 1:
        raise ValueError(f'kernel_size={kernel_size} is too small for scale={scale}')
    return g


def kernels_from_params(sigma, iso, scale, kernel_size=21, dtype=torch.float32):
    """Kernels (N, l, l) from parameter rows ``sigma`` (N, 3) and an isotropic mask ``iso`` (N,).

    Isotropic rows are ``(std, std, 0)``; anisotropic rows ``(var1, var2, theta)``.
    """
    sigma = torch.as_tensor(sigma).to(torch.float64).reshape(-1, 3)
    iso = torch.as_tensor(iso, device=sigma.device).to(torch.bool).reshape(-1)
    var1 = torch.where(iso, sigma[:, 0] ** 2, sigma[:, 0])
    var2 = torch.where(iso, sigma[:, 1] ** 2, sigma[:, 1])
    theta = torch.where(iso, torch.zeros_like(sigma[:, 2]), sigma[:, 2])
    g = grid_size(kernel_size, scale)
    out = sigma.new_zeros((sigma.shape[0], kernel_size, kernel_size))
    out[:, :g, :g] = gaussian_grid(var1, var2, theta, g)
    return out.to(dtype)


def anisotropic_kernels(sig1, sig2, theta, scale, kernel_size=21, dtype=torch.float32):
    """Shifted anisotropic kernels (N, l, l); ``sig1``, ``sig2`` are variances."""
    sig1 = torch.as_tensor(sig1, dtype=torch.float64).reshape(-1)
    sig2, theta = (torch.as_tensor(t, dtype=torch.float64, device=sig1.device).reshape(-1).expand_as(sig1)
                   for t in (sig2, theta))
    sigma = torch.stack([sig1, sig2, theta], dim=1)
    return kernels_from_params(sigma, torch.zeros_like(sig1, dtype=torch.bool), scale, kernel_size, dtype)


def isotropic_kernels(sig, scale, kernel_size=21, dtype=torch.float32):
    """Shifted isotropic kernels (N, l, l); ``sig`` is a standard deviation."""
    sig = torch.as_tensor(sig, dtype=torch.float64).reshape(-1)
    sigma = torch.stack([sig, sig, torch.zeros_like(sig)], dim=1)
    return kernels_from_params(sigma, torch.ones_like(sig, dtype=torch.bool), scale, kernel_size, dtype)


def _uniforms(shape, generator, device, numpy_rng):
    """float64 U[0, 1): from ``numpy_rng`` (the authors' stream, C order) or torch."""
    if numpy_rng is not None:
        return torch.from_numpy(numpy_rng.random_sample(shape)).to(device)
    return _random.rand(shape, generator=generator, device=device, dtype=torch.float64)


def _numpy_random_draws(batch, rate_iso, numpy_rng):
    """Authors' draw order per kernel: coin, then 1 (iso) or 3 (aniso) numbers.

    Returns (batch, 4) [coin, u1, u2, u3] (u2, u3 unused for isotropic rows).
    """
    if rate_iso <= 0 or rate_iso >= 1:  # the coin is decided: a fixed number of draws per kernel
        n = 2 if rate_iso >= 1 else 4
        u = numpy_rng.random_sample((batch, n))
        return np.concatenate([u, np.zeros((batch, 4 - n))], axis=1)
    rows = np.zeros((batch, 4))
    for i in range(batch):  # variable draw count: sequential by nature (numbers only, no kernels)
        rows[i, 0] = numpy_rng.random_sample()
        n = 1 if rows[i, 0] < rate_iso else 3
        rows[i, 1:1 + n] = numpy_rng.random_sample(n)
    return rows


def random_kernel_params(batch, sig_min, sig_max, rate_iso=0.0, generator=None, device='cpu',
                         numpy_rng=None):
    """Training kernel parameters: ``(sigma (B, 3) float64, iso (B,) bool)``.

    Anisotropic: sig1 ~ U(sig_min, sig_max), sig2 ~ U(sig_min, sig1), theta ~ U(0, pi)
    (variances). Isotropic (probability ``rate_iso``): std ~ U(sig_min, sig_max).
    ``numpy_rng`` (a ``np.random.RandomState``) replays the authors' numpy stream instead.
    """
    if numpy_rng is not None:
        u = torch.from_numpy(_numpy_random_draws(batch, rate_iso, numpy_rng)).to(device)
    else:
        u = _random.rand((batch, 4), generator=generator, device=device, dtype=torch.float64)
    iso = u[:, 0] < rate_iso
    span = sig_max - sig_min
    sig1 = sig_min + span * u[:, 1]
    sig2 = sig_min + (sig1 - sig_min) * u[:, 2]
    theta = math.pi * u[:, 3]
    iso_sig = u[:, 1] * span + sig_min
    sigma = torch.where(iso.unsqueeze(1), torch.stack([iso_sig, iso_sig, torch.zeros_like(iso_sig)], 1),
                        torch.stack([sig1, sig2, theta], 1))
    return sigma, iso


def fixed_kernel_params(batch, sig=2.6, sig1=2.6, sig2=2.6, theta=0.0, rate_iso=0.0, generator=None,
                        device='cpu', numpy_rng=None):
    """Test kernel parameters ``(sigma (B, 3) float64, iso (B,) bool)``.

    Each row is isotropic ``(sig, sig, 0)`` with probability ``rate_iso`` (a coin per
    kernel, as the authors), else ``(sig1, sig2, theta)``.
    """
    if 0 < rate_iso < 1 or numpy_rng is not None:
        coin = _uniforms((batch,), generator, device, numpy_rng)
    else:
        coin = torch.zeros(batch, dtype=torch.float64, device=device)
    iso = coin < rate_iso
    iso_row = torch.tensor([sig, sig, 0.0], dtype=torch.float64, device=device)
    aniso_row = torch.tensor([sig1, sig2, theta], dtype=torch.float64, device=device)
    sigma = torch.where(iso.unsqueeze(1), iso_row, aniso_row)
    return sigma, iso


def random_kernels(batch, scale, kernel_size=21, sig_min=0.7, sig_max=10.0, rate_iso=0.0, generator=None,
                   device='cpu', dtype=torch.float32, numpy_rng=None):
    """Random training kernels: ``(kernels (B, l, l), sigma (B, 3))`` in ``dtype``."""
    sigma, iso = random_kernel_params(batch, sig_min, sig_max, rate_iso, generator, device, numpy_rng)
    return kernels_from_params(sigma, iso, scale, kernel_size, dtype), sigma.to(dtype)


def fixed_kernels(batch, scale, kernel_size=21, sig=2.6, sig1=2.6, sig2=2.6, theta=0.0, rate_iso=0.0,
                  generator=None, device='cpu', dtype=torch.float32, numpy_rng=None):
    """Fixed test kernels: ``(kernels (B, l, l), sigma (B, 3))`` in ``dtype``."""
    sigma, iso = fixed_kernel_params(batch, sig, sig1, sig2, theta, rate_iso, generator, device, numpy_rng)
    return kernels_from_params(sigma, iso, scale, kernel_size, dtype), sigma.to(dtype)
