"""Training checkpoints: weights in the authors' layout plus a training state, written atomically.

``models/<iter>_G.pth`` is a plain state_dict (loads into the authors' code unchanged);
``training_state/<iter>.state`` holds the iteration, epoch position, optimizers,
schedulers, AMP scaler, RNG states and the options.
"""
import logging
import random
import re
from pathlib import Path

import numpy as np
import torch

from ..utils.files import atomic_torch_save

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:     # numpy 1
    from numpy.core.multiarray import _reconstruct

# What a training state holds beyond tensors and plain containers: numpy's RNG state.
STATE_GLOBALS = [(_reconstruct, 'numpy.core.multiarray._reconstruct'),
                 (_reconstruct, 'numpy._core.multiarray._reconstruct'),
                 np.ndarray, np.dtype, type(np.dtype(np.uint32))]

logger = logging.getLogger(__name__)


def rng_states():
    states = {'python': random.getstate(), 'numpy': np.random.get_state(), 'torch': torch.get_rng_state()}
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states):
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


def save_checkpoint(model, opt, it, epoch, batches_in_epoch, keep=0):
    """Save weights, then the state that points at them (so a state never lacks its weights)."""
    for label, net in model.networks().items():
        model.save_network(net, label, it)
    state = {'iter': it, 'epoch': epoch, 'batches_in_epoch': batches_in_epoch,
             'rng': rng_states(), 'options': opt, **model.training_state()}
    path = Path(opt['path']['training_state']) / f'{it}.state'
    atomic_torch_save(state, path)
    logger.info('Saved checkpoint at iteration %d: %s', it, path)
    if keep:
        prune(opt, keep)
    return path


def _iters(folder, pattern):
    out = {}
    for p in Path(folder).glob('*'):
        m = re.fullmatch(pattern, p.name)
        if m:
            out.setdefault(int(m.group(1)), []).append(p)
    return out


def prune(opt, keep):
    """Delete all but the newest ``keep`` checkpoints (weights and states)."""
    states = _iters(opt['path']['training_state'], r'(\d+)\.state')
    weights = _iters(opt['path']['models'], r'(\d+)_\w+\.(?:pth|yml)')
    for it in sorted(set(states) | set(weights))[:-keep]:
        for p in states.get(it, []) + weights.get(it, []):
            p.unlink(missing_ok=True)


def latest_state(opt):
    """Path of the newest training state of this run, or None."""
    states = _iters(opt['path']['training_state'], r'(\d+)\.state')
    return states[max(states)][0] if states else None


def load_state(path, model, device):
    """Load a training state and the weights saved beside it; return the state dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: training state not found (check path.resume_state or --resume)')
    try:
        with torch.serialization.safe_globals(STATE_GLOBALS):
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f'{path}: not a readable training state ({type(e).__name__}: {e})') from None
    models_dir = path.parent.parent / 'models'
    for label, net in model.networks().items():
        weights = models_dir / f"{state['iter']}_{label}.pth"
        model.load_network(weights, net, strict=True)
    model.resume_training(state)
    restore_rng_states(state['rng'])
    logger.info('Resumed from %s (iteration %d, epoch %d)', path, state['iter'], state['epoch'])
    return state
