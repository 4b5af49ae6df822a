"""The numbers of one item: image quality, kernel accuracy, LR consistency.

* ``psnr_y`` / ``ssim_y``: SR against HR on Y, ``scale`` pixels cut (``blindsr.metrics``, as
  test.py and the papers), where the set has HR.
* ``psnr_k``: kernel PSNR in the one reference convention (MANet's 21x21,
  ``kernel_conventions.REFERENCE``) against the set's true kernel, averaged over LR pixels when
  either side is a field; only for kernels a method estimated.
* ``lr_psnr_y``: LR consistency, the SR re-degraded with the kernel the method used (in that
  kernel's own convention and blur) against the input LR, ``scale`` LR pixels cut. It needs no
  ground truth, so it is the one kernel-aware number on real photos.
"""
from ..metrics.psnr_ssim import psnr_y, ssim_y
from .kernel_conventions import REFERENCE, degrade, kernel_psnr, to_reference


def _as_fields(a, b):
    """Reference-convention kernels of the same shape: a single kernel is expanded over the other's field."""
    if a.dim() == b.dim():
        return a, b
    if a.dim() == 2:
        return a.expand(*b.shape[:2], *a.shape), b
    return a, b.expand(*a.shape[:2], *b.shape)


def score(sample, sr, estimate, kernel_estimated):
    """Metrics dict of one item (``kernel_estimated``: the kernel is the method's own, not the truth)."""
    s = sample.scale
    metrics = {}
    if sample.hr is not None:
        metrics['psnr_y'] = psnr_y(sr[0], sample.hr[0], crop=s)
        metrics['ssim_y'] = ssim_y(sr[0], sample.hr[0], crop=s)
    if estimate is not None:
        if kernel_estimated and sample.kernel is not None:
            est, true = _as_fields(to_reference(estimate.kernel.double().cpu(), estimate.convention, s),
                                   to_reference(sample.kernel.double().cpu(), sample.kernel_convention, s))
            metrics['psnr_k'] = kernel_psnr(est, true, REFERENCE, s)
        kernel = estimate.kernel.float()
        kernel = kernel[None] if estimate.is_field else kernel   # a field is (B, h, w, l, l) for the blur
        lr_re = degrade(sr.float(), kernel.to(sr.device), estimate.convention, s).clamp(0, 1)
        metrics['lr_psnr_y'] = psnr_y(lr_re[0], sample.lr[0], crop=s)
    return metrics
