"""infer.py's output picture, assembled tile by tile in 8 bits: the float SR image never exists whole.

Colour inputs give RGB, gray inputs gray (the mean of the SR channels), RGBA inputs RGB plus the
alpha channel enlarged (bicubic). Values are clipped to [0, 1] and rounded to uint8 exactly as a
whole-image conversion would, so tiles change nothing.
"""
import cv2
import numpy as np

from ..engine.tile_sinks import TileSink


def to_uint8(sr_rgb, gray):
    """uint8 picture (H, W, 3) or, for ``gray``, (H, W) from float RGB (H, W, 3)."""
    if gray:
        return (np.clip(np.clip(sr_rgb, 0, 1).mean(axis=2), 0, 1) * 255).round().astype(np.uint8)
    return (np.clip(sr_rgb, 0, 1) * 255).round().astype(np.uint8)


def with_alpha(picture, alpha):
    """``picture`` (H, W, 3, any channel order) with ``alpha`` (float [0, 1], LR size) enlarged as a fourth channel."""
    a = cv2.resize(alpha, (picture.shape[1], picture.shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.concatenate([picture, (np.clip(a, 0, 1) * 255).round().astype(np.uint8)[:, :, None]], axis=2)


class SRPicture(TileSink):
    """Collects the SR of image 0 as a uint8 picture in OpenCV's order: BGR, or gray with ``gray``
    (written as it is, with no channel-swapped copy of the whole picture)."""

    def __init__(self, gray=False):
        self.gray = gray
        self.picture = None

    def add(self, tile):
        s, (h, w) = tile.scale, tile.image_size
        core = to_uint8(tile.core_sr()[0].float().permute(1, 2, 0).cpu().numpy(), self.gray)
        if self.picture is None:
            self.picture = np.empty((s * h, s * w) + core.shape[2:], np.uint8)
        cy0, _, cx0, _ = tile.core
        self.picture[s * cy0:s * cy0 + core.shape[0], s * cx0:s * cx0 + core.shape[1]] = \
            core if self.gray else core[:, :, ::-1]

    def result(self, alpha=None):
        """The picture to write, BGR (BGRA when ``alpha`` is given for a colour picture) or gray."""
        if alpha is not None and not self.gray:
            return with_alpha(self.picture, alpha)
        return self.picture
