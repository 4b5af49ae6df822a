"""Estimated kernels drawn on a regular grid over the image (the figure of the papers).

Every ``step`` LR pixels (in both directions, starting half a step in) the estimated kernel
of that pixel is drawn over the image as a small colour-mapped tile (viridis, each kernel
scaled to its own peak, white frame), centred on the pixel's footprint.
"""
import cv2

from ..utils.image_io import write_image
from ..utils.kernel_picture import kernel_tile


def default_step(lr_size, across=8):
    """About ``across`` kernels along the shorter side."""
    return max(1, round(min(lr_size) / across))


def grid_points(lr_size, step):
    """LR pixels (i, j) that get a kernel: the centres of ``step`` x ``step`` cells."""
    h, w = lr_size
    return [(i, j) for i in range(step // 2, h, step) for j in range(step // 2, w, step)]


def kernel_grid_picture(field, step=None, which='est', fill=0.6):
    """RGB uint8 picture (H, W, 3): ``field.image`` with kernels on a grid.

    Args:
        field (KernelField): the kernels and the image.
        step (int): LR pixels between drawn kernels. Default: :func:`default_step`.
        which (str): 'est' (estimated kernels) or 'true'.
        fill (float): tile side as a fraction of the cell (step * scale SR pixels).
    """
    if which not in ('est', 'true'):
        raise ValueError(f"which must be 'est' or 'true', got {which!r}")
    if which == 'true' and field.gt is None:
        raise ValueError(f'{field.path}: no true kernel to draw')
    kernels = field.est if which == 'est' else field.gt
    step = step or default_step(field.lr_size)
    if step < 1:
        raise ValueError(f'grid step must be >= 1 LR pixel, got {step}')
    s = field.scale
    side = max(3, int(round(step * s * fill)))
    pic = field.image.copy()
    H, W = pic.shape[:2]
    for i, j in grid_points(field.lr_size, step):
        tile = kernel_tile(kernels[i, j], zoom=1)
        interp = cv2.INTER_NEAREST if side >= tile.shape[0] else cv2.INTER_AREA
        tile = cv2.resize(tile, (side, side), interpolation=interp)
        tile[[0, -1], :] = 255
        tile[:, [0, -1]] = 255
        cy, cx = i * s + s // 2, j * s + s // 2
        y0, x0 = cy - side // 2, cx - side // 2
        ys, xs = slice(max(0, y0), min(H, y0 + side)), slice(max(0, x0), min(W, x0 + side))
        pic[ys, xs] = tile[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    return pic


def save_kernel_grid(field, path, step=None, which='est'):
    pic = kernel_grid_picture(field, step, which)
    write_image(path, pic, channel_order='rgb')
    return pic
