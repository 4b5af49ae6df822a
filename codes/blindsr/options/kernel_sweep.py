"""A sweep of fixed test kernels: list-valued ``sig1`` / ``sig2`` / ``theta``.

The KULNet authors' ``test.yml`` lists nine anisotropic kernels,
``sig1: [2.0, 2.0, 3.5, ...]``, ``sig2: [0.5, 1.0, 1.5, ...]``, ``theta: [0, 10, 30, ...]``, with
theta in degrees, and their ``test.py`` runs the whole test once per kernel (converting theta
with ``/ 180 * 3.14``, not pi) and reports the mean over the kernels. A single number keeps the
MANet meaning: one kernel, theta in radians.

Rules (checked at load): the lists have equal lengths; a number beside lists is used for every
kernel; a list of theta is in degrees, a single theta in radians (each file's authors' unit). A
sweep is for testing only: training files give single numbers.
"""
import copy
from dataclasses import dataclass

SWEEP_KEYS = ('sig1', 'sig2', 'theta')
AUTHORS_PI = 3.14        # the KULNet authors' test.py: theta / 180 * 3.14


@dataclass(frozen=True)
class SweepKernel:
    """One kernel of a sweep: variances ``sig1``, ``sig2``; ``theta`` in radians; ``theta_given``
    as written in the option file (degrees for a list)."""
    sig1: float
    sig2: float
    theta: float
    theta_given: float

    @property
    def label(self):
        """Folder name of this kernel's results, e.g. ``k_3.5_1.5_30`` (theta as given)."""
        return f'k_{self.sig1:g}_{self.sig2:g}_{self.theta_given:g}'


def is_sweep(opt):
    return any(isinstance(opt.get(k), list) for k in SWEEP_KEYS)


def check_kernel_sweep(opt, is_train):
    """Raise ``ValueError`` (one line naming the keys) for lists of different lengths, or any list in training."""
    lists = {k: opt[k] for k in SWEEP_KEYS if isinstance(opt.get(k), list)}
    if not lists:
        return
    if is_train:
        raise ValueError(f"{', '.join(lists)}: a list of test kernels is for test.py; training and validation "
                         'take one kernel (single numbers)')
    lengths = {k: len(v) for k, v in lists.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError('the kernel lists must have equal lengths, got '
                         + ', '.join(f'{k}: {n}' for k, n in lengths.items()))


def sweep_kernels(opt):
    """The :class:`SweepKernel` list of a sweep, in the file's order; None when ``opt`` has single numbers."""
    if not is_sweep(opt):
        return None
    n = max(len(opt[k]) for k in SWEEP_KEYS if isinstance(opt[k], list))
    values = {k: opt[k] if isinstance(opt[k], list) else [opt[k]] * n for k in SWEEP_KEYS}
    degrees = isinstance(opt['theta'], list)
    return [SweepKernel(float(s1), float(s2), float(t / 180 * AUTHORS_PI if degrees else t), float(t))
            for s1, s2, t in zip(values['sig1'], values['sig2'], values['theta'])]


def kernel_options(opt, kernel):
    """A copy of ``opt`` describing one kernel of the sweep (single numbers, theta in radians)."""
    out = copy.deepcopy(opt)
    out.update(sig1=kernel.sig1, sig2=kernel.sig2, theta=kernel.theta)
    return out
