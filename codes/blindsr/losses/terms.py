"""Training losses as data: each term is (name, criterion, weight, what it compares).

A recipe builds its terms once, from the options, and sums ``weight * criterion(*inputs)``
each step. Terms come from the authors' keys (``pixel_criterion``/``pixel_weight``,
``kernel_criterion``/``kernel_weight``, ``pixel_criterion_lr``/``pixel_weight_lr``) and from
``train.losses``, a list of ``{type, weight, compares, name}`` entries for anything else
(KULNet's KL term is ``{type: kl, weight: 0.001, compares: latent}``). ``type`` names a
registered loss (``LOSSES``); ``compares`` is one of :data:`COMPARISONS`.
"""
from dataclasses import dataclass

from torch import nn

from ..registry import LOSSES
from .kernel_loss import KernelLoss

# What a term compares -> (what it needs of the network, description).
COMPARISONS = {
    'sr': ('makes_sr', 'the SR output against the HR image'),
    'kernel': ('trains_estimator', "the estimated kernels against the true ones (the authors' 1e4-scaled, "
               'per-HR-pixel value; a single kernel counts at every pixel)'),
    'lr': ('estimates_kernel', 'the HR re-degraded with the estimated kernels against the clean LR'),
    'latent': ('latent', 'a latent Gaussian (mean, log std) against N(0, 1)'),
}


@dataclass(frozen=True)
class LossTerm:
    name: str             # the name in logs and TensorBoard, e.g. 'l_pix'
    criterion: nn.Module
    weight: float
    compares: str         # a key of COMPARISONS


def _applies(compares, caps):
    need = COMPARISONS[compares][0]
    if need == 'latent':
        return 'latent_mean' in caps.outputs and 'latent_log_std' in caps.outputs
    return getattr(caps, need)


def _criterion(type_, compares, scale, where):
    try:
        crit = LOSSES.get(type_)
    except KeyError as e:
        raise ValueError(f'{where}: {e.args[0]}') from None
    return KernelLoss(scale, crit()) if compares == 'kernel' else crit()


def build_loss_terms(train_opt, caps, scale, source='train'):
    """The terms that apply to a network with capabilities ``caps``; raise if none does.

    A term whose comparison the network cannot make (a kernel loss on a frozen estimator, a
    pixel loss on a bare estimator) is left out, as the authors' stages do; an explicit
    ``train.losses`` entry that cannot apply is an error. The network's ``implied_losses``
    (terms its authors hard-coded) follow, except where ``train.losses`` compares the same thing.
    """
    t = train_opt
    terms = []
    for name, crit_key, weight_key, compares in (('l_ker', 'kernel_criterion', 'kernel_weight', 'kernel'),
                                                 ('l_pix', 'pixel_criterion', 'pixel_weight', 'sr'),
                                                 ('l_pix_lr', 'pixel_criterion_lr', 'pixel_weight_lr', 'lr')):
        if t[crit_key] and t[weight_key] and _applies(compares, caps):
            terms.append(LossTerm(name, _criterion(t[crit_key], compares, scale, f'{source}.{crit_key}'),
                                  t[weight_key], compares))
    for i, entry in enumerate(t['losses'] or []):
        where = f'{source}.losses[{i}]'
        if not _applies(entry['compares'], caps):
            raise ValueError(f"{where}: compares {entry['compares']!r} ({COMPARISONS[entry['compares']][1]}), "
                             'which this network cannot provide')
        name = entry['name'] or f"l_{entry['type']}"
        terms.append(LossTerm(name, _criterion(entry['type'], entry['compares'], scale, f'{where}.type'),
                              entry['weight'], entry['compares']))
    given = {entry['compares'] for entry in t['losses'] or []}
    for entry in caps.implied_losses:
        # the method's hard-coded terms, unless the options give one for the same comparison
        if entry['compares'] not in given and _applies(entry['compares'], caps):
            terms.append(LossTerm(entry['name'], _criterion(entry['type'], entry['compares'], scale,
                                                            f"{source}: implied loss {entry['name']}"),
                                  entry['weight'], entry['compares']))
    names = [term.name for term in terms]
    if len(set(names)) != len(names):
        raise ValueError(f'{source}: two loss terms share a name ({names}); give train.losses entries a name')
    return terms


def term_inputs(term, outputs, batch, reblur):
    """The two tensors a term compares, from the network ``outputs`` and the fed ``batch``."""
    if term.compares == 'sr':
        return outputs['sr'], batch['hr']
    if term.compares == 'kernel':
        return estimated_field(outputs, batch['lr']), batch.get('kernel_field', batch.get('kernel'))
    if term.compares == 'lr':
        return reblur(batch['hr'], estimated_field(outputs, batch['lr']), quantized=False), batch['lr_clean']
    return outputs['latent_mean'], outputs['latent_log_std']


def estimated_field(outputs, lr):
    """The estimate as an LR field (B, h, w, l, l): a single kernel per image is expanded (a view)."""
    if 'est_field' in outputs:
        return outputs['est_field']
    k = outputs['est_kernel']
    return k[:, None, None].expand(k.shape[0], *lr.shape[-2:], *k.shape[-2:])
