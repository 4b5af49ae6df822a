"""The on-the-fly degradation HR -> LR of MANet (the authors' ``SRMDPreprocessing``).

blur (per-image kernel, or a spatially variant field when ``sv_mode`` > 0) and ``[::s, ::s]``
-> optional Gaussian noise -> optional JPEG -> quantisation to 1/255. The clean LR
(quantised, no noise/JPEG) is returned too: the LR-consistency metric needs it.

``random=True`` is the training setting (random kernel, noise level and JPEG quality per
image, flags ``train_noise``/``train_jpeg``); ``random=False`` the test setting (fixed
kernel ``sig*``/``theta``, fixed ``noise``/``jpeg``, flags ``test_noise``/``test_jpeg``).
Everything runs on the device of the HR batch; randomness comes from the optional
``torch.Generator`` (or, for bit-compatibility with the authors' numpy stream in the kernel
parameters, an optional ``np.random.RandomState``).
"""
import logging
import math
from dataclasses import dataclass, fields

import torch

from . import kernels as K
from .blur import blur_subsample, blur_sv_subsample
from .jpeg import jpeg_compress, random_jpeg_quality
from ._random import rand
from .noise import add_gaussian_noise, quantize, random_noise_levels
from .sv_fields import SV_MODES, sv_kernel_field

logger = logging.getLogger(__name__)

#: Top-level option keys read by :meth:`Degradation.from_options`; ``None`` = derived from
#: ``scale`` (sig_min = 0.175 s, sig_max = 2.5 s, the authors' training ranges). Other values
#: are those of the authors' shipped option files (x4), used when a key is missing or null.
OPTION_DEFAULTS = {
    'kernel_size': 21,
    'sig_min': None, 'sig_max': None,
    'sig': 1.6, 'sig1': 6.0, 'sig2': 1.0, 'theta': 0.0,
    'rate_iso': 0.0,
    'sv_mode': 0, 'train_sv_rate': 0.0,
    'train_noise': False, 'noise_high': 15.0,
    'train_jpeg': False, 'jpeg_low': 70,
    'test_noise': False, 'noise': 15.0,
    'test_jpeg': False, 'jpeg': 70,
}


@dataclass
class DegradationResult:
    """Output of :class:`Degradation` (all tensors on the HR batch's device).

    lr: (B, C, h, w) quantised LR with noise/JPEG if enabled.
    lr_clean: (B, C, h, w) quantised LR without noise/JPEG.
    sigma: kernel parameters, (B, 3) for a spatially invariant kernel, (B, h, w, 3) for a field;
        rows are (sig1, sig2, theta) with variances, or (std, std, 0) for isotropic kernels.
    kernel: (B, l, l) spatially invariant kernels, or None.
    kernel_field: (B, h, w, l, l) kernel of HR pixel (s*i, s*j), or None.
    noise_level: (B,) noise std in 0..255 units when noise was added, else None.
    jpeg_quality: (B,) JPEG qualities when JPEG was applied, else None.
    """
    lr: torch.Tensor
    lr_clean: torch.Tensor
    sigma: torch.Tensor
    kernel: torch.Tensor | None = None
    kernel_field: torch.Tensor | None = None
    noise_level: torch.Tensor | None = None
    jpeg_quality: torch.Tensor | None = None

    def to_dict(self):
        """Shallow dict of the fields (tensors are not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Degradation:
    """HR batch -> LR batch, configured with the authors' top-level option keys.

    Args:
        scale (int): downsampling factor s.
        kernel_size (int): kernel side l (21).
        random (bool): training mode (random kernels/noise/JPEG) if True, fixed test mode if False.
        sig_min, sig_max (float | None): training range (variances; std for isotropic kernels);
            None = 0.175 s and 2.5 s.
        rate_iso (float): probability of an isotropic kernel.
        sig (float): isotropic test std. sig1, sig2, theta: anisotropic test kernel (variances, radians).
        sv_mode (int): 0 spatially invariant, 1..6 spatially variant field (then sig1/sig2/theta
            are unused; see ``sv_fields``).
        block_size (int | None): HR block size of the SV fields (None = 40, the authors' hard-coded value).
        train_sv_rate (float): ours, training only: probability that a batch is blurred with a random
            field (``sv_mode`` 5: one random anisotropic kernel per block, variances in 0.175 s..2.5 s
            whatever ``sig_min``/``sig_max`` say) instead of one kernel per image. The authors train
            on spatially invariant kernels only (0); fields teach the estimator to follow kernels
            that change within the patch. Needs ``rate_iso`` 0.
        train_noise, noise_high: training noise flag and maximum level (0..255 units).
        test_noise, noise: test noise flag and level (0..255 units).
        train_jpeg, jpeg_low: training JPEG flag and lowest quality (quality ~ U{jpeg_low..100}).
        test_jpeg, jpeg: test JPEG flag and quality.
        rate_cln (float): training probability of a noise-free image (the authors pass -1: never).
    """
    scale: int
    kernel_size: int = 21
    random: bool = False
    sig_min: float | None = None
    sig_max: float | None = None
    rate_iso: float = 0.0
    sig: float = 1.6
    sig1: float = 6.0
    sig2: float = 1.0
    theta: float = 0.0
    sv_mode: int = 0
    block_size: int = 40
    train_sv_rate: float = 0.0
    train_noise: bool = False
    noise_high: float = 15.0
    test_noise: bool = False
    noise: float = 15.0
    train_jpeg: bool = False
    jpeg_low: int = 70
    test_jpeg: bool = False
    jpeg: int = 70
    rate_cln: float = -1.0

    def __post_init__(self):
        if int(self.scale) != self.scale or self.scale < 1:
            raise ValueError(f'scale must be a positive integer, got {self.scale!r}')
        self.scale = int(self.scale)
        K.grid_size(self.kernel_size, self.scale)  # raises if the kernel is too small
        if self.sv_mode not in (0,) + SV_MODES:
            raise ValueError(f'sv_mode must be one of {(0,) + SV_MODES}, got {self.sv_mode!r}')
        if self.block_size is None:
            self.block_size = 40
        if self.block_size < 1:
            raise ValueError(f'block_size must be >= 1, got {self.block_size!r}')
        if not 0 <= self.train_sv_rate <= 1:
            raise ValueError(f'train_sv_rate must be in [0, 1], got {self.train_sv_rate!r}')
        if self.random and self.train_sv_rate and self.rate_iso:
            raise ValueError(f'train_sv_rate {self.train_sv_rate} needs rate_iso 0 (got {self.rate_iso}): '
                             'the random training fields are anisotropic')
        if self.sig_min is None:
            self.sig_min = 0.175 * self.scale
        if self.sig_max is None:
            self.sig_max = 2.5 * self.scale
        # only the training kernels use the range (the authors' test files carry 0, 0)
        if self.random and not 0 < self.sig_min <= self.sig_max:
            raise ValueError(f'random kernels need 0 < sig_min <= sig_max, got {self.sig_min}, {self.sig_max}')

    @classmethod
    def from_options(cls, opt, train, **overrides):
        """Build from a plain dict with the authors' top-level keys (``scale`` required).

        Reads ``scale`` and the keys of :data:`OPTION_DEFAULTS` (missing or None -> that
        default). ``train=True`` gives the training degradation (``random=True``, spatially
        invariant whatever ``sv_mode`` says, as the authors' train.py); ``train=False`` the
        test one. Noise levels are always taken in 0..255 units (the authors' validation in
        train.py forgot the /255; we do not copy that). The project key ``sv_block_size``
        (not the authors') gives ``block_size`` (None = 40). ``overrides`` are passed to the
        constructor last.
        """
        if opt.get('scale') is None:
            raise ValueError('options need a scale')
        kw = {key: (opt.get(key) if opt.get(key) is not None else default)
              for key, default in OPTION_DEFAULTS.items()}
        if train and kw['sv_mode']:
            logger.info('sv_mode=%s ignored for the training degradation (spatially invariant)', kw['sv_mode'])
            kw['sv_mode'] = 0
        kw['block_size'] = opt.get('sv_block_size')
        kw.update(overrides)
        return cls(scale=opt['scale'], random=bool(train), **kw)

    @property
    def adds_noise(self):
        return self.train_noise if self.random else self.test_noise

    @property
    def adds_jpeg(self):
        return self.train_jpeg if self.random else self.test_jpeg

    def kernels(self, batch, generator=None, device='cpu', dtype=torch.float32, numpy_rng=None):
        """Spatially invariant kernels and parameters for ``batch`` images: ((B, l, l), (B, 3))."""
        if self.random:
            return K.random_kernels(batch, self.scale, self.kernel_size, self.sig_min, self.sig_max, self.rate_iso,
                                    generator, device, dtype, numpy_rng)
        return K.fixed_kernels(batch, self.scale, self.kernel_size, self.sig, self.sig1, self.sig2, self.theta,
                               self.rate_iso, generator, device, dtype, numpy_rng)

    def kernel_field(self, batch, hr_size, generator=None, device='cpu', dtype=torch.float32, numpy_rng=None,
                     sv_mode=None):
        """Spatially variant field at LR resolution and parameters: ((B, h, w, l, l), (B, h, w, 3))."""
        return sv_kernel_field(sv_mode or self.sv_mode, hr_size, self.scale, self.kernel_size, self.block_size, batch,
                               self.sig, self.rate_iso, generator, device, dtype, numpy_rng)

    def __call__(self, hr, generator=None, numpy_rng=None):
        """Degrade ``hr`` (B, C, H, W) float in [0, 1]; returns a :class:`DegradationResult`.

        LR size is (ceil(H/s), ceil(W/s)). ``generator`` drives every random draw;
        ``numpy_rng`` (optional ``np.random.RandomState``) replaces it for the kernel
        parameters only, replaying the authors' numpy stream (e.g. ``RandomState(0)`` for
        their ``np.random.seed(0)``).
        """
        if hr.dim() != 4 or not hr.is_floating_point():
            raise ValueError(f'hr must be a float (B, C, H, W) tensor, got {hr.dtype} {tuple(hr.shape)}')
        B, _, H, W = hr.shape
        out = {}
        sv_mode = self.sv_mode
        # the coin is drawn only when fields are asked for, so the authors' random stream is kept otherwise
        if self.random and self.train_sv_rate > 0 and rand((1,), generator, hr.device).item() < self.train_sv_rate:
            sv_mode = 5
        if sv_mode == 0:
            kernel, sigma = self.kernels(B, generator, hr.device, hr.dtype, numpy_rng)
            lr = blur_subsample(hr, kernel, self.scale)
            out['kernel'] = kernel
        else:
            field, sigma = self.kernel_field(B, (H, W), generator, hr.device, hr.dtype, numpy_rng, sv_mode)
            lr = blur_sv_subsample(hr, field, self.scale)
            out['kernel_field'] = field

        lr_n = lr
        if self.adds_noise:
            if self.random:
                level = random_noise_levels(B, self.noise_high, self.rate_cln, generator, hr.device)
            else:
                level = torch.full((B,), float(self.noise), device=hr.device)
            lr_n = add_gaussian_noise(lr_n, level, generator)
            out['noise_level'] = level
        if self.adds_jpeg:
            if self.random:
                quality = random_jpeg_quality(B, self.jpeg_low, generator, hr.device)
            else:
                quality = torch.full((B,), int(self.jpeg), dtype=torch.int64, device=hr.device)
            lr_n = jpeg_compress(lr_n, quality)
            out['jpeg_quality'] = quality
        return DegradationResult(lr=quantize(lr_n), lr_clean=quantize(lr), sigma=sigma, **out)

    def lr_size(self, hr_size):
        """LR (h, w) for an HR (H, W): the pixels kept by ``[::s, ::s]``."""
        return tuple(math.ceil(n / self.scale) for n in hr_size)
