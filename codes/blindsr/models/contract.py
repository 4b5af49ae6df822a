"""The contract between the engine and a model recipe: what a network declares, what ``test()`` returns.

A network class states what it does in a class attribute ``capabilities``; the recipe and the
engine read that declaration and guess nothing from signatures or attributes. ``test()``
returns a :class:`TestOutput`; :func:`check_test_output` holds every model to it.
"""
from dataclasses import dataclass
from typing import Tuple, TypedDict

from torch import Tensor


@dataclass(frozen=True)
class Capabilities:
    """What a network does.

    Attributes:
        estimates_kernel: it returns estimated kernels (an LR field or one kernel per image).
        takes_kernel: its forward needs the true kernel (non-blind SR): ``net(lr, kernel)``.
        makes_sr: its SR output is real (False: a placeholder, e.g. a bare kernel estimator).
        outputs: names of the forward's positional results, from :data:`NETWORK_OUTPUTS`.
        frozen: sub-modules whose parameters never train (e.g. MANet stage 3's estimator).
        estimator: the sub-module that estimates kernels (what ``frozen`` names to freeze it).
        implied_losses: loss terms the method always trains with, as ``train.losses`` entries
            (``{type, weight, compares, name}``), for authors who hard-coded a term (KULNet's
            ``0.001 * KL``) so their option files lack it; a ``train.losses`` entry with the same
            ``compares`` replaces the implied one (to change its weight, or set it to 0).
    """
    estimates_kernel: bool = False
    takes_kernel: bool = False
    makes_sr: bool = True
    outputs: Tuple[str, ...] = ('sr', 'est_field')
    frozen: Tuple[str, ...] = ()
    estimator: str = 'kernel_estimation'
    implied_losses: Tuple[dict, ...] = ()

    def __post_init__(self):
        unknown = [o for o in self.outputs if o not in NETWORK_OUTPUTS]
        if unknown:
            raise ValueError(f'unknown network outputs {unknown}; known: {", ".join(NETWORK_OUTPUTS)}')
        if self.estimates_kernel and not {'est_field', 'est_kernel'} & set(self.outputs):
            raise ValueError('a kernel estimator must output est_field or est_kernel')
        for entry in self.implied_losses:
            missing = {'type', 'weight', 'compares', 'name'} - set(entry)
            if missing:
                raise ValueError(f'implied loss {entry} lacks {sorted(missing)}')

    @property
    def trains_estimator(self):
        return self.estimates_kernel and self.estimator not in self.frozen


# What a network's forward may return, by name (shapes for a batch of B LR images h x w, scale s).
NETWORK_OUTPUTS = {
    'sr': 'SR image (B, 3, s*h, s*w)',
    'est_field': 'estimated kernel at every LR pixel (B, h, w, l, l)',
    'est_kernel': 'one estimated kernel per image (B, l, l)',
    'latent_mean': 'mean of a latent Gaussian (B, c, h, w)',
    'latent_log_std': 'log standard deviation of that Gaussian (B, c, h, w)',
    'given_kernel': "the kernel a non-blind network was fed, returned unchanged (authors' interface)",
}


def capabilities_of(net):
    """The declared capabilities of a network; a clear error for one that declares none."""
    caps = getattr(type(net), 'capabilities', None)
    if not isinstance(caps, Capabilities):
        raise TypeError(f'{type(net).__name__} declares no capabilities: give the class a '
                        '`capabilities = Capabilities(...)` attribute (blindsr/models/contract.py)')
    return caps


class TestOutput(TypedDict, total=False):
    """What ``model.test()`` returns for one fed batch (tensors on the model's device).

    Always: ``lr`` (B, 3, h, w), the network input; ``lr_clean``, the noise-free LR that the
    LR-consistency metric compares with.
    Models that make SR: ``sr`` (B, 3, s*h, s*w) in [0, 1].
    Kernel estimators: ``est_field`` (B, h, w, l, l), the kernel at each LR pixel (an expanded
    view for single-kernel estimators), and ``est_kernel`` (B, l, l) when there is one kernel
    per image.
    Optional, when the model ran several forwards (option ``samples`` > 1): ``uncertainty``
    (B, 3, s*h, s*w), the per-pixel standard deviation of the SR over those draws (``sr`` is then
    their mean); the engine writes it as a picture (``uncertainty/<img>.png``).
    From the data, when known: ``hr``; ``kernel`` (B, l, l) or ``kernel_field`` (B, h, w, l, l),
    the true blur.
    ``extras``: a dict of method-specific results (e.g. DIP-FKP's own HR estimate and history,
    KULNet's uncertainty map), read only by that model's own hooks.
    """
    lr: Tensor
    lr_clean: Tensor
    sr: Tensor
    est_field: Tensor
    est_kernel: Tensor
    hr: Tensor
    kernel: Tensor
    kernel_field: Tensor
    uncertainty: Tensor
    extras: dict


REQUIRED_OUTPUTS = ('lr', 'lr_clean')


def check_test_output(out, caps, model_name, streamed=False):
    """Raise if ``out`` breaks the contract: missing required keys, unknown keys, or a declared
    capability without its output. ``streamed``: the output of ``test_streamed``, whose kernel
    field went to the tile sinks (so ``est_field`` may be absent)."""
    known = TestOutput.__annotations__
    unknown = sorted(set(out) - set(known))
    missing = [k for k in REQUIRED_OUTPUTS if k not in out]
    if caps.makes_sr and 'sr' not in out:
        missing.append('sr')
    if caps.estimates_kernel and 'est_field' not in out and not streamed:
        missing.append('est_field')
    if unknown or missing:
        raise TypeError(f'{model_name}.test() broke the TestOutput contract: '
                        + '; '.join(filter(None, [f'missing {missing}' if missing else '',
                                                  f'unknown {unknown} (put method-specific results in extras)'
                                                  if unknown else ''])))
    return out
