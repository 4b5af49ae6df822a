"""The FKP degradation geometry in torch: circular-padded cross-correlation, then s-fold sampling.

Kept in one place because data generation, DIP-FKP's LR reproduction and the evaluation must
agree exactly (kernel centre of mass at (k - sf) / 2, top-left sampling phase).
"""
import torch.nn.functional as F

__all__ = ['blur_downsample']


def blur_downsample(hr, kernel, scale):
    """Circularly pad by k//2, correlate every channel with ``kernel``, keep ``[0::s, 0::s]``.

    Args:
        hr (Tensor): (N, C, H, W).
        kernel (Tensor): (k, k), (1, 1, k, k) or (N, 1, k, k) with N == batch (one kernel each).
        scale (int): sub-sampling factor.
    Returns:
        Tensor (N, C, ceil(H / s), ceil(W / s)); the graph to both inputs is kept.
    """
    n, c, _, _ = hr.shape
    k = kernel.reshape(-1, 1, kernel.shape[-2], kernel.shape[-1])
    ph, pw = k.shape[-2] // 2, k.shape[-1] // 2
    # circular padding with odd k: k//2 on every side gives back exactly H x W
    x = F.pad(hr, (pw, pw, ph, ph), mode='circular')
    if k.shape[0] == 1:
        out = F.conv2d(x, k.expand(c, 1, -1, -1), groups=c)
    elif k.shape[0] == n:
        out = F.conv2d(x.reshape(1, n * c, *x.shape[-2:]), k.repeat_interleave(c, 0), groups=n * c)
        out = out.reshape(n, c, *out.shape[-2:])
    else:
        raise ValueError(f'{k.shape[0]} kernels for a batch of {n}')
    return out[:, :, ::scale, ::scale]

