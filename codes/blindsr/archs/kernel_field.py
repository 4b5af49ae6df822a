"""Kernel fields: one blur kernel per LR pixel, shape (B, h, w, l, l), kernels summing to 1.

The project keeps kernel fields at LR resolution. The MANet authors instead returned an
HR-resolution field (B, H*W, l, l) made by nearest upsampling, which costs scale^2 times the
memory and carries no extra information; :func:`hr_kernel_field` builds it only on request
(golden-data comparisons, the authors' kernel loss).
"""
import torch


def kernel_field_from_logits(logits, kernel_size):
    """Softmax over the l*l kernel taps of every pixel.

    Args:
        logits (Tensor): (B, l*l, h, w), the estimator's last convolution.
        kernel_size (int): l.

    Returns:
        Tensor: (B, h, w, l, l), a view of the channel-first softmax (no copy): a softmax over
        the channels of the NCHW logits is about 2.5x faster than one over the last dim of the
        permuted tensor, and :func:`field_to_maps` turns the field back into contiguous maps.
    """
    return torch.softmax(logits, dim=1).permute(0, 2, 3, 1).unflatten(3, (kernel_size, kernel_size))


def field_to_maps(field):
    """(B, h, w, l, l) -> the authors' LR layout (B, l*l, h, w) (a view)."""
    return field.flatten(3).permute(0, 3, 1, 2)


def hr_kernel_field(field, scale):
    """The authors' HR kernel layout: (B, h, w, l, l) -> (B, h*s * w*s, l, l).

    HR pixel (i, j) gets the kernel of LR pixel (i // s, j // s) (nearest upsampling), at
    position ``i * (w*s) + j``. Allocates s^2 times the LR field: call only when needed.
    """
    b, h, w, l1, l2 = field.shape
    up = field[:, :, None, :, None].expand(b, h, scale, w, scale, l1, l2)
    return up.reshape(b, h * scale * w * scale, l1, l2)     # one copy, no intermediate
