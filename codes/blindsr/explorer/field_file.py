"""A saved kernel field (``test.py --save_kernel`` / ``infer.py --save_kernel``) ready to explore.

The ``.npz`` holds ``sr_img`` (uint8 HxWx3 BGR, empty for a kernel-only model), ``est_ker_lr``
(h, w, l, l): the estimated kernel of every LR pixel, ``scale``, and optionally ``gt_ker``
((l, l) or (h, w, l, l)) and ``lr_img`` (uint8 hxwx3 BGR). SR pixel (x, y) belongs to LR pixel
(y // s, x // s). Files of format 2 (``utils/kernel_file.py``: ``est_ker_lr`` in float16, stored
uncompressed, plus ``est_codes``/``pca_basis``) are memory-mapped, so a whole photo opens in
bounded memory; older files (float32, compressed) and the authors' own (``est_ker_sv``: one
kernel per SR pixel) load too.
"""
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.image_io import read_image
from ..utils.kernel_file import read_kernel_file

PSNR_CHUNK = 2 ** 16        # LR pixels per step of the kernel-PSNR map (bounded memory on large fields)


class KernelFileError(ValueError):
    """A kernel-field file that cannot be explored; the message names the file and the fix."""


@dataclass
class KernelField:
    """Estimated (and true) kernels of one image, with the picture to show them over.

    image: uint8 RGB (H, W, 3), H = h * scale, W = w * scale.
    image_kind: where ``image`` comes from ('SR', 'LR x<s> (nearest)', the ``--image`` path, 'none').
    est: (h, w, l, l) estimated kernels: float32, or a read-only float16 memory map (format 2);
        index it (``est[i, j]``) rather than converting it whole.
    gt: (h, w, l, l) float32 true kernels (a broadcast view for one invariant kernel) or None.
    gt_kind: 'kernel' (spatially invariant), 'field' or None.
    codes, basis: the PCA codes (h, w, k) the SR network was fed and the basis (l*l, k), or None.
    """
    path: Path
    image: np.ndarray
    image_kind: str
    est: np.ndarray
    gt: np.ndarray | None
    gt_kind: str | None
    scale: int
    codes: np.ndarray | None = None
    basis: np.ndarray | None = None

    @property
    def lr_size(self):
        return self.est.shape[:2]

    @property
    def sr_size(self):
        return self.image.shape[:2]

    @property
    def kernel_size(self):
        return self.est.shape[-1]

    def lr_pixel(self, x, y):
        """LR pixel (i, j) of SR pixel (x, y) (column, row), clamped into the image."""
        h, w = self.lr_size
        return min(max(int(y) // self.scale, 0), h - 1), min(max(int(x) // self.scale, 0), w - 1)

    def kernels_at(self, x, y):
        """(estimated kernel, true kernel or None, kernel PSNR in dB or None) under SR pixel (x, y)."""
        i, j = self.lr_pixel(x, y)
        est = np.asarray(self.est[i, j], np.float32)
        if self.gt is None:
            return est, None, None
        gt = self.gt[i, j]
        return est, gt, psnr(est, gt)

    def psnr_map(self):
        """(h, w) kernel PSNR of every LR pixel, or None without true kernels."""
        if self.gt is None:
            return None
        h, w = self.lr_size
        est = self.est.reshape(h * w, -1)
        gt = self.gt.reshape(h * w, -1)
        mse = np.empty(h * w)
        for p in range(0, h * w, PSNR_CHUNK):
            diff = est[p:p + PSNR_CHUNK].astype(np.float64) - gt[p:p + PSNR_CHUNK]
            mse[p:p + PSNR_CHUNK] = np.mean(diff ** 2, axis=-1)
        with np.errstate(divide='ignore'):
            return (-10.0 * np.log10(mse)).reshape(h, w)


def psnr(est, gt):
    """Kernel PSNR 20 log10(1 / RMSE) (peak 1, as ``metrics.kernel_psnr``)."""
    mse = float(np.mean((np.asarray(est, np.float64) - np.asarray(gt, np.float64)) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _bgr_to_rgb(img):
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, 2::-1])


def _background(data, path, est, scale, image):
    """The picture under the kernels: ``image`` if given, else SR, else the LR enlarged."""
    h, w = est.shape[:2]
    H, W = h * scale, w * scale
    if image is not None:
        pic = (read_image(image) * 255).round().astype(np.uint8)
        kind = str(image)
    elif data.get('sr_img') is not None and data['sr_img'].size:
        pic, kind = _bgr_to_rgb(data['sr_img']), 'SR'
    elif data.get('lr_img') is not None and data['lr_img'].size:
        pic, kind = _bgr_to_rgb(data['lr_img']), f'LR x{scale} (nearest)'
    else:
        return np.full((H, W, 3), 128, np.uint8), 'none'
    if pic.shape[:2] == (h, w) and scale > 1:
        pic = np.repeat(np.repeat(pic, scale, axis=0), scale, axis=1)
    if pic.shape[:2] != (H, W):
        raise KernelFileError(f'{path}: the image is {pic.shape[0]}x{pic.shape[1]} but the kernel field covers '
                              f'{h}x{w} LR pixels at x{scale} ({H}x{W}); give a matching --image')
    return pic, kind


def load_kernel_field(path, image=None):
    """Read a kernel-field ``.npz``; ``image`` (a path) replaces the picture stored in it."""
    path = Path(path)
    if not path.is_file():
        raise KernelFileError(f'{path}: file not found; test.py --save_kernel writes results/<name>/<set>/npz/')
    try:
        data = read_kernel_file(path)
    except Exception as e:     # zipfile/pickle/OSError: anything numpy raises on a bad file
        raise KernelFileError(f'{path}: cannot read ({type(e).__name__}: {e})') from e
    if 'est_ker_lr' in data:
        est = data['est_ker_lr']
        if not isinstance(est, np.memmap) or est.dtype not in (np.float16, np.float32):
            est = np.asarray(est, np.float32)
        scale = int(data.get('scale', 1))
    elif 'est_ker_sv' in data and data.get('sr_img') is not None and data['sr_img'].ndim >= 2:
        # the authors' layout: one kernel per SR pixel, (H*W, l, l)
        H, W = data['sr_img'].shape[:2]
        est = np.asarray(data['est_ker_sv'], np.float32).reshape(H, W, *data['est_ker_sv'].shape[-2:])
        scale = 1
    else:
        raise KernelFileError(f"{path}: no 'est_ker_lr' array (found {', '.join(data) or 'nothing'}); "
                              'write it with test.py --save_kernel or infer.py --save_kernel')
    if est.ndim != 4 or est.shape[-1] != est.shape[-2] or scale < 1:
        raise KernelFileError(f'{path}: est_ker_lr has shape {est.shape}, expected (h, w, l, l)')
    gt, gt_kind = None, None
    if 'gt_ker' in data and data['gt_ker'].size and np.any(data['gt_ker']):     # all zeros: none (authors)
        g = np.asarray(data['gt_ker'], np.float32)
        if g.shape == est.shape[-2:]:
            gt, gt_kind = np.broadcast_to(g, est.shape), 'kernel'
        elif g.shape == est.shape:
            gt, gt_kind = g, 'field'
        elif g.ndim == 3 and g.shape[0] == est.shape[0] * est.shape[1] and g.shape[1:] == est.shape[-2:]:
            gt, gt_kind = g.reshape(est.shape), 'field'
        else:
            raise KernelFileError(f'{path}: gt_ker has shape {g.shape}, which fits neither one kernel '
                                  f'{est.shape[-2:]} nor the field {est.shape}')
    codes, basis = data.get('est_codes'), data.get('pca_basis')
    if codes is not None and (basis is None or codes.shape != est.shape[:2] + basis.shape[1:]
                              or basis.shape[0] != est.shape[-1] * est.shape[-2]):
        raise KernelFileError(f'{path}: est_codes {codes.shape} and pca_basis '
                              f'{None if basis is None else basis.shape} do not fit the field {est.shape}')
    pic, kind = _background(data, path, est, scale, image)
    return KernelField(path, pic, kind, est, gt, gt_kind, scale, codes, basis)
