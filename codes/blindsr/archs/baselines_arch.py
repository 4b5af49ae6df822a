"""Reference points for the MANet stages: the best single fixed kernel, and bicubic upsampling.

* ``MeanKernel``: stage-1 baseline: the same kernel at every pixel — the mean of the training
  kernel distribution (the best fixed guess in L2).
* ``MANet_s2_mean``: the stage-2 network fed that mean kernel instead of the true one (loads a
  stage-2 checkpoint unchanged).
* ``Bicubic``: bicubic upsampling of the LR.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from blindsr.archs.manet_stages_arch import MANet_s2
from blindsr.degradation.kernels import anisotropic_kernels, random_kernels
from blindsr.models.contract import Capabilities
from blindsr.registry import ARCHS


def mean_training_kernel(scale, kernel_size=21, sig_min=None, sig_max=None, rate_iso=0.0, samples=20000, seed=0,
                         train_sv_rate=0.0):
    """Mean of ``samples`` random training kernels (x4: variances 0.7..10, anisotropic).

    With ``train_sv_rate`` > 0 (training on random fields, see ``Degradation``) it is the mixture
    mean: that fraction of the kernels are the fields' (sv_mode 5: both variances uniform, any angle).
    """
    sig_min = 0.175 * scale if sig_min is None else sig_min
    sig_max = 2.5 * scale if sig_max is None else sig_max
    gen = torch.Generator().manual_seed(seed)
    kernels, _ = random_kernels(samples, scale, kernel_size, sig_min, sig_max, rate_iso, generator=gen)
    mean = kernels.double().mean(0)
    if train_sv_rate:
        u = torch.rand(samples, 3, generator=gen, dtype=torch.float64)
        lo, hi = 0.175 * scale, 2.5 * scale  # the field's range (sv_fields), fixed by the scale
        field = anisotropic_kernels(lo + (hi - lo) * u[:, 0], lo + (hi - lo) * u[:, 1], math.pi * u[:, 2], scale,
                                    kernel_size, torch.float64)
        mean = (1 - train_sv_rate) * mean + train_sv_rate * field.mean(0)
    return mean.float()


class ConstantKernelField(nn.Module):
    """An 'estimator' that answers the same kernel everywhere (not saved in checkpoints)."""

    def __init__(self, kernel):
        super().__init__()
        self.register_buffer('kernel', kernel, persistent=False)

    def forward(self, lr):
        b, _, h, w = lr.shape
        return self.kernel.to(lr.dtype).expand(b, h, w, *self.kernel.shape)


@ARCHS.register()
class MeanKernel(nn.Module):
    """Stage-1 baseline: (nearest-upsampled placeholder, mean-kernel field)."""
    capabilities = Capabilities(estimates_kernel=True, makes_sr=False)

    def __init__(self, scale=4, kernel_size=21, rate_iso=0.0, train_sv_rate=0.0):
        super().__init__()
        self.scale = scale
        self.kernel_estimation = ConstantKernelField(
            mean_training_kernel(scale, kernel_size, rate_iso=rate_iso, train_sv_rate=train_sv_rate))

    def forward(self, lr):
        return F.interpolate(lr, scale_factor=self.scale, mode='nearest'), self.kernel_estimation(lr)


@ARCHS.register()
class MANet_s2_mean(MANet_s2):
    """Stage 2 fed the mean training kernel: what non-blind SR gives without kernel estimation."""
    capabilities = Capabilities(estimates_kernel=True)

    def __init__(self, *args, train_sv_rate=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.kernel_estimation = ConstantKernelField(
            mean_training_kernel(self.scale, self.kernel_size, train_sv_rate=train_sv_rate))

    def forward(self, lr):
        field = self.kernel_estimation(lr)
        sr, _ = super().forward(lr, field[:, 0, 0])
        return sr, field


@ARCHS.register()
class Bicubic(nn.Module):
    """Bicubic upsampling of the LR (no kernel, no parameters)."""

    capabilities = Capabilities(outputs=('sr',))

    def __init__(self, scale=4):
        super().__init__()
        self.scale = scale

    def forward(self, lr):
        return F.interpolate(lr, scale_factor=self.scale, mode='bicubic', align_corners=False).clamp(0, 1)
