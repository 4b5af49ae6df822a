"""Loading and saving network weights as plain state dicts (the authors' checkpoint format).

Released MANet checkpoints are plain ``{key: tensor}`` dicts, sometimes saved from a
``DataParallel`` wrapper (keys prefixed ``module.``). Stage chaining loads partial
checkpoints non-strictly (stage-1 estimator weights into a stage-3 network), so what was
skipped is logged rather than silently ignored.
"""
import logging
from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import nn

from blindsr.utils.files import atomic_torch_save

logger = logging.getLogger(__name__)


def unwrap(net):
    """The bare module inside ``DataParallel`` / ``DistributedDataParallel``."""
    return net.module if isinstance(net, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else net


def strip_prefix(state_dict, prefix='module.'):
    """Copy of ``state_dict`` with ``prefix`` removed from the keys that start with it."""
    return OrderedDict((k[len(prefix):] if k.startswith(prefix) else k, v) for k, v in state_dict.items())


def _device_of(net):
    for t in net.parameters():
        return t.device
    for t in net.buffers():
        return t.device
    return torch.device('cpu')


def read_state_dict(source, map_location='cpu', param_key=None):
    """A state dict from a path or a mapping, ``module.`` prefixes stripped.

    Args:
        source (str | Path | Mapping): checkpoint file or an already loaded dict.
        map_location: passed to ``torch.load``. Default: 'cpu'.
        param_key (str): take ``checkpoint[param_key]`` (for checkpoints that wrap the weights
            in a larger dict). Default: None (the file is the state dict).
    """
    state = source
    if not isinstance(source, Mapping):
        state = _load_file(source, map_location)
    if param_key is not None:
        if not isinstance(state, Mapping) or param_key not in state:
            raise ValueError(f'{source}: no {param_key!r} entry in the checkpoint')
        state = state[param_key]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{source}: not a state dict of tensors (found {type(state).__name__})')
    return strip_prefix(state)


def _load_file(path, map_location):
    """``torch.load`` of a weights file; a missing, empty, truncated or foreign file is one clear error."""
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: checkpoint not found')
    if path.stat().st_size == 0:
        raise ValueError(f'{path}: empty file (0 bytes), not a checkpoint')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:      # truncated, not a torch file, or objects beyond tensors
        reason = (str(e).strip().splitlines() or [''])[0][:200]
        raise ValueError(f'{path}: not a readable checkpoint ({type(e).__name__}: {reason})') from None


def _first(keys, n=5):
    keys = list(keys)
    return ', '.join(keys[:n]) + (f', ... ({len(keys) - n} more)' if len(keys) > n else '')


def load_state_dict(net, source, strict=True, map_location=None, param_key=None):
    """Load weights into ``net`` (unwrapped from DataParallel/DDP).

    Tensors are mapped straight onto the device of ``net`` unless ``map_location`` is given.
    ``strict=True`` raises on any missing, unexpected or mis-shaped key. ``strict=False`` loads
    what matches, and logs missing keys, unexpected keys and shape mismatches (skipped).

    Args:
        net (nn.Module): target network.
        source (str | Path | Mapping): checkpoint path or state dict.
        strict (bool): see above. Default: True.
        map_location: device for ``torch.load``. Default: the device of ``net``.
        param_key (str): see :func:`read_state_dict`.

    Returns:
        tuple[list[str], list[str]]: missing keys and unexpected keys (mis-shaped keys are
        counted as unexpected).
    """
    net = unwrap(net)
    if map_location is None:
        map_location = _device_of(net)
    state = read_state_dict(source, map_location=map_location, param_key=param_key)
    own = net.state_dict()
    mismatched = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    name = 'state dict' if isinstance(source, Mapping) else str(source)
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in mismatched]
    if strict and (missing or unexpected or mismatched):
        parts = [f'{len(missing)} missing ({_first(missing)})' if missing else '',
                 f'{len(unexpected)} unexpected ({_first(unexpected)})' if unexpected else '',
                 f'{len(mismatched)} of another shape (checkpoint vs network: {_first(shapes, 3)})'
                 if mismatched else '']
        raise ValueError(f'{name}: does not match {type(net).__name__}: ' + '; '.join(p for p in parts if p))
    if strict:
        net.load_state_dict(state, strict=True)
        logger.info('loaded %d tensors into %s from %s (strict)', len(own), type(net).__name__, name)
        return [], []
    matched = len(own) - len(missing) - len(mismatched)
    if own and matched == 0:
        raise ValueError(f'{name}: no tensor matches {type(net).__name__} (checkpoint keys: {_first(state, 3)}; '
                         f'network keys: {_first(own, 3)})' + (f'; other shapes: {_first(shapes, 3)}' if shapes else ''))
    for k in mismatched:
        del state[k]
    result = net.load_state_dict(state, strict=False)
    logger.info('loaded %d/%d tensors into %s from %s', matched, len(own), type(net).__name__, name)
    if result.missing_keys or result.unexpected_keys or mismatched:
        logger.warning('%s: partial load into %s: %d/%d tensors loaded; %d missing (left as initialised): %s; '
                       '%d unexpected (ignored): %s; %d of another shape (skipped): %s',
                       name, type(net).__name__, matched, len(own), len(result.missing_keys),
                       _first(result.missing_keys) or '-', len(result.unexpected_keys),
                       _first(result.unexpected_keys) or '-', len(mismatched), _first(shapes, 3) or '-')
    return list(result.missing_keys), list(result.unexpected_keys) + mismatched


def save_state_dict(net, path):
    """Save ``net``'s plain state dict (CPU tensors, no prefix) atomically to ``path``.

    The file has exactly the keys of the network, so MANet checkpoints keep the authors'
    layout and load into their code too.
    """
    state = OrderedDict((k, v.detach().cpu()) for k, v in unwrap(net).state_dict().items())
    atomic_torch_save(state, path)
    return path


def _summary(keys, limit=8):
    """Keys grouped by their first component, e.g. ``kernel_estimation.* (80)``."""
    groups = OrderedDict()
    for k in keys:
        groups.setdefault(k.split('.')[0], []).append(k)
    parts = [f'{g}.* ({len(v)})' if len(v) > 1 else v[0] for g, v in groups.items()]
    return ', '.join(parts[:limit]) + (f', ... ({len(parts) - limit} more groups)' if len(parts) > limit else '')
