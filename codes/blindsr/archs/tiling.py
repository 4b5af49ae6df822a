"""Run an (sr, kernel_field) network over overlapping LR tiles, to bound inference memory.

Each LR tile is a *core* (the pixels it contributes) plus ``overlap // 2`` context pixels on
each inner side. The result equals the untiled forward (up to float rounding) wherever that
context covers the network's receptive radius, ``net.receptive_radius``:

* MANet estimator / ``MANet_s1`` (manet_nb=1): radius 11, so ``overlap >= 22`` is exact.
* RRDB-SFT (``MANet_s2``): radius 3 + 17 * nb (173 for nb=10): ``overlap >= 346``.
* ``MANet_s3``: both radii add up (184 at the paper's size): ``overlap >= 368``. Smaller
  overlaps still work but differ from the untiled output near tile seams.

:func:`exact_overlap` returns these numbers. Tiles start on multiples of ``align`` (8): the
estimator's stride-2 grid and its replicate padding to a multiple of 8 then coincide with
the full image's, so with an exact overlap the image borders match too, not only the interior.
"""
import torch

__all__ = ['tiled_forward', 'exact_overlap', 'tile_spans']


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


@torch.no_grad()
def tiled_forward(net, lr, tile, overlap, scale=None, kernel=None, align=8):
    """Tiled inference for networks returning ``(sr, kernel_field)``.

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
        tuple: SR (B, C_out, H*s, W*s) and the stitched field (B, H, W, l, l).
    """
    h, w = lr.shape[-2:]
    sr = field = second = None
    for y0, y1, cy0, cy1 in tile_spans(h, tile, overlap, align):
        for x0, x1, cx0, cx1 in tile_spans(w, tile, overlap, align):
            args = (lr[..., y0:y1, x0:x1],)
            if kernel is not None:
                args += (kernel[:, y0:y1, x0:x1] if kernel.dim() == 5 else kernel,)
            out_sr, out_k = net(*args)
            if sr is None:
                s = scale or out_sr.shape[-2] // (y1 - y0)
                if out_sr.shape[-2:] != (s * (y1 - y0), s * (x1 - x0)):
                    raise ValueError(f'SR tile {tuple(out_sr.shape)} is not {s}x the LR tile')
                sr = out_sr.new_empty(*out_sr.shape[:2], s * h, s * w)
                is_field = torch.is_tensor(out_k) and out_k.dim() == 5 and out_k.shape[1:3] == (y1 - y0, x1 - x0)
                if is_field:
                    field = out_k.new_empty(out_k.shape[0], h, w, *out_k.shape[3:])
                else:
                    second = out_k
            sr[..., s * cy0:s * cy1, s * cx0:s * cx1] = \
                out_sr[..., s * (cy0 - y0):s * (cy1 - y0), s * (cx0 - x0):s * (cx1 - x0)]
            if field is not None:
                field[:, cy0:cy1, cx0:cx1] = out_k[:, cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    return sr, (field if field is not None else second)
