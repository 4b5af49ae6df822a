"""Run an (sr, kernel_field) network over overlapping LR tiles, to bound inference memory.

Each LR tile is a *core* (the pixels it contributes) plus ``overlap // 2`` context pixels on
each inner side. The result equals the untiled forward (up to float rounding) wherever that
context covers the network's receptive radius, ``net.receptive_radius``:

* MANet estimator / ``MANet_s1`` (manet_nb=1): radius 11, so ``overlap >= 22`` is exact.
* RRDB-SFT (``MANet_s2``): radius 3 + 17 * nb (173 for nb=10): ``overlap >= 346``.
* ``MANet_s3``: both radii add up (184 at the paper's size): ``overlap >= 368``. Smaller
  overlaps still work but differ from the untiled output near tile seams.

:func:`exact_overlap` returns these numbers. :func:`iter_tiles` yields each tile's outputs (a
:class:`Tile`) for a caller to keep what it needs; :func:`tiled_forward` stitches them whole.
Tiles start on multiples of ``align`` (8): the estimator's stride-2 grid and its replicate
padding to a multiple of 8 then coincide with the full image's, so with an exact overlap the
image borders match too, not only the interior.
"""
from dataclasses import dataclass

import torch

__all__ = ['Tile', 'iter_tiles', 'tiled_forward', 'exact_overlap', 'tile_spans']


def exact_overlap(net):
    """Smallest ``overlap`` for which :func:`tiled_forward` reproduces ``net`` exactly."""
    return 2 * net.receptive_radius


def tile_spans(size, tile, overlap, align=8):
    """Tiles along one axis as ``(start, stop, core_start, core_stop)`` tuples.

    Cores of ``tile - overlap`` pixels cover ``[0, size)``; each tile extends its core by
    ``overlap // 2`` pixels each way (clipped to the image), and its start is rounded down to
    a multiple of ``align``, so a tile may reach ``tile + align - 1`` pixels.
    """
    if size <= tile:
        return [(0, size, 0, size)]
    core = tile - overlap
    if core <= 0:
        raise ValueError(f'tile ({tile}) must be larger than overlap ({overlap})')
    margin = overlap // 2
    spans = []
    for c0 in range(0, size, core):
        c1 = min(c0 + core, size)
        spans.append((max(0, c0 - margin) // align * align, min(size, c1 + margin), c0, c1))
    return spans


@dataclass
class Tile:
    """One tile's forward: what the network saw and returned, and the part it contributes.

    ``span`` (y0, y1, x0, x1) is the LR region fed to the network, ``core`` (cy0, cy1, cx0, cx1)
    the LR pixels this tile contributes (inside ``span``); ``sr`` (B, C, s*(y1-y0), s*(x1-x0)) and
    ``field`` (B, y1-y0, x1-x0, l, l) (or None) cover the whole span; ``image_size`` is the LR (h, w).
    """
    span: tuple
    core: tuple
    scale: int
    image_size: tuple
    sr: torch.Tensor
    field: torch.Tensor | None
    second: object = None

    def core_field(self):
        """The field of the core pixels (B, cy1-cy0, cx1-cx0, l, l), a view."""
        y0, _, x0, _ = self.span
        cy0, cy1, cx0, cx1 = self.core
        return self.field[:, cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]

    def core_of(self, lr_sized):
        """The core of any LR-resolution result of this tile (..., y1-y0, x1-x0), a view."""
        y0, _, x0, _ = self.span
        cy0, cy1, cx0, cx1 = self.core
        return lr_sized[..., cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]

    def core_sr(self):
        """The SR pixels of the core (B, C, s*(cy1-cy0), s*(cx1-cx0)), a view."""
        s = self.scale
        y0, _, x0, _ = self.span
        cy0, cy1, cx0, cx1 = self.core
        return self.sr[..., s * (cy0 - y0):s * (cy1 - y0), s * (cx0 - x0):s * (cx1 - x0)]


def iter_tiles(net, lr, tile, overlap, scale=None, kernel=None, align=8):
    """Run ``net`` tile by tile and yield each :class:`Tile`; nothing is stitched.

    ``tile=None`` (or a tile no smaller than the image) runs the whole image as one tile.
    Arguments as :func:`tiled_forward`. Whatever a caller keeps of each tile (its core SR,
    per-pixel summaries of the field) is all the memory the image costs beyond the network's.
    """
    h, w = lr.shape[-2:]
    tile = tile or max(h, w)
    s = scale
    for y0, y1, cy0, cy1 in tile_spans(h, tile, overlap, align):
        for x0, x1, cx0, cx1 in tile_spans(w, tile, overlap, align):
            args = (lr[..., y0:y1, x0:x1],)
            if kernel is not None:
                args += (kernel[:, y0:y1, x0:x1] if kernel.dim() == 5 else kernel,)
            with torch.no_grad():       # not a decorator: its generator wrapper would keep the last tile alive
                result = net(*args)
            out_sr, out_k = result[:2] if isinstance(result, tuple) else (result, None)
            s = s or out_sr.shape[-2] // (y1 - y0)
            if out_sr.shape[-2:] != (s * (y1 - y0), s * (x1 - x0)):
                raise ValueError(f'SR tile {tuple(out_sr.shape)} is not {s}x the LR tile')
            is_field = torch.is_tensor(out_k) and out_k.dim() == 5 and out_k.shape[1:3] == (y1 - y0, x1 - x0)
            yield Tile((y0, y1, x0, x1), (cy0, cy1, cx0, cx1), s, (h, w), out_sr,
                       out_k if is_field else None, None if is_field else out_k)
            del result, out_sr, out_k, args


@torch.no_grad()
def tiled_forward(net, lr, tile, overlap, scale=None, kernel=None, align=8):
    """Tiled inference for networks returning ``(sr, kernel_field)``, stitched.

    Args:
        net (callable): ``net(lr)`` (or ``net(lr, kernel)`` when ``kernel`` is given) returning
            SR (B, C, h*s, w*s) and a kernel field (B, h, w, l, l) or any other second output
            (then passed through from the first tile, e.g. MANet_s2's input kernel).
        lr (Tensor): (B, C, H, W).
        tile (int): LR tile side (core + overlap).
        overlap (int): total overlap of neighbouring tiles; see :func:`exact_overlap`.
        scale (int): SR factor. Default: inferred from the first tile's output.
        kernel (Tensor): optional kernel for MANet_s2: (B, l, l) is passed to every tile,
            a (B, H, W, l, l) field is cropped like the LR.
        align (int): tile starts are multiples of this. Default: 8 (MANet's padding).

    Returns:
        tuple: SR (B, C_out, H*s, W*s) and the stitched field (B, H, W, l, l). The whole field
        is allocated here: callers that need only per-pixel summaries of it use
        :func:`iter_tiles` instead.
    """
    h, w = lr.shape[-2:]
    sr = field = second = None
    for t in iter_tiles(net, lr, tile, overlap, scale, kernel, align):
        s = t.scale
        cy0, cy1, cx0, cx1 = t.core
        if sr is None:
            sr = t.sr.new_empty(*t.sr.shape[:2], s * h, s * w)
            if t.field is not None:
                field = t.field.new_empty(t.field.shape[0], h, w, *t.field.shape[3:])
            else:
                second = t.second
        sr[..., s * cy0:s * cy1, s * cx0:s * cx1] = t.core_sr()
        if field is not None:
            field[:, cy0:cy1, cx0:cx1] = t.core_field()
    return sr, (field if field is not None else second)
