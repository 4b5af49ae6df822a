"""Kernel pictures: estimated beside true kernel, each scaled to its own peak, colour-mapped."""
import numpy as np

from .image_io import write_image


def _colormap(x):
    """[0, 1] -> RGB uint8 with matplotlib's viridis (no pyplot, no display needed)."""
    from matplotlib import colormaps
    return (colormaps['viridis'](x)[..., :3] * 255).round().astype(np.uint8)


def kernel_tile(kernel, zoom=8):
    k = np.asarray(kernel, dtype=np.float64)
    peak = k.max()
    k = k / peak if peak > 0 else k
    return _colormap(np.kron(k, np.ones((zoom, zoom))))


def kernel_picture(est, gt=None, zoom=8, gap=4):
    """RGB uint8 picture: ``est`` (l, l), and ``gt`` to its right when given."""
    tiles = [kernel_tile(est, zoom)]
    if gt is not None:
        tiles += [np.full((tiles[0].shape[0], gap, 3), 255, np.uint8), kernel_tile(gt, zoom)]
    return np.concatenate(tiles, axis=1)


def save_kernel_picture(path, est, gt=None, zoom=8):
    write_image(path, kernel_picture(est, gt, zoom), channel_order='rgb')
