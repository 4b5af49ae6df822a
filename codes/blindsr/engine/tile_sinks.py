"""Consumers of a tiled forward: each takes the tiles of one image and keeps only what it needs.

A model's ``test_streamed`` (``models/base_model.py``) hands every
:class:`~blindsr.archs.tiling.Tile` to each sink's ``add``; afterwards a sink holds its result
and the tile is dropped. So the estimated kernel field (441 floats per LR pixel) never exists
for the whole image unless a :class:`FieldStitcher` asks for it:

* :class:`SRStitcher`: the SR image (float, for the metrics of test.py).
* :class:`FieldStitcher`: the whole field (validation-sized images, tests).
* :class:`CentreKernel`: the kernel of the centre LR pixel (the kernel picture).
* :class:`KernelPSNR`: kernel PSNR against the true kernel or field, averaged over LR pixels.
* :class:`Reblurred`: the HR (or, without one, the SR) re-degraded with the estimated kernels,
  an LR-sized image for LR-PSNR. Each tile re-degrades its own span and keeps its core, which
  equals re-degrading the whole image wherever the tile's margin (``tile_overlap // 2``) covers
  the kernel's reach (``ceil(l / 2 / s)`` LR pixels, 3 for 21x21 at x4); the SR source is then
  the tile's own SR, which equals the stitched one for an exact overlap (``archs/tiling.py``).

Other sinks: ``utils/kernel_file.py`` (the ``--save_kernel`` file, written tile by tile) and
``inference/sr_picture.py`` (infer.py's 8-bit picture).
"""
import torch

from ..metrics.kernel_metrics import kernel_field_psnr


class TileSink:
    """Base: ``add(tile)`` for every tile of an image, in any order."""

    def add(self, tile):
        raise NotImplementedError


class SRStitcher(TileSink):
    """The SR image (B, C, s*h, s*w), float32, clamped to [0, 1]."""

    def __init__(self):
        self.sr = None

    def add(self, tile):
        s, (h, w) = tile.scale, tile.image_size
        if self.sr is None:
            self.sr = torch.empty(*tile.sr.shape[:2], s * h, s * w, dtype=torch.float32, device=tile.sr.device)
        cy0, cy1, cx0, cx1 = tile.core
        self.sr[..., s * cy0:s * cy1, s * cx0:s * cx1] = tile.core_sr().float().clamp(0, 1)


class FieldStitcher(TileSink):
    """The whole estimated field (B, h, w, l, l), float32: 441 floats per LR pixel; ask only for small images."""

    def __init__(self):
        self.field = None

    def add(self, tile):
        h, w = tile.image_size
        if self.field is None:
            f = tile.field
            self.field = torch.empty(f.shape[0], h, w, *f.shape[3:], dtype=torch.float32, device=f.device)
        cy0, cy1, cx0, cx1 = tile.core
        self.field[:, cy0:cy1, cx0:cx1] = tile.core_field()


class CentreKernel(TileSink):
    """The estimated kernel (l, l) of image 0 at LR pixel (h // 2, w // 2), as float32 numpy."""

    def __init__(self):
        self.kernel = None

    def add(self, tile):
        h, w = tile.image_size
        i, j = h // 2, w // 2
        cy0, cy1, cx0, cx1 = tile.core
        if cy0 <= i < cy1 and cx0 <= j < cx1:
            y0, _, x0, _ = tile.span
            self.kernel = tile.field[0, i - y0, j - x0].float().cpu().numpy()


def _core_of_true(true, tile):
    """The true kernels of the tile's core: a (B, n, m, l, l) view of a field or of one kernel."""
    cy0, cy1, cx0, cx1 = tile.core
    if true.dim() == 5:
        return true[:, cy0:cy1, cx0:cx1]
    return true[:, None, None].expand(true.shape[0], cy1 - cy0, cx1 - cx0, *true.shape[-2:])


class KernelPSNR(TileSink):
    """Kernel PSNR of image 0 (mean over LR pixels of the per-pixel PSNR, ``metrics.kernel_field_psnr``).

    Args:
        true (Tensor): the true kernel (B, l, l) or field (B, h, w, l, l).
    """

    def __init__(self, true):
        self.true = true
        self.total, self.count = 0.0, 0

    def add(self, tile):
        est = tile.core_field()[0]
        gt = _core_of_true(self.true, tile)[0]
        n = est.shape[0] * est.shape[1]
        if n:
            self.total += kernel_field_psnr(est, gt) * n
            self.count += n

    @property
    def value(self):
        return self.total / self.count if self.count else None


class Reblurred(TileSink):
    """The source re-degraded with the estimated kernels, (B, C, h, w), assembled tile by tile.

    Args:
        reblur (callable): ``reblur(hr, field)`` -> LR, the model's degradation (``BaseModel.reblur``).
        source (Tensor): the HR image (B, C, s*h, s*w), or None to use each tile's own SR.
    """

    def __init__(self, reblur, source=None):
        self.reblur, self.source = reblur, source
        self.lr = None

    def add(self, tile):
        s, (h, w) = tile.scale, tile.image_size
        y0, y1, x0, x1 = tile.span
        if self.source is not None:
            src = self.source[..., s * y0:s * y1, s * x0:s * x1]
        else:
            src = tile.sr.float().clamp(0, 1)
        part = self.reblur(src[:1], tile.field[:1].float())
        if self.lr is None:
            self.lr = part.new_empty(part.shape[0], part.shape[1], h, w)
        cy0, cy1, cx0, cx1 = tile.core
        self.lr[..., cy0:cy1, cx0:cx1] = tile.core_of(part)


def feed_whole(sinks, out, scale):
    """Feed the outputs of an untiled ``test()`` to ``sinks`` as one tile covering the image."""
    from ..archs.tiling import Tile
    h, w = out['lr'].shape[-2:]
    sr = out.get('sr')
    if sr is None:
        sr = out['lr'].new_zeros(out['lr'].shape[0], out['lr'].shape[1], 0, 0)
    tile = Tile((0, h, 0, w), (0, h, 0, w), scale, (h, w), sr, out.get('est_field'))
    for sink in sinks:
        sink.add(tile)
