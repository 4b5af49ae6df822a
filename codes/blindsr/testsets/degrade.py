"""One HR image -> the LR image of a protocol case, as the authors' ``SRMDPreprocessing`` makes it.

Blur with the case's kernel (or spatially variant field, 40-pixel blocks), keep ``[::s, ::s]``,
add Gaussian noise when the case draws it, quantise to 8 bits. The building blocks are
``blindsr.degradation`` (checked against the authors' outputs in
``tests/test_degradation_golden.py``); what this module adds is the authors' *random stream*:
every draw — the iso/aniso coin of each kernel, mode 5's block parameters, the noise — comes
from one ``np.random.RandomState`` in their order, and the noise is numpy's ``normal`` in
float64 turned to float32 before it is scaled, as in their ``b_GaussianNoising``.
:func:`skip_draws` consumes the same numbers without computing an image, so a case whose
files already exist (or a scale that is not written) leaves the stream where it would be.
"""
from dataclasses import dataclass

import numpy as np
import torch

from ..degradation.blur import blur_subsample, blur_sv_subsample
from ..degradation.kernels import fixed_kernel_params, fixed_kernels
from ..degradation.noise import quantize
from ..degradation.sv_fields import sv_block_params, sv_kernel_field
from ..utils.image_io import tensor2img


@dataclass
class KernelSettings:
    """The option-file keys the test degradation reads (``kernel_size``, ``sig``, ``rate_iso``,
    ``sv_block_size``); ``sig`` is the isotropic std used when ``rate_iso`` picks an isotropic kernel."""
    kernel_size: int = 21
    sig: float = 1.6
    rate_iso: float = 0.0
    block_size: int = 40

    @classmethod
    def from_options(cls, opt):
        def pick(key, default):
            return opt.get(key) if opt.get(key) is not None else default
        return cls(kernel_size=pick('kernel_size', 21), sig=pick('sig', 1.6), rate_iso=pick('rate_iso', 0.0),
                   block_size=pick('sv_block_size', 40))


@dataclass
class CaseResult:
    """An LR image and its true kernel.

    lr: uint8 HxWx3 **BGR** (what the authors' ``tensor2img`` gives and ``cv2`` writes).
    kernel: (l, l) float32 for a spatially invariant case, else None.
    kernel_field: (h, w, l, l) float32, the kernel of HR pixel (s*i, s*j), for an SV case.
    sigma: (3,) or (h, w, 3) float32 kernel parameters (sig1, sig2, theta) (variances, radians).
    """
    lr: np.ndarray
    kernel: np.ndarray | None
    kernel_field: np.ndarray | None
    sigma: np.ndarray


def _noise(lr, case, rng):
    """The authors' ``b_GaussianNoising``: float64 N(0, 1) -> float32, times level/255, clamp."""
    draws = rng.normal(loc=0.0, scale=1.0, size=tuple(lr.shape))
    level = torch.tensor(case.noise / 255.0, dtype=torch.float32)
    return (torch.from_numpy(draws).to(torch.float32) * level + lr).clamp(0.0, 1.0)


def degrade_case(hr, case, rng, settings=None):
    """Degrade one HR image for ``case`` with the random stream ``rng``.

    Args:
        hr (Tensor): (1, 3, H, W) float32 RGB in [0, 1], H and W multiples of ``case.scale``.
        case (protocol.Case): scale, kernel or SV mode, noise.
        rng (np.random.RandomState): the protocol's random stream (advanced in place).
        settings (KernelSettings): kernel size, isotropic settings, SV block size. Default: the authors'.
    """
    settings = settings or KernelSettings()
    if hr.dim() != 4 or hr.shape[0] != 1:
        raise ValueError(f'hr must be (1, C, H, W), got {tuple(hr.shape)}')
    s = case.scale
    kernel = field = None
    if case.sv_mode == 0:
        sig1, sig2, theta = case.kernel
        k, sigma = fixed_kernels(1, s, settings.kernel_size, settings.sig, sig1, sig2, theta, settings.rate_iso,
                                 numpy_rng=rng)
        lr = blur_subsample(hr, k, s)
        kernel = k[0].numpy()
    else:
        f, sigma = sv_kernel_field(case.sv_mode, tuple(hr.shape[-2:]), s, settings.kernel_size, settings.block_size,
                                   1, settings.sig, settings.rate_iso, numpy_rng=rng)
        lr = blur_sv_subsample(hr, f, s)
        field = f[0].numpy()
    if case.draws_noise:
        lr = _noise(lr, case, rng)
    return CaseResult(lr=tensor2img(quantize(lr)[0]), kernel=kernel, kernel_field=field, sigma=sigma[0].numpy())


def skip_draws(hr_size, case, rng, settings=None):
    """Advance ``rng`` exactly as :func:`degrade_case` would for an HR image of ``hr_size`` (H, W)."""
    settings = settings or KernelSettings()
    H, W = hr_size
    s = case.scale
    if case.sv_mode == 0:
        sig1, sig2, theta = case.kernel
        fixed_kernel_params(1, settings.sig, sig1, sig2, theta, settings.rate_iso, numpy_rng=rng)
    else:
        sv_block_params(case.sv_mode, (H, W), s, settings.block_size, 1, settings.sig, settings.rate_iso,
                        numpy_rng=rng)
    if case.draws_noise:
        rng.normal(loc=0.0, scale=1.0, size=(1, 3, -(-H // s), -(-W // s)))
