"""Pixel criteria under the authors' option names (``pixel_criterion``,
``kernel_criterion``): ``l1``, ``l2`` (MSE) and ``cb`` (Charbonnier)."""
import torch
from torch import nn

from blindsr.registry import LOSSES

__all__ = ['L1Loss', 'MSELoss', 'CharbonnierLoss', 'build_loss']


@LOSSES.register('l1')
class L1Loss(nn.L1Loss):
    """Mean absolute error (``nn.L1Loss``, mean reduction), as the authors use it."""


@LOSSES.register('l2')
class MSELoss(nn.MSELoss):
    """Mean squared error (``nn.MSELoss``, mean reduction), as the authors use it."""


@LOSSES.register('cb')
class CharbonnierLoss(nn.Module):
    """Charbonnier loss with the authors' semantics: ``sum(sqrt(d^2 + eps))``.

    Note: ``eps`` (1e-6) is added to the *squared* difference, i.e. the usual
    ``sqrt(d^2 + e^2)`` with ``e = 1e-3``, and the default reduction is a *sum*
    (so its scale grows with batch and patch size, unlike ``l1``/``l2``).
    ``reduction='mean'`` is offered for new configurations.
    """

    def __init__(self, eps=1e-6, reduction='sum'):
        super().__init__()
        if reduction not in ('sum', 'mean'):
            raise ValueError(f"CharbonnierLoss reduction must be 'sum' or 'mean', got {reduction!r}")
        self.eps = eps
        self.reduction = reduction

    def forward(self, x, y):
        diff = x - y
        value = torch.sqrt(diff * diff + self.eps)
        return value.sum() if self.reduction == 'sum' else value.mean()


def build_loss(name, **kwargs):
    """Criterion registered as ``name``; an unknown name raises the registry's
    KeyError, which lists the valid names."""
    return LOSSES.get(name)(**kwargs)
