"""Kernel pictures: estimated beside true kernel, each scaled to its own peak, colour-mapped, labelled."""
import cv2
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


def _labelled(tile, text, height=16):
    """``tile`` under a white strip naming it (and its peak, since each tile is scaled to its own)."""
    strip = np.full((height, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (3, height - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, tile], axis=0)


def kernel_picture(est, gt=None, zoom=8, gap=4, labels=('estimated', 'true')):
    """RGB uint8 picture: ``est`` (l, l), and ``gt`` to its right when given, each titled with its
    label and peak value (``labels=None``: no titles)."""
    kernels = [est] + ([gt] if gt is not None else [])
    tiles = [kernel_tile(k, zoom) for k in kernels]
    if labels is not None:
        tiles = [_labelled(t, f'{name} (peak {float(np.max(k)):.3f})') for t, k, name in zip(tiles, kernels, labels)]
    parts = [tiles[0]]
    for t in tiles[1:]:
        parts += [np.full((t.shape[0], gap, 3), 255, np.uint8), t]
    return np.concatenate(parts, axis=1)


def save_kernel_picture(path, est, gt=None, zoom=8):
    write_image(path, kernel_picture(est, gt, zoom), channel_order='rgb')
