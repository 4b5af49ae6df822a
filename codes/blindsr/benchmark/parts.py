"""What a benchmark part is: estimators, restorers and end-to-end methods, and what they exchange.

The benchmark composes any kernel estimator with any non-blind restorer, so the two sides must
agree on one small interface instead of on each other's code. A kernel travels as a
:class:`KernelEstimate` that carries its convention (``kernel_conventions``); a restorer converts
it to its own convention, never assumes it. Parts are registered by name, like the project's
architectures: one decorator in a ``*_estimator.py``, ``*_restorer.py`` or ``*_method.py`` file
(looked up without importing the other files, ``blindsr.registry``).

Every part is built once per run (weights loaded lazily, on the first item that needs them) and
gets its settings from the option file's ``parts.<name>`` section, checked against its
``defaults`` so that a typo is an error, not a silently ignored key.
"""
from dataclasses import dataclass
from typing import Optional

import torch

from ..registry import Registry
from .kernel_conventions import KernelConvention, convert

ESTIMATORS = Registry('benchmark estimator', 'blindsr', '_estimator', 'ESTIMATORS')
RESTORERS = Registry('benchmark restorer', 'blindsr', '_restorer', 'RESTORERS')
METHODS = Registry('end-to-end benchmark method', 'blindsr', '_method', 'METHODS')


class PartError(ValueError):
    """A method, pair or part setting that cannot work: reported as one line before any work."""


@dataclass
class Sample:
    """One test image as every part sees it (tensors on the run's device, batch of one).

    ``kernel`` is the true blur when the set stores it: (l, l) for one kernel per image or
    (h, w, l, l) for a spatially variant field, in ``kernel_convention``.
    """
    set_name: str
    name: str
    scale: int
    lr: torch.Tensor
    hr: Optional[torch.Tensor] = None
    kernel: Optional[torch.Tensor] = None
    kernel_convention: Optional[KernelConvention] = None


@dataclass
class KernelEstimate:
    """A kernel (l, l) or an LR-resolution field (h, w, l, l), and the convention it is laid out in."""
    kernel: torch.Tensor
    convention: KernelConvention

    @property
    def is_field(self):
        return self.kernel.dim() == 4

    def single(self):
        """One kernel per image: the field's mean over LR pixels (the estimate itself otherwise)."""
        if self.is_field:
            return KernelEstimate(self.kernel.mean(dim=(0, 1)), self.convention)
        return self

    def to(self, convention, scale, size=None):
        """The same blur in ``convention`` (exact integer shift, ``kernel_conventions.convert``)."""
        if convention == self.convention and (size is None or size == self.kernel.shape[-1]):
            return self.kernel
        return convert(self.kernel, self.convention, convention, scale, size=size)


class Part:
    """Base of every part: settings checked against ``defaults``, device and scale fixed at build.

    ``seeded``: the part optimises per image from a random start (DIP-FKP, KernelGAN-FKP), so the
    benchmark runs it once per seed and reports the spread.
    """
    name = ''
    defaults = {}
    seeded = False

    def __init__(self, settings, scale, device):
        unknown = sorted(set(settings) - set(self.defaults))
        if unknown:
            raise PartError(f'parts.{self.name}: unknown setting(s) {", ".join(unknown)}; '
                            f'known: {", ".join(sorted(self.defaults)) or "none"}')
        self.settings = {**self.defaults, **settings}
        self.scale = int(scale)
        self.device = torch.device(device)

    def check(self, test_set):
        """Raise :class:`PartError` if this part cannot run on ``test_set`` (before any work)."""

    def prepare(self):
        """One-off set-up (loading weights, the mean kernel), done before an item's clock starts,
        so the time and memory of an item are the method's own per-image cost. Idempotent."""


class Estimator(Part):
    """``estimate(sample, seed) -> KernelEstimate``.

    ``gives_field``: True (a field), False (one kernel per image), or None when it depends on the
    set (the true kernel); :meth:`gives_field_on` answers for one set.
    """
    gives_field = False
    field_alternative = None   # the name of this estimator's single-kernel variant, for messages

    def gives_field_on(self, test_set):
        return self.gives_field

    def estimate(self, sample, seed=0):
        raise NotImplementedError


class Restorer(Part):
    """``restore(sample, estimate) -> SR (1, 3, s*h, s*w)`` in [0, 1].

    ``takes_field``: it accepts a spatially variant field (else one kernel per image);
    ``uses_kernel``: False for restorers that ignore the estimate (bicubic).
    """
    takes_field = False
    uses_kernel = True

    def restore(self, sample, estimate):
        raise NotImplementedError


class EndToEnd(Part):
    """``run(sample, seed) -> (SR, KernelEstimate or None)``: blind SR in one network."""

    def run(self, sample, seed=0):
        raise NotImplementedError


def settings_for(parts_options, name):
    """The option file's ``parts.<name>`` section (empty when absent)."""
    section = (parts_options or {}).get(name) or {}
    if not isinstance(section, dict):
        raise PartError(f'parts.{name} must be a mapping of settings, got {section!r}')
    return dict(section)
