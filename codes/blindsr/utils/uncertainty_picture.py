"""Uncertainty maps: the per-pixel spread of several SR draws, colour-mapped, with a colour bar.

The picture is the map at the SR's size (the spread averaged over the colour channels, in grey
levels of 0..255), followed on the right by a gap and a colour bar: its bottom is 0, its top the
99th percentile of the image's spread, written above the bar with a ``+`` (e.g. ``3.2+``: brighter
pixels saturate; a few isolated pixels can spread far more than the rest), the midpoint beside it.
Each image has its own scale; the numbers on the bar give it in grey levels.
"""
import cv2
import numpy as np

from .image_io import write_image

BAR_WIDTH = 12
GAP = 4
LABEL_WIDTH = 44
SCALE_PERCENTILE = 99


def _colormap(x):
    """[0, 1] -> RGB uint8 with matplotlib's magma (no pyplot, no display needed)."""
    from matplotlib import colormaps
    return (colormaps['magma'](x)[..., :3] * 255).round().astype(np.uint8)


def spread_levels(std):
    """(C, H, W) or (H, W) std in [0, 1] units (tensor or array) -> (H, W) float64 in grey levels (0..255)."""
    if hasattr(std, 'detach'):
        std = std.detach().float().cpu().numpy()
    std = np.asarray(std, dtype=np.float64)
    if std.ndim == 3:
        std = std.mean(axis=0)
    return std * 255.0


def _label(canvas, text, x, y):
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 0), 1, cv2.LINE_AA)


def uncertainty_picture(std):
    """RGB uint8 (H, W + bar) picture of a spread map (see the module docstring); returns (picture, top of
    the scale in grey levels)."""
    levels = spread_levels(std)
    h, w = levels.shape
    peak = float(np.percentile(levels, SCALE_PERCENTILE))
    if peak <= 0:
        peak = float(levels.max())
    scaled = np.clip(levels / peak, 0, 1) if peak > 0 else levels
    bar_h = max(h, 40)
    canvas = np.full((bar_h, w + GAP + BAR_WIDTH + LABEL_WIDTH, 3), 255, np.uint8)
    canvas[:h, :w] = _colormap(scaled)
    top = 10                                   # room for the label above the bar
    ramp = np.linspace(1.0, 0.0, bar_h - top - 2)[:, None].repeat(BAR_WIDTH, axis=1)
    x0 = w + GAP
    canvas[top:top + ramp.shape[0], x0:x0 + BAR_WIDTH] = _colormap(ramp)
    canvas = np.ascontiguousarray(canvas)
    _label(canvas, f'{peak:.2g}+', x0, 8)
    _label(canvas, f'{peak / 2:.2g}', x0 + BAR_WIDTH + 2, top + ramp.shape[0] // 2 + 3)
    _label(canvas, '0', x0 + BAR_WIDTH + 2, top + ramp.shape[0])
    return canvas, peak


def save_uncertainty_picture(path, std):
    """Write the picture of ``std`` (C, H, W) to ``path`` (atomically); returns the top of its scale (grey levels)."""
    picture, peak = uncertainty_picture(std)
    write_image(path, picture, channel_order='rgb')
    return peak
