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
        state = torch.load(source, map_location=map_location, weights_only=True)
    if param_key is not None:
        state = state[param_key]
    return strip_prefix(state)


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
    if strict:
        net.load_state_dict(state, strict=True)     # raises with PyTorch's full report
        logger.info('loaded %d tensors into %s from %s (strict)', len(own), type(net).__name__, name)
        return [], []
    for k in mismatched:
        logger.warning('skipping %s: checkpoint shape %s, network shape %s',
                       k, tuple(state[k].shape), tuple(own[k].shape))
        del state[k]
    result = net.load_state_dict(state, strict=False)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys) + mismatched
    logger.info('loaded %d/%d tensors into %s from %s', len(own) - len(result.missing_keys), len(own),
                type(net).__name__, name)
    if result.missing_keys:
        logger.info('missing keys (left as initialised): %s', _summary(result.missing_keys))
    if result.unexpected_keys:
        logger.info('unexpected keys (ignored): %s', _summary(result.unexpected_keys))
    return missing, unexpected


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
