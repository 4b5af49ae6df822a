"""The MANet authors' benchmark protocol: which LR sets, in which order, under which names.

Their ``prepare_testset.py`` loops, in this order (spec §4):

* scale s in 2, 3, 4;
* the datasets of the option file, sorted by phase key (``test1``, ``test2``, ...);
* noise level 0, then 15 (15 only at x4);
* ``sv_mode`` 0, then 1..5 for the spatially variant sets (theirs: the set named BSD100);
* for ``sv_mode`` 0 the spatially invariant grid: sig1 in {1, 1+s, 1+2s}, sig2 in
  range(1, sig1+1, s), theta in {0, pi/4} (pi/4 skipped when sig1 == sig2);
* the images of the set, sorted by file name.

Every kernel draw and every noise draw comes from one numpy stream seeded once at the
start, so the order above is part of the protocol: it decides mode 5's random kernels and
the noise of the noise-15 sets. One more detail of theirs matters for that stream: setting
noise 15 switches their ``test_noise`` flag on for good (before x2 and x3 skip the level),
so from then on every image, noise-free ones included, draws a noise image, scaled by a
level of 0. :attr:`Case.draws_noise` records it.

File layout, for a set whose HR folder is ``<root>/<set>/HR``::

    <set>_x<s>/HR_si/<img>_<sig1:.1f>_<sig2:.1f>_<theta:.1f>.png
    <set>_x<s>/LR_mode0_noise<n>/<same name>
    <set>_x<s>/HR_sv/<img>.png
    <set>_x<s>/LR_mode<m>_noise<n>/<img>.png
    <set>_x<s>/kernels_mode<m>_noise<n>/<LR stem>.npz     (ours: the true kernel or field)

The KULNet authors' protocol (:func:`kulnet_cases`) is their ``test.yml``'s nine anisotropic
kernels at x4, noise 0, theta in degrees converted with ``/ 180 * 3.14``, the random state
reseeded before each kernel (their ``test.py`` does so; with ``rate_iso`` 0 and noise 0 no draw
changes a pixel). Its files::

    <set>_x<s>/HR_kulnet/<img>_k_<sig1>_<sig2>_<theta in degrees>.png
    <set>_x<s>/LR_kulnet_noise0/<same name>
    <set>_x<s>/kernels_kulnet_noise0/<LR stem>.npz
"""
import math
from dataclasses import dataclass
from pathlib import Path

from ..options.kernel_sweep import sweep_kernels

SCALES = (2, 3, 4)
NOISE_LEVELS = (0, 15)
NOISY_SCALES = (4,)
SV_MODES = (1, 2, 3, 4, 5)
DEFAULT_SV_SETS = ('BSD100',)


# the KULNet authors' test.yml: (sig1, sig2) variances, theta in degrees
KULNET_KERNELS = ((2.0, 0.5, 0), (2.0, 1.0, 10), (3.5, 1.5, 30), (3.5, 2.0, 45), (3.5, 2.0, 90),
                  (4.0, 1.5, 120), (4.0, 2.0, 135), (4.0, 3.0, 165), (4.0, 4.0, 180))
KULNET_SCALES = (4,)


def si_kernel_grid(scale):
    """The spatially invariant test kernels at ``scale``: (sig1, sig2, theta) in the authors' order."""
    grid = []
    for sig1 in (1, 1 + scale, 1 + 2 * scale):
        for sig2 in range(1, sig1 + 1, scale):
            for theta in (0.0, math.pi / 4):
                if sig1 == sig2 and theta > 0:
                    continue
                grid.append((float(sig1), float(sig2), theta))
    return grid


def si_file_name(stem, sig1, sig2, theta):
    """``<stem>_<sig1:.1f>_<sig2:.1f>_<theta:.1f>.png`` (theta pi/4 prints as 0.8)."""
    return f'{stem}_{sig1:.1f}_{sig2:.1f}_{theta:.1f}.png'


def set_name(dataroot_gt):
    """The set's name for its output folder: ``.../Set5/HR`` -> ``Set5``.

    The authors replace ``/HR`` in the path by ``_x<s>``; a folder named ``HR`` (or ``HR_*``)
    therefore stands for its parent. Any other folder is the set itself.
    """
    p = Path(dataroot_gt)
    return p.parent.name if (p.name == 'HR' or p.name.startswith('HR_')) else p.name


def set_folder(output_root, dataroot_gt, scale):
    """``<output_root>/<set>_x<s>``."""
    return Path(output_root) / f'{set_name(dataroot_gt)}_x{scale}'


@dataclass(frozen=True)
class Case:
    """One LR version of a whole set: a scale, a noise level and a kernel (or SV mode).

    ``draws_noise`` is the authors' ``test_noise`` flag at that point of the loop: when set,
    a noise image is drawn (scaled by ``noise`` / 255, possibly 0).
    """
    scale: int
    phase: str
    noise: int
    sv_mode: int
    kernel: tuple[float, float, float] | None
    draws_noise: bool
    label: str = ''      # the KULNet protocol's kernels: ``k_<sig1>_<sig2>_<theta in degrees>``

    @property
    def hr_dir(self):
        if self.label:
            return 'HR_kulnet'
        return 'HR_si' if self.sv_mode == 0 else 'HR_sv'

    @property
    def lr_dir(self):
        return f'LR_kulnet_noise{self.noise}' if self.label else f'LR_mode{self.sv_mode}_noise{self.noise}'

    @property
    def kernel_dir(self):
        """The GTLQ datasets look for true kernels in the ``LR_`` -> ``kernels_`` sibling."""
        return self.lr_dir.replace('LR_', 'kernels_', 1)

    def file_name(self, stem):
        if self.label:
            return f'{stem}_{self.label}.png'
        return si_file_name(stem, *self.kernel) if self.sv_mode == 0 else f'{stem}.png'

    def describe(self):
        what = (f'KULNet kernel {self.label}' if self.label else
                'SI kernel ({:.1f}, {:.1f}, {:.2f})'.format(*self.kernel) if self.sv_mode == 0
                else f'SV mode {self.sv_mode}')
        return f'x{self.scale} {what}, noise {self.noise}'


def authors_cases(phases, sv_sets=DEFAULT_SV_SETS, test_noise=False):
    """Every :class:`Case` in the authors' order.

    Args:
        phases (list[tuple[str, str]]): (phase key, set name) of the option file's datasets.
        sv_sets (iterable[str]): set names that also get spatially variant modes 1..5.
        test_noise (bool): the option file's ``test_noise`` (the flag's value at the start).
    """
    sv_sets = set(sv_sets)
    draws_noise = bool(test_noise)
    for scale in SCALES:
        for phase, name in sorted(phases):
            for noise in NOISE_LEVELS:
                if noise > 0:
                    draws_noise = True      # theirs: set before the level is skipped at x2/x3
                if noise > 0 and scale not in NOISY_SCALES:
                    continue
                for sv_mode in ((0,) + SV_MODES if name in sv_sets else (0,)):
                    kernels = si_kernel_grid(scale) if sv_mode == 0 else [None]
                    for kernel in kernels:
                        yield Case(scale, phase, noise, sv_mode, kernel, draws_noise)


def kulnet_cases(phases, scales=KULNET_SCALES):
    """The KULNet authors' cases: per scale and dataset (sorted by phase key), their nine kernels
    in order, noise 0 (their test still runs the noise code: a level-0 draw)."""
    sig1, sig2, theta = (list(values) for values in zip(*KULNET_KERNELS))
    kernels = sweep_kernels({'sig1': sig1, 'sig2': sig2, 'theta': theta})   # test.py's conversion and labels
    for scale in scales:
        for phase, _ in sorted(phases):
            for k in kernels:
                yield Case(scale, phase, 0, 0, (k.sig1, k.sig2, k.theta), True, label=k.label)
