"""Kernel conventions of the methods, and exact conversion between them.

A kernel array means nothing without the blur + subsampling it is used with. Geometry of both
conventions (cross-correlation, no flip; LR pixel (i, j) is computed at HR pixel (s*i + phase,
s*j + phase), ``phase = 0`` for both): tap (r, c) of an n x n kernel weights HR pixel
``(s*i + phase + r - n//2, s*j + phase + c - n//2)``, i.e. the tap ``n//2`` sits on the sampled pixel.

* ``MANET`` (also KULNet's): n = 21 at every scale; the Gaussian fills the top-left
  (22 - s)^2 corner, so its centre is at index (21 - s)/2, HR offset -(s - 1)/2 from the sampled
  pixel. Replicate padding (``degradation.blur``).
* ``FKP``: centred, n = 11 / 15 / 19 at x2 / x3 / x4 (KernelGAN-FKP's x4 kernels are 21); centre of
  mass at index (n - s)/2: the same HR offset -(s - 1)/2. Circular padding (``fkp.ops``).
  USRNet takes the FKP kernel flipped (``fkp.nonblind.usrnet_sr``); its data step (OTF centred
  at n//2, sampling ``[::s]``) is then exactly FKP's blur, so USRNet's convention is ``FKP``.

Both put the kernel centre at the same place relative to the sampling grid, so a conversion
is a pure integer shift (by the difference of the tap-0 offsets: a centred crop or zero-pad of
(m - n)/2 per side), without interpolation. It is exact unless non-zero taps fall outside the
destination; the two blurs then agree on every LR pixel whose taps stay inside the image
(only the border handling differs). FKP -> MANet never cuts (n <= 21). MANet -> FKP at the
default sizes cuts the Gaussian tails: the widest MANet training kernels (isotropic, variance
2.5 s) lose 3.1 % / 1.8 % / 0.68 % of their mass at x2 / x3 / x4. Convert with ``size=21`` (FKP's
blur and USRNet take any odd size) to stay exact.

Kernel PSNR is always computed in ``REFERENCE`` (MANet's 21 x 21, the project's default): every
method's kernels fit there without loss, and PSNR depends on the array size (RMSE per tap).
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from blindsr.degradation.blur import blur_subsample, blur_sv_subsample
from blindsr.fkp.ops import blur_downsample
from blindsr.metrics.kernel_metrics import kernel_field_psnr, kernel_psnr as _kernel_psnr

__all__ = ['KernelConvention', 'KernelDoesNotFit', 'MANET', 'FKP', 'REFERENCE', 'DEFAULT_MAX_CUT',
           'convert', 'cut_mass', 'degrade', 'to_reference', 'kernel_psnr']

DEFAULT_MAX_CUT = 1e-3
"""Largest fraction of a kernel's (absolute) mass that ``convert`` may drop without raising."""


class KernelDoesNotFit(ValueError):
    """A kernel's support does not fit the destination size (more than ``max_cut`` would be cut)."""


def _fkp_blur(hr, kernel, scale):
    if kernel.dim() == 3:
        kernel = kernel.unsqueeze(1)  # (B, 1, k, k): one kernel per image
    return blur_downsample(hr, kernel.to(device=hr.device, dtype=hr.dtype), scale)


@dataclass(frozen=True)
class KernelConvention:
    """How one method's kernel arrays are laid out and applied.

    ``sizes``: the method's kernel side per scale, ``((scale, side), ...)``; ``phase``: HR row/col of
    LR pixel 0; ``odd_only``: the blur needs an odd side; ``blur(hr, kernel (B, l, l), scale)`` and
    ``blur_field(hr, field (B, h, w, l, l), scale)`` are the method's own implementations.
    """
    name: str
    sizes: tuple
    padding: str
    blur: Callable = field(repr=False, compare=False)
    blur_field: Optional[Callable] = field(default=None, repr=False, compare=False)
    phase: int = 0
    odd_only: bool = False

    def size(self, scale):
        """The method's kernel side at ``scale``."""
        for s, n in self.sizes:
            if s == scale:
                return n
        raise ValueError(f'{self.name} kernels have no size for scale {scale} (known: '
                         f'{", ".join(f"x{s}" for s, _ in self.sizes)}); pass size= explicitly')

    def tap0_offset(self, size):
        """HR offset, from s*i, of the pixel that tap 0 of a side-``size`` kernel weights."""
        return self.phase - size // 2

    def check_size(self, size):
        if size < 1 or (self.odd_only and size % 2 == 0):
            raise ValueError(f'{self.name} kernels must have an {"odd " if self.odd_only else ""}positive side, '
                             f'got {size}')


MANET = KernelConvention('MANet', ((2, 21), (3, 21), (4, 21)), 'replicate', blur_subsample, blur_sv_subsample)
FKP = KernelConvention('FKP', ((2, 11), (3, 15), (4, 19)), 'circular', _fkp_blur, odd_only=True)
REFERENCE = MANET


def _placement(n, m, src, dst):
    """(shift, first, stop): source taps ``first:stop`` land at ``first + shift`` in the destination."""
    shift = src.tap0_offset(n) - dst.tap0_offset(m)
    first, stop = max(0, -shift), min(n, m - shift)
    return shift, first, min(max(first, stop), n)


def _as_kernels(kernel):
    kernel = torch.as_tensor(kernel)
    if kernel.dim() < 2 or kernel.shape[-1] != kernel.shape[-2]:
        raise ValueError(f'kernels must be square in their last two axes (..., l, l), got {tuple(kernel.shape)}')
    return kernel


def cut_mass(kernel, src, dst, scale, size=None):
    """Fraction of each kernel's absolute mass that falls outside the destination, shape (...)."""
    kernel = _as_kernels(kernel)
    n, m = kernel.shape[-1], size or dst.size(scale)
    _, first, stop = _placement(n, m, src, dst)
    outside = torch.ones(n, n, dtype=torch.bool, device=kernel.device)
    outside[first:stop, first:stop] = False
    mass = kernel.abs()
    total = mass.sum(dim=(-2, -1))
    lost = (mass * outside).sum(dim=(-2, -1))  # summed on its own: exactly 0 when nothing is cut
    return torch.where(total > 0, lost / torch.where(total > 0, total, torch.ones_like(total)), lost)


def _needed_size(kernel, src, dst):
    """Smallest destination side (of ``dst``'s parity rule) that keeps every non-zero tap."""
    n = kernel.shape[-1]
    nz = (kernel != 0).flatten(0, -3).any(dim=0) if kernel.dim() > 2 else kernel != 0
    idx = torch.nonzero(nz.any(dim=0) | nz.any(dim=1)).flatten()
    if idx.numel() == 0:
        return 1
    lo, hi = int(idx.min()), int(idx.max())
    m = 1
    while True:  # sizes are tiny: a direct search is clearer than solving the placement
        _, first, stop = _placement(n, m, src, dst)
        if first <= lo and hi < stop and not (dst.odd_only and m % 2 == 0):
            return m
        m += 1


def convert(kernel, src, dst, scale, size=None, max_cut=DEFAULT_MAX_CUT):
    """Kernels (..., n, n) in convention ``src`` -> the same blur + subsampling in ``dst``, (..., m, m).

    ``m = size`` or ``dst``'s size at ``scale``. Per-image batches (B, n, n) and kernel fields
    (B, h, w, n, n) alike. The taps are moved by the integer shift between the two geometries,
    so values are unchanged unless non-zero taps fall outside the destination: those kernels are
    then rescaled to their original sum (1 for normalised kernels). Dropping more than
    ``max_cut`` of a kernel's absolute mass raises :class:`KernelDoesNotFit` (pass ``max_cut=1``
    to accept any loss, or a larger ``size``). Values are never clipped: the slight negative
    taps of FKP's spline-shifted kernels pass through unchanged.
    """
    kernel = _as_kernels(kernel)
    n, m = kernel.shape[-1], size or dst.size(scale)
    src.check_size(n)
    dst.check_size(m)
    cut = cut_mass(kernel, src, dst, scale, m)
    worst = float(cut.max()) if cut.numel() else 0.0
    if worst > max_cut:
        raise KernelDoesNotFit(
            f'a {n}x{n} {src.name} kernel at x{scale} does not fit a {m}x{m} {dst.name} kernel: '
            f'{worst:.3%} of its mass would be cut (max_cut={max_cut:g}); '
            f'convert with size>={_needed_size(kernel, src, dst)} or a larger max_cut')
    shift, first, stop = _placement(n, m, src, dst)
    out = kernel.new_zeros(kernel.shape[:-2] + (m, m))
    if stop > first:
        out[..., first + shift:stop + shift, first + shift:stop + shift] = kernel[..., first:stop, first:stop]
    if worst > 0:
        old, new = kernel.sum(dim=(-2, -1), keepdim=True), out.sum(dim=(-2, -1), keepdim=True)
        rescale = (cut > 0)[..., None, None] & (new != 0)
        out = torch.where(rescale, out * (old / torch.where(new != 0, new, torch.ones_like(new))), out)
    return out


def degrade(hr, kernel, convention, scale):
    """Blur + subsample ``hr`` (B, C, H, W) as ``convention``'s own code does.

    ``kernel``: (l, l) or (B, l, l) per image, or a field (B, h, w, l, l) where the convention
    has a spatially variant blur (MANet only).
    """
    kernel = _as_kernels(kernel)
    convention.check_size(kernel.shape[-1])
    if kernel.dim() == 5:
        if convention.blur_field is None:
            raise ValueError(f'{convention.name} has no spatially variant blur: convert the kernel field to '
                             f'{MANET.name} first')
        return convention.blur_field(hr, kernel, scale)
    if kernel.dim() == 2:
        kernel = kernel.unsqueeze(0).expand(hr.shape[0], -1, -1)
    return convention.blur(hr, kernel, scale)


def to_reference(kernel, src, scale, max_cut=DEFAULT_MAX_CUT):
    """Kernels (..., n, n) of convention ``src`` in ``REFERENCE`` (MANet's 21 x 21, top-left).

    Exact for every method's kernels (all fit in 21 x 21); see :func:`convert`.
    """
    return convert(kernel, src, REFERENCE, scale, max_cut=max_cut)


def kernel_psnr(est, true, convention, scale, true_convention=None):
    """Kernel PSNR (peak 1) of ``est`` against ``true``, both first mapped to ``REFERENCE``.

    ``convention`` is the estimate's (and the truth's, unless ``true_convention`` is given). One
    kernel (l, l) -> its PSNR; a batch or field (..., l, l) -> the mean of the per-kernel PSNRs.
    """
    est = to_reference(est, convention, scale)
    true = to_reference(true, true_convention or convention, scale)
    if est.dim() == 2 and true.dim() == 2:
        return _kernel_psnr(est, true)
    return kernel_field_psnr(est, true)
