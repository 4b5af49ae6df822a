"""An 8-bit PNG written band by band, so a picture larger than memory never has to exist whole.

Rows arrive top to bottom in bands (any number of rows each); every row is Paeth-filtered
(vectorised: PNG filters are functions of the raw bytes of the row and the one above) and
deflated into IDAT chunks as it comes. The file is written to a temporary and renamed at
``close()``; leaving the ``with`` block by an exception removes it. Any PNG reader decodes the
result to the same pixels as OpenCV's own PNG of the picture (the bytes differ).
"""
import struct
import zlib

import numpy as np

from .files import atomic_path

_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}        # channels -> PNG colour type (gray, gray+alpha, RGB, RGBA)
_SIGNATURE = b'\x89PNG\r\n\x1a\n'
FILTER_ROWS = 32           # rows filtered at once


def _chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)


def paeth_filter(rows, above):
    """Filter type 4 of ``rows`` (n, W, C) uint8 given the row ``above`` (W, C) (zeros for the first):
    (n, 1 + W*C) uint8, each row led by its filter byte."""
    x = rows.astype(np.int16)
    b = np.concatenate([above[None].astype(np.int16), x[:-1]], axis=0)      # up
    a = np.zeros_like(x)
    a[:, 1:] = x[:, :-1]                                                    # left (same channel)
    c = np.zeros_like(x)
    c[:, 1:] = b[:, :-1]                                                    # up-left
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    out = np.empty((x.shape[0], 1 + x.shape[1] * x.shape[2]), np.uint8)
    out[:, 0] = 4
    out[:, 1:] = ((x - pred) & 0xff).astype(np.uint8).reshape(x.shape[0], -1)
    return out


class PNGStreamWriter:
    """Write ``path`` (8-bit, ``channels`` in RGB(A) order, or gray) of ``height`` x ``width`` by bands."""

    def __init__(self, path, width, height, channels, level=4):
        if channels not in _COLOUR_TYPES:
            raise ValueError(f'{path}: a PNG has 1 to 4 channels, not {channels}')
        self.path, self.width, self.height, self.channels = path, int(width), int(height), channels
        self.level = level
        self.rows = 0
        self._atomic = self._file = None

    def __enter__(self):
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._file = open(tmp, 'wb')
        self._file.write(_SIGNATURE + _chunk(b'IHDR', struct.pack('>IIBBBBB', self.width, self.height, 8,
                                                                  _COLOUR_TYPES[self.channels], 0, 0, 0)))
        self._deflate = zlib.compressobj(self.level)
        self._above = np.zeros((self.width, self.channels), np.uint8)
        return self

    def write(self, band):
        """Append ``band`` (n, width[, channels]) uint8: the next n rows."""
        band = np.asarray(band, np.uint8).reshape(-1, self.width, self.channels)
        if self.rows + band.shape[0] > self.height:
            raise ValueError(f'{self.path}: {self.rows + band.shape[0]} rows written to a {self.height}-row PNG')
        for r in range(0, band.shape[0], FILTER_ROWS):     # the filter's int16 temporaries stay small
            rows = band[r:r + FILTER_ROWS]
            data = self._deflate.compress(paeth_filter(rows, self._above).tobytes())
            if data:
                self._file.write(_chunk(b'IDAT', data))
            self._above = rows[-1].copy()
        self.rows += band.shape[0]

    def __exit__(self, kind, value, tb):
        try:
            if kind is None:
                if self.rows != self.height:
                    raise ValueError(f'{self.path}: {self.rows} of {self.height} rows written')
                self._file.write(_chunk(b'IDAT', self._deflate.flush()) + _chunk(b'IEND', b''))
            self._file.close()
        except BaseException as e:
            self._file.close()
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise
        return self._atomic.__exit__(kind, value, tb)
