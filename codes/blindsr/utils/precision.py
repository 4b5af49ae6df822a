"""Inference precision (``--precision`` of test.py and infer.py): fp32, or autocast to bf16/fp16.

* ``fp32``: no autocast (also on CUDA, where the options' ``amp: true`` otherwise autocasts).
* ``bf16``: autocast to bfloat16, on CPU (fast where the CPU has AVX512-BF16 or AMX; elsewhere
  PyTorch emulates it and it is slower than fp32) and on CUDA.
* ``fp16``: autocast to float16, CUDA only: a usage error on CPU.

Outputs are returned as float32; only the convolutions and matrix products run in low precision.
"""
from contextlib import nullcontext

import torch

PRECISIONS = ('fp32', 'bf16', 'fp16')
_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def check_precision(precision, device):
    """Raise ValueError (a usage error) for a name not in :data:`PRECISIONS` or fp16 on a CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f'--precision must be one of {", ".join(PRECISIONS)}, got {precision!r}')
    if precision == 'fp16' and torch.device(device).type != 'cuda':
        raise ValueError('--precision fp16 needs CUDA (CPUs have no fast float16 path); use bf16 or fp32 on CPU')
    return precision


def autocast(device, precision):
    """The autocast context for ``precision`` on ``device`` (a null context for fp32)."""
    if precision == 'fp32':
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=_DTYPES[precision])


def cpu_has_bf16():
    """True when the CPU advertises AVX512-BF16 or AMX-BF16 (Linux /proc/cpuinfo)."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = f.read()
    except OSError:
        return False
    return 'avx512_bf16' in flags or 'amx_bf16' in flags
