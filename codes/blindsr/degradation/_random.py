"""Random draws that honour both a ``torch.Generator`` and the device of the data.

A generator lives on one device; drawing with it straight onto another device is an
error. We draw on the generator's device and move the result, so the numbers depend on
the seed only, not on where the images are.
"""
import torch


def _draw_device(generator, device):
    if generator is None:
        return torch.device(device)
    return generator.device


def rand(shape, generator=None, device='cpu', dtype=torch.float32):
    """Uniform [0, 1) on ``device``, reproducible under ``generator``."""
    out = torch.rand(shape, generator=generator, device=_draw_device(generator, device), dtype=dtype)
    return out.to(device)


def randn(shape, generator=None, device='cpu', dtype=torch.float32):
    """Standard normal on ``device``, reproducible under ``generator``."""
    out = torch.randn(shape, generator=generator, device=_draw_device(generator, device), dtype=dtype)
    return out.to(device)


def randint(low, high, shape, generator=None, device='cpu'):
    """Integers in [low, high) on ``device`` (int64), reproducible under ``generator``."""
    out = torch.randint(low, high, shape, generator=generator, device=_draw_device(generator, device))
    return out.to(device)
