"""infer.py's output picture, made tile by tile in 8 bits: the float SR image never exists whole.

Colour inputs give RGB, gray inputs gray (the mean of the SR channels), RGBA inputs RGB plus the
alpha channel enlarged (bicubic). Values are clipped to [0, 1] and rounded to uint8 exactly as a
whole-image conversion would, so tiles change nothing. :class:`SRBands` hands the picture on
by bands of whole rows (one band per row of tiles) to a streamed PNG and kernel file, so not even
the 8-bit picture is held; :class:`SRPicture` keeps it whole (RGBA: the alpha is enlarged at once).
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


class SRBands(TileSink):
    """The SR of image 0 as uint8 bands of whole rows (RGB, or gray), passed on as rows complete.

    Args:
        gray (bool): gray output (the channel mean).
        consumers (list): callables ``consumer(band, row0)``, ``band`` (n, W[, 3]) uint8 RGB or gray
            holding SR rows ``row0 .. row0 + n``, called top to bottom.

    Tiles must come row of tiles by row of tiles (as ``archs.tiling.iter_tiles`` yields them).
    """

    def __init__(self, gray, consumers):
        self.gray, self.consumers = gray, list(consumers)
        self.band = self.rows = None
        self.filled = 0

    def add(self, tile):
        s, (h, w) = tile.scale, tile.image_size
        cy0, cy1, cx0, cx1 = tile.core
        if self.band is None:
            self.rows, self.filled = (cy0, cy1), 0
            self.band = np.empty((s * (cy1 - cy0), s * w) + (() if self.gray else (3,)), np.uint8)
        elif self.rows != (cy0, cy1):
            raise ValueError(f'tile rows {cy0}..{cy1} came before rows {self.rows[0]}..{self.rows[1]} were complete')
        self.band[:, s * cx0:s * cx1] = to_uint8(tile.core_sr()[0].float().permute(1, 2, 0).cpu().numpy(), self.gray)
        self.filled += cx1 - cx0
        if self.filled == w:
            for consume in self.consumers:
                consume(self.band, s * cy0)
            self.band = None
