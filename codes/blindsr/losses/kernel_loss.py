"""Kernel-estimation loss, valued as the authors' but computed at LR resolution.

The authors nearest-upsample the LR kernel field to every HR pixel of the patch
and compute ``crit(fake * 1e4, real * 1e4) / (number of HR pixels)`` (README quirk
9: the criterion already averages, the division comes on top, so the value
depends on the patch size). Nearest upsampling repeats each LR kernel ``s*s``
times, which leaves a mean unchanged and multiplies a sum by ``s*s``; so the same
value follows from the LR field without building the (s*s)-times larger tensor.
"""
from torch import nn

from blindsr.losses.pixel_loss import build_loss

__all__ = ['KernelLoss', 'lr_field_from_authors_layout']


class KernelLoss(nn.Module):
    """``KernelLoss(scale, criterion='l1')(pred, gt)`` with

    * ``pred``: predicted LR-resolution kernel field (B, h, w, l, l);
    * ``gt``: true kernel, spatially invariant (B, l, l) or a field (B, h, w, l, l).

    Returns ``crit_HR(pred * 1e4, gt * 1e4) / (h * w * scale**2)``, the authors'
    value. The option's ``kernel_weight`` is applied by the caller.
    """

    def __init__(self, scale, criterion='l1', multiplier=1e4):
        super().__init__()
        self.scale = int(scale)
        self.multiplier = multiplier
        self.criterion = build_loss(criterion) if isinstance(criterion, str) else criterion

    def forward(self, pred, gt):
        if pred.dim() != 5 or pred.shape[-1] != pred.shape[-2]:
            raise ValueError(f'pred must be a kernel field (B, h, w, l, l), got {tuple(pred.shape)}')
        b, h, w, l, _ = pred.shape
        if gt.dim() == 3 and gt.shape == (b, l, l):
            gt = gt[:, None, None].expand(b, h, w, l, l)
        if gt.shape != pred.shape:
            raise ValueError(f'gt kernel {tuple(gt.shape)} matches neither (B, l, l) nor '
                             f'pred {tuple(pred.shape)}')
        value = self.criterion(pred * self.multiplier, gt * self.multiplier)
        hr_positions = h * w * self.scale ** 2
        if getattr(self.criterion, 'reduction', 'mean') == 'sum':
            value = value * self.scale ** 2  # each LR kernel stands for s*s HR copies
        return value / hr_positions


def lr_field_from_authors_layout(kernel_lr):
    """(B, l*l, h, w) softmax layout of the authors' estimator -> (B, h, w, l, l)."""
    b, ll, h, w = kernel_lr.shape
    l = int(round(ll ** 0.5))
    if l * l != ll:
        raise ValueError(f'{ll} channels is not a square kernel size')
    return kernel_lr.permute(0, 2, 3, 1).reshape(b, h, w, l, l)

