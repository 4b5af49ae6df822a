"""Blur + s-fold subsampling, spatially invariant (per image) and variant (per pixel).

As the authors: replication padding by ``l // 2`` (``(l//2, l//2 - 1)`` for even l),
cross-correlation (the kernel is *not* flipped), then ``[::s, ::s]``. Blurring and
subsampling are fused: only the kept pixels are computed (a strided conv, or patches
gathered at LR positions), which is s^2 times cheaper and never allocates the HR blur.

Shapes: images (B, C, H, W), any C; per-image kernels (B, l, l) or one (l, l) for all;
kernel fields (B, h, w, l, l) with ``field[b, i, j]`` the kernel of HR pixel (s*i, s*j),
(h, w) = (ceil(H/s), ceil(W/s)).
"""
import torch.nn.functional as F

DEFAULT_CHUNK_BYTES = 4 * 2 ** 20  # bound on the SV blur's product buffer; small chunks stay in cache


def replicate_pad(x, kernel_size):
    """Replication padding so that a 'valid' correlation keeps the size."""
    half = kernel_size // 2
    pads = (half, half, half, half) if kernel_size % 2 else (half, half - 1, half, half - 1)
    return F.pad(x, pads, mode='replicate')


def subsample(x, scale):
    """Keep pixels (s*i, s*j): ``x[..., ::s, ::s]``."""
    return x[..., ::scale, ::scale]


def _per_image_kernels(kernel, batch):
    if kernel.dim() == 2:
        kernel = kernel.unsqueeze(0).expand(batch, -1, -1)
    if kernel.dim() != 3 or kernel.shape[0] != batch or kernel.shape[1] != kernel.shape[2]:
        raise ValueError(f'kernel must be (l, l) or (B={batch}, l, l), got {tuple(kernel.shape)}')
    return kernel


def blur_subsample(hr, kernel, scale=1):
    """Per-image blur then ``[::s, ::s]``, computed as one strided grouped conv.

    ``hr`` (B, C, H, W), ``kernel`` (B, l, l) or (l, l) -> (B, C, ceil(H/s), ceil(W/s)).
    ``scale=1`` is the plain full-resolution blur.
    """
    B, C = hr.shape[:2]
    kernel = _per_image_kernels(kernel, B).to(device=hr.device, dtype=hr.dtype)
    l = kernel.shape[-1]
    padded = replicate_pad(hr, l)
    weight = kernel.repeat_interleave(C, dim=0).unsqueeze(1)  # (B*C, 1, l, l), b-major like the image
    out = F.conv2d(padded.reshape(1, B * C, *padded.shape[-2:]), weight, stride=scale, groups=B * C)
    return out.view(B, C, out.shape[-2], out.shape[-1])


def blur(hr, kernel):
    """Full-resolution per-image blur (B, C, H, W); see :func:`blur_subsample`."""
    return blur_subsample(hr, kernel, 1)


def _check_field(hr, field, scale):
    B, _, H, W = hr.shape
    h, w = -(-H // scale), -(-W // scale)
    if field.dim() != 5 or tuple(field.shape[:3]) != (B, h, w) or field.shape[3] != field.shape[4]:
        raise ValueError(f'kernel field must be (B={B}, h={h}, w={w}, l, l) for scale {scale}, '
                         f'got {tuple(field.shape)}')


def blur_sv_subsample(hr, field, scale, max_chunk_bytes=DEFAULT_CHUNK_BYTES):
    """Spatially variant blur evaluated only at the LR pixels (s*i, s*j).

    ``hr`` (B, C, H, W), ``field`` (B, h, w, l, l) -> LR (B, C, h, w). Works on bands of LR
    rows: each band takes its (C, l, l) patches as a strided view of the padded image (no
    copy) and multiplies them with the band's kernels; besides the padded image, the only
    buffer is that product, below ``max_chunk_bytes`` (or one LR row), whatever the image size. ``scale=1`` with an HR-resolution
    field is the full spatially variant blur (used for tests on tiny images).
    """
    _check_field(hr, field, scale)
    B, C = hr.shape[:2]
    h, w, l = field.shape[1], field.shape[2], field.shape[-1]
    field = field.to(device=hr.device, dtype=hr.dtype)
    padded = replicate_pad(hr, l).contiguous()
    sb, sc, sy, sx = padded.stride()
    row_bytes = B * C * w * l * l * padded.element_size()
    rows_per_chunk = max(1, int(max_chunk_bytes // row_bytes))
    out = hr.new_empty((B, C, h, w))
    for i0 in range(0, h, rows_per_chunk):
        n = min(rows_per_chunk, h - i0)
        # patches[b, c, i, j, y, x] = padded[b, c, s*(i0+i) + y, s*j + x]: a view, no copy
        patches = padded.as_strided((B, C, n, w, l, l), (sb, sc, scale * sy, scale * sx, sy, sx),
                                    padded.storage_offset() + scale * i0 * sy)
        # multiply + sum beats einsum here: einsum copies the patches, then runs h*w tiny GEMVs
        out[:, :, i0:i0 + n] = (patches * field[:, None, i0:i0 + n]).sum(dim=(-2, -1))
    return out


def blur_sv(hr, field_hr, max_chunk_bytes=DEFAULT_CHUNK_BYTES):
    """Full-resolution spatially variant blur with an HR field (B, H, W, l, l).

    Slow and memory-hungry in the field itself: meant for tests and tiny images.
    """
    return blur_sv_subsample(hr, field_hr, 1, max_chunk_bytes)
