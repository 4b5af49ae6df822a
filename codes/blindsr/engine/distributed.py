"""Distributed set-up for ``torchrun ... --launcher pytorch`` (gloo on CPU, nccl on CUDA)."""
import os

import torch
import torch.distributed as dist


def init_distributed(launcher):
    """Return ``(rank, world_size, local_rank)``; start the process group for ``pytorch``."""
    if launcher in (None, 'none'):
        return 0, 1, None
    if launcher != 'pytorch':
        raise ValueError(f"--launcher must be 'none' or 'pytorch', got {launcher!r}")
    if 'RANK' not in os.environ:
        raise RuntimeError('--launcher pytorch needs torchrun (RANK/WORLD_SIZE are not set)')
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if backend == 'nccl':
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), local_rank


def local_rank_from_env(launcher):
    """This process's rank on its machine, before the process group starts (0 without a launcher)."""
    return int(os.environ.get('LOCAL_RANK', 0)) if launcher == 'pytorch' else 0


def is_distributed():
    return dist.is_available() and dist.is_initialized()


def any_rank(flag, device):
    """True on every process when ``flag`` is true on any of them (so that all stop at one iteration)."""
    if not is_distributed():
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier():
    if is_distributed():
        dist.barrier()


def cleanup():
    if is_distributed():
        dist.destroy_process_group()
