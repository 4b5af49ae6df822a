"""FKP (Flow-based Kernel Prior, CVPR 2021): the per-image algorithms and their helpers.

* ``dipfkp.DIPFKP``               - DIP-FKP kernel + image estimation for one LR image
* ``kernelgan_fkp.KernelGANFKP``   - KernelGAN-FKP kernel estimation (x2, x4 via analytic kernel)
* ``nonblind.usrnet_sr``           - the non-blind SR step with an estimated kernel
* ``prior_training``               - kernel stream, NLL, validation log-likelihood for training a prior
* ``data_prep``                    - DIPFKP_* / KernelGANFKP_* test-set preparation
* ``kernels``, ``ops``, ``io``     - kernel generation/centring, degradation geometry, .mat/PNG I/O

The networks live in ``blindsr.archs`` (``fkp_arch``, ``dip_arch``, ``kernelgan_arch``, ``usrnet_arch``).
"""
from blindsr.fkp.dipfkp import DIPFKP, DIPFKPResult  # noqa: F401
from blindsr.fkp.kernelgan_fkp import KernelGANFKP, KernelGANFKPResult  # noqa: F401
from blindsr.fkp.nonblind import usrnet_sr  # noqa: F401
