"""On-the-fly degradation (HR -> LR) with the MANet authors' conventions, batched in torch.

Modules: ``kernels`` (Gaussian kernels), ``sv_fields`` (spatially variant fields),
``blur`` (blur + subsample), ``noise`` (noise, quantisation), ``jpeg``, ``pca`` (kernel
codes), ``pipeline`` (the :class:`Degradation` class).
(The full-resolution ``blur.blur`` is not re-exported: the name would hide the module.)
"""
from .blur import blur_subsample, blur_sv, blur_sv_subsample, replicate_pad, subsample
from .kernels import anisotropic_kernels, fixed_kernels, isotropic_kernels, kernels_from_params, random_kernels
from .noise import add_gaussian_noise, quantize
from .pca import build_pca_matrix, load_pca_matrix, pca_decode, pca_encode, pca_matrix
from .pipeline import Degradation, DegradationResult
from .sv_fields import sv_block_kernels, sv_kernel_field

__all__ = [
    'Degradation', 'DegradationResult', 'add_gaussian_noise', 'anisotropic_kernels', 'blur_subsample', 'blur_sv',
    'blur_sv_subsample', 'build_pca_matrix', 'fixed_kernels', 'isotropic_kernels', 'kernels_from_params',
    'load_pca_matrix', 'pca_decode', 'pca_encode', 'pca_matrix', 'quantize', 'random_kernels', 'replicate_pad',
    'subsample', 'sv_block_kernels', 'sv_kernel_field',
]
