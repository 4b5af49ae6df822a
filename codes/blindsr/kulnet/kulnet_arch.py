"""KULNet as one registered network, with the authors' module names (``kernel_extra``, ``SR_net``)."""
import torch.nn as nn

from blindsr.models.contract import Capabilities
from blindsr.registry import ARCHS

from .dlsm import DLSM
from .estimator import KernelEstimator


@ARCHS.register('BlindNet')   # the authors' which_model_G
@ARCHS.register()
class KULNet(nn.Module):
    """Blind SR: estimate one kernel per image, then run DLSM with it (the estimate, also in training).

    Args:
        scale (int): SR factor (2, 3, 4...). The parameters do not depend on it.
        kernel_size (int): kernel side. Default: 21.
        sample_latent (bool): sample the estimator's latent (the authors' behaviour, in training
            and testing alike); False uses the mean, which makes the output deterministic. Default: True.

    ``forward(lr, gt_kernel=None, eps=None, sample=None)`` returns
    ``(sr, est_kernel (B, l, l), latent_mean, latent_log_std)``. ``gt_kernel`` is accepted for the
    authors' call signature and ignored. ``eps`` (B, 64, h, w) is the latent noise to use instead
    of a fresh draw (otherwise drawn with ``torch.randn`` on the CPU generator, as the authors
    did); ``sample`` overrides ``sample_latent`` for one call; ``trace``, a dict, receives DLSM's
    per-stage tensors (see :meth:`DLSM.forward`).
    """
    capabilities = Capabilities(estimates_kernel=True, takes_kernel=False,
                                outputs=('sr', 'est_kernel', 'latent_mean', 'latent_log_std'),
                                frozen=(), estimator='kernel_extra',
                                # the authors hard-code 0.001 * KL; their train.yml has no such key
                                implied_losses=({'type': 'kl', 'weight': 1e-3, 'compares': 'latent',
                                                 'name': 'l_kl'},))

    def __init__(self, scale=4, kernel_size=21, sample_latent=True):
        super().__init__()
        self.scale = scale
        self.kernel_size = kernel_size
        self.sample_latent = sample_latent
        self.kernel_extra = KernelEstimator(kernel_size=kernel_size)
        self.SR_net = DLSM(scale)

    def forward(self, lr, gt_kernel=None, eps=None, sample=None, trace=None):
        sample = self.sample_latent if sample is None else sample
        kernel, mean, log_std = self.kernel_extra(lr, sample=sample, eps=eps)
        sr = self.SR_net(lr, kernel, trace=trace)
        return sr, kernel, mean, log_std


BlindNet = KULNet
