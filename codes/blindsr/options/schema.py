"""The option schema: the MANet authors' keys (spec §3) plus a few of ours.

Each leaf is a ``Key``; a nested dict is a section. ``None`` in a file always means
"the authors' default". Methods with settings of their own add a section through
``register_section`` from their own module (one file per method).
"""
from dataclasses import dataclass
from typing import Any, Optional, Tuple


@dataclass(frozen=True)
class Key:
    type: Any                  # int, float, bool, str, list, 'list[int]', 'list[float]', 'float|list[float]', 'any'
    default: Any = None
    required: bool = False
    choices: Optional[Tuple] = None
    help: str = ''
    unused: bool = False       # accepted for the authors' files, ignored here: a set value warns once
    # allowed range, checked once at load (for a list, on each item): min <= v <= max, v > gt, v odd
    min: Any = None
    max: Any = None
    gt: Any = None
    odd: bool = False

    def range_text(self):
        """The allowed range in words (empty when any value of the type is allowed)."""
        parts = ['an odd integer'] if self.odd else []
        if self.min is not None and self.max is not None:
            parts.append(f'in [{self.min}, {self.max}]')
        elif self.min is not None:
            parts.append(f'>= {self.min}')
        elif self.max is not None:
            parts.append(f'<= {self.max}')
        if self.gt is not None:
            parts.append(f'> {self.gt}')
        return ' '.join(parts)

    def in_range(self, v):
        return not ((self.odd and v % 2 != 1) or (self.min is not None and v < self.min)
                    or (self.max is not None and v > self.max) or (self.gt is not None and v <= self.gt))


def _k(type_, default=None, **kw):
    return Key(type_, default, **kw)


TOP_LEVEL = {
    'name': _k(str, required=True, help='run name; outputs go to results/<name>/'),
    'suffix': _k(str, unused=True),
    'model': _k(str, 'blind', help='model recipe (registry MODELS)'),
    'distortion': _k(str, 'sr', choices=('sr',), unused=True),
    'scale': _k(int, required=True, choices=(1, 2, 3, 4, 8)),
    'gpu_ids': _k('list[int]', help='[] or null: CPU; [0, ...]: CUDA when available'),
    'kernel_size': _k(int, 21, min=1, odd=True),
    'code_length': _k(int, 15, min=1),
    'sig_min': _k(float, min=0), 'sig_max': _k(float, min=0),
    'sig': _k(float, 1.6, min=0),
    # the fixed anisotropic test kernel; lists (the KULNet authors' test.yml) are a sweep of kernels (engine/kernel_sweep.py)
    'sig1': _k('float|list[float]', 6.0, min=0, help='test kernel variance along theta; a list: one test pass per kernel'),
    'sig2': _k('float|list[float]', 1.0, min=0, help='test kernel variance across theta; a list: one test pass per kernel'),
    'theta': _k('float|list[float]', 0.0, help="test kernel angle: a number is in radians (MANet's files), a list in "
                "degrees, converted with / 180 * 3.14 as the KULNet authors' test.py does"),
    'rate_iso': _k(float, 0.0, min=0, max=1),
    'sv_mode': _k(int, 0, choices=(0, 1, 2, 3, 4, 5, 6)),
    # noise levels in 0..255 units; defaults are the values of the authors' shipped files
    'train_noise': _k(bool, False), 'noise_high': _k(float, 15.0, min=0, max=255),
    'train_jpeg': _k(bool, False), 'jpeg_low': _k(int, 70, min=0, max=100),
    'test_noise': _k(bool, False), 'noise': _k(float, 15.0, min=0, max=255),
    'test_jpeg': _k(bool, False), 'jpeg': _k(int, 70, min=0, max=100),
    'pca_path': _k(str),
    'cal_lr_psnr': _k(bool, False, unused=True, help='LR-PSNR is always measured where it can be'),
    'crop_border': _k(int, min=0, help='pixels cut on each side for metrics; null: the scale'),
    'use_tb_logger': _k(bool, False),
    # ours
    'sv_block_size': _k(int, 40, min=1, help='HR block size of spatially variant kernel fields'),
    'train_sv_rate': _k(float, 0.0, min=0, max=1, help='training: probability that a batch is blurred with a random spatially '
                        'variant field (sv_mode 5) instead of one kernel per image; 0 = the authors'),
    'manual_seed': _k(int, 0, help='seed of the fixed test/validation degradations'),
    'tile': _k(int, min=1, help='test: LR tile size for large inputs (null: whole image)'),
    'tile_overlap': _k(int, 32, min=0, help='test: LR overlap between tiles'),
    'amp': _k(bool, True, help='mixed precision: fp16 autocast on CUDA; on CPU only with amp_cpu_bf16'),
    'amp_cpu_bf16': _k(bool, False, help='ours: with amp, bf16 autocast for training and testing on CPU (fast only on '
                       'CPUs with AVX512-BF16 or AMX; elsewhere emulated and slower than fp32)'),
    'samples': _k(int, 1, min=1, max=1000, help='test/infer: forwards per image; > 1 averages them (the draws of a network '
                  'that samples at test, e.g. KULNet) and writes their per-pixel std as an uncertainty map'),
    'sv_sets': _k(list, ['BSD100'], help='prepare_testset: names (datasets.<phase>.name) of the sets that '
                  'also get spatially variant modes 1-5; the authors hard-code BSD100'),
}

DATASET = {
    'name': _k(str, required=True),
    'mode': _k(str, required=True, help='GT | LQ | GTLQ (registry DATASETS)'),
    'dataroot_GT': _k(str), 'dataroot_LQ': _k(str),
    'use_shuffle': _k(bool, True), 'n_workers': _k(int, 0, min=0), 'batch_size': _k(int, 1, min=1),
    'GT_size': _k(int, min=1), 'LR_size': _k(int, unused=True, help='the LR patch follows from GT_size / scale'),
    'use_flip': _k(bool, False), 'use_rot': _k(bool, False),
    'color': _k(str, 'RGB'),
    'data_type': _k(str, 'img', choices=('img',), unused=True),
    # repeated from the top level in the authors' LQ example; must agree with it
    'scale': _k(int), 'kernel_size': _k(int, min=1, odd=True),
}

NETWORK_G = {
    'which_model_G': _k(str, required=True, help='architecture name (registry ARCHS)'),
    'in_nc': _k(int), 'out_nc': _k(int), 'nf': _k(int), 'nb': _k(int), 'gc': _k(int),
    'manet_nf': _k(int), 'manet_nb': _k(int), 'split': _k(int),
    'upscale': _k(int, unused=True, help='only in the authors\' prepare_testset.yml; the scale is top-level'),
}

PATH = {
    'pretrain_model_G': _k(str), 'pretrain_model_K': _k(str),
    'strict_load': _k(bool, True), 'resume_state': _k(str),
}

TRAIN = {
    'lr_G': _k(float, required=True, gt=0),
    'lr_scheme': _k(str, 'MultiStepLR', choices=('MultiStepLR', 'CosineAnnealingLR_Restart')),
    'beta1': _k(float, 0.9, min=0, max=1), 'beta2': _k(float, 0.999, min=0, max=1),
    'weight_decay_G': _k(float, 0.0, min=0),
    'niter': _k(int, required=True, min=1),
    'warmup_iter': _k(int, -1, min=-1),
    'lr_steps': _k('list[int]', min=0), 'lr_gamma': _k(float, 0.5, gt=0),
    'T_period': _k('list[int]', min=1), 'restarts': _k('list[int]', min=0), 'restart_weights': _k('list[float]', min=0),
    'eta_min': _k(float, 1e-7, min=0), 'clear_state': _k(bool, False),
    'kernel_criterion': _k(str), 'kernel_weight': _k(float, 0.0, min=0),
    'pixel_criterion': _k(str), 'pixel_weight': _k(float, 0.0, min=0),
    'pixel_criterion_lr': _k(str), 'pixel_weight_lr': _k(float, 0.0, min=0),
    'manual_seed': _k(int, 0),
    'val_freq': _k(int, 5000, min=0, help='iterations between validations (0: none)'),
    'losses': _k(list, help='ours: extra loss terms, a list of {type, weight, compares, name} (see LOSS_TERM)'),
}

# One entry of train.losses: a registered loss (registry LOSSES), its weight, what it compares.
LOSS_TERM = {
    'type': _k(str, required=True, help='a registered loss, e.g. l1, cb, kl'),
    'weight': _k(float, required=True, min=0),
    'compares': _k(str, required=True, choices=('sr', 'kernel', 'lr', 'latent'),
                   help='sr: SR vs HR; kernel: estimated vs true kernels; lr: re-degraded HR vs clean LR; '
                   'latent: a latent Gaussian vs N(0, 1)'),
    'name': _k(str, help='name in logs (default l_<type>)'),
}

LOGGER = {
    'print_freq': _k(int, 100, min=1),
    'save_checkpoint_freq': _k(int, 5000, min=1),
    'keep_checkpoints': _k(int, 3, min=0, help='ours: how many checkpoints to keep (0: all)'),
}

SECTIONS = {
    'network_G': NETWORK_G,
    'path': PATH,
    'train': TRAIN,
    'logger': LOGGER,
}

# Extra sections registered by method modules (e.g. FKP): name -> schema dict.
EXTRA_SECTIONS = {}


def register_section(name, schema):
    """Let a method add its own top-level section of options (validated like the others)."""
    if name in TOP_LEVEL or name in SECTIONS or name == 'datasets':
        raise KeyError(f'option section {name!r} already exists')
    EXTRA_SECTIONS[name] = schema
    return schema
