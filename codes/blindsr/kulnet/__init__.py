"""KULNet: a U-Net kernel estimator with a sampled latent, and a 4-stage unfolded MAP SR network
with a learned Laplacian-scale-mixture prior (DLSM).

The state_dict layout is the authors' (``kernel_extra.*``, ``SR_net.*``), so their checkpoints
load with ``strict=True``.
"""
from .estimator import KernelEstimator
from .dlsm import DLSM
from .operators import blur_down, up_blur_t, lsm_proximal
from .kulnet_arch import KULNet

__all__ = ['KULNet', 'KernelEstimator', 'DLSM', 'blur_down', 'up_blur_t', 'lsm_proximal']
