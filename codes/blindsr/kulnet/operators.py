"""The degradation operators of DLSM's data step and its LSM proximal step.

Each batch element has its own kernel, shared by its channels. The authors looped over the batch
with depthwise convolutions; here one grouped convolution (groups = B*C) does the whole batch,
which gives the same sums per output pixel.
"""
import torch
import torch.nn.functional as F


def _per_sample_weight(kernel, channels):
    """(B, l, l) kernels -> (B*C, 1, l, l) grouped-conv weight, the same kernel for each channel."""
    b, kh, kw = kernel.shape
    return kernel.reshape(b, 1, 1, kh, kw).expand(b, channels, 1, kh, kw) \
        .reshape(b * channels, 1, kh, kw)


def _grouped(x, kernel, transposed):
    """One grouped (transposed) conv for the whole batch: image b, channel c uses kernel b."""
    b, c, h, w = x.shape
    weight = _per_sample_weight(kernel.to(x.dtype), c)
    pad = (kernel.shape[-2] // 2, kernel.shape[-1] // 2)
    op = F.conv_transpose2d if transposed else F.conv2d
    return op(x.reshape(1, b * c, h, w), weight, padding=pad, groups=b * c).reshape(b, c, h, w)


def blur(x, kernel):
    """Cross-correlate every image with its kernel, zero padding, output the size of the input.

    On the CPU the same sums are computed as a transposed convolution with the flipped kernel:
    oneDNN's large depthwise conv2d is about 10x slower than its transposed one (sums agree to
    float rounding, about 1e-6).
    """
    if x.device.type == 'cpu':
        return _grouped(x, kernel.flip(-2, -1), transposed=True)
    return _grouped(x, kernel, transposed=False)


def blur_t(x, kernel):
    """Transposed blur (correlation with the flipped kernel), zero padding, same size."""
    return _grouped(x, kernel, transposed=True)


def blur_down(x, kernel, scale):
    """The operator A: blur, then bicubic resize by 1/scale (no antialiasing), as the trained weights expect."""
    return F.interpolate(blur(x, kernel), scale_factor=1 / scale, mode='bicubic', align_corners=False)


def up_blur_t(y, kernel, scale):
    """The operator A^T used by the authors: bicubic resize by scale, then the transposed blur.

    It is not the exact adjoint of :func:`blur_down`; the weights were trained with this pair.
    """
    return blur_t(F.interpolate(y, scale_factor=scale, mode='bicubic', align_corners=False), kernel)


def lsm_proximal(r, w, u):
    """The LSM proximal step in the authors' mask form: ``u + soft_threshold(r - u, w)`` for w > 0.

    ``w`` is an unconstrained network output. Where it is negative and ``|r - u| < |w|`` both
    masks fire and the result is ``2r - u``; the clean soft-threshold would differ there, and the
    trained weights expect this form. The masks carry no gradient. The masks test ``r - (r -+ w) != 0``,
    so where ``|w|`` is under half an ulp of ``r`` the result jumps to ``u``: rounding-level
    changes upstream can move such isolated pixels by ``|r - u|``.
    """
    c1 = torch.where(r < u - w, r + w, r)
    m1 = ((r - c1) != 0).to(r.dtype)
    c3 = torch.where(r > u + w, r - w, r)
    m3 = ((r - c3) != 0).to(r.dtype)
    return c1 * m1 + u * (1 - m1 - m3) + c3 * m3
