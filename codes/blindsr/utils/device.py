"""Pick the compute device once; everything else follows tensors' ``.device``."""
import logging

import torch

logger = logging.getLogger(__name__)
_warned = False


def select_device(gpu_ids=None, local_rank=None):
    """``gpu_ids`` as in the option files: ``None``/``[]`` -> CPU, ``[0, ...]`` -> CUDA if present.

    Without CUDA a non-empty ``gpu_ids`` warns once and falls back to CPU.
    """
    global _warned
    if not gpu_ids:
        return torch.device('cpu')
    if not torch.cuda.is_available():
        if not _warned:
            logger.warning('gpu_ids=%s but CUDA is not available: running on CPU', list(gpu_ids))
            _warned = True
        return torch.device('cpu')
    index = local_rank if local_rank is not None else gpu_ids[0]
    return torch.device(type='cuda', index=int(index))


def device_from_name(name='auto'):
    """'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:<i>'."""
    if name == 'auto':
        return select_device([0] if torch.cuda.is_available() else None)
    if name == 'cpu':
        return select_device(None)
    if name.startswith('cuda'):
        if not torch.cuda.is_available():
            raise ValueError(f'--device {name}: CUDA is not available on this machine')
        return select_device([int(name.partition(':')[2] or 0)])
    raise ValueError(f"--device must be auto, cpu, cuda or cuda:<index>, got {name!r}")
