"""Reading, writing and converting images.

One in-memory convention for the whole project: float32 RGB, HxWxC, values in [0, 1]
(numpy), or CxHxW tensors. The only 8-bit BGR path is :func:`tensor2img`, kept because the
authors compute every reported metric on its output.
"""
from pathlib import Path

import cv2
import numpy as np
import torch

from blindsr.utils.files import atomic_write_bytes

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded, or a folder holds no images."""


class ImageNotFoundError(FileNotFoundError):
    """An image file or image folder does not exist."""


def _to_rgb_float(img, path):
    """Decoded OpenCV array (any depth/channels) -> float32 RGB HxWx3 in [0, 1]."""
    if img.dtype == np.uint8:
        x = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        x = img.astype(np.float32) / 65535.0
    elif img.dtype in (np.float32, np.float64):
        x = img.astype(np.float32)              # float files are taken as already in [0, 1]
    else:
        raise ImageReadError(f'{path}: unsupported pixel type {img.dtype}; '
                             'convert it to an 8- or 16-bit PNG')
    if x.ndim == 2:
        x = x[:, :, None]
    channels = x.shape[2]
    if channels in (1, 2):                       # gray (+ alpha): replicate gray
        x = np.repeat(x[:, :, :1], 3, axis=2)
    elif channels in (3, 4):                     # BGR (+ alpha): drop alpha, to RGB
        x = x[:, :, 2::-1]
    else:
        raise ImageReadError(f'{path}: {channels} channels are not supported; '
                             'save it as gray, RGB or RGBA')
    return np.ascontiguousarray(x)


def read_image(path):
    """Read an image file as float32 RGB HxWx3 in [0, 1].

    Gray becomes 3 equal channels, alpha is dropped, 16-bit is scaled by 65535. EXIF
    orientation is ignored (as the authors' ``cv2.IMREAD_UNCHANGED`` reader does).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageNotFoundError(f'{path}: image file not found; check the dataset path')
    data = np.fromfile(str(path), dtype=np.uint8)     # also works for non-ASCII paths
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None or img.size == 0:
        raise ImageReadError(f'{path}: cannot decode image (corrupt or not an image); '
                             're-export or remove the file')
    return _to_rgb_float(img, path)


def write_image(path, img, channel_order='rgb'):
    """Write an HxW or HxWxC image atomically; the file type follows the extension.

    ``uint8``/``uint16`` arrays are written as they are; float arrays are taken as [0, 1],
    clipped and rounded to 8 bits. ``channel_order`` is that of ``img`` ('rgb' or 'bgr').
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(f'{path}: unsupported extension {path.suffix!r}; '
                         f'use one of {", ".join(IMAGE_EXTENSIONS)}')
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    img = np.asarray(img)
    if img.dtype not in (np.uint8, np.uint16):
        img = (np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if img.ndim == 3 and img.shape[2] in (3, 4) and channel_order == 'rgb':
        order = [2, 1, 0] + ([3] if img.shape[2] == 4 else [])
        img = img[:, :, order]
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(img))
    if not ok:
        raise ValueError(f'{path}: OpenCV could not encode an image of shape {img.shape}, '
                         f'dtype {img.dtype} as {ext}')
    atomic_write_bytes(memoryview(buf), path)      # the encoded bytes, not a copy of them


def list_images(folder, recursive=False):
    """Sorted image files (png/jpg/jpeg/bmp/tif/tiff, any case) in ``folder``.

    Hidden files (e.g. macOS ``._name.png``) are skipped. Raises if the folder is missing
    or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageNotFoundError(f'{folder}: image folder not found; check the dataset path')
    pattern = '**/*' if recursive else '*'
    files = sorted(p for p in folder.glob(pattern)
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                   and not p.name.startswith('.'))
    if not files:
        raise ImageReadError(f'{folder}: no image files ({"/".join(e[1:] for e in IMAGE_EXTENSIONS)}) '
                             'in this folder; check the dataset path')
    return files


def img2tensor(img):
    """HxWxC (or HxW) numpy array -> float32 CxHxW tensor (a copy; input untouched)."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3:
        raise ValueError(f'expected an HxW or HxWxC array, got shape {img.shape}')
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32))


def tensor2numpy(tensor):
    """CxHxW (or 1xCxHxW) tensor -> float32 HxWxC numpy array, values unchanged."""
    t = tensor.detach().to('cpu', torch.float32)
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3:
        raise ValueError(f'expected a CxHxW or 1xCxHxW tensor, got shape {tuple(tensor.shape)}')
    return t.permute(1, 2, 0).numpy().copy()


def tensor2img(tensor, out_type=np.uint8, min_max=(0.0, 1.0)):
    """Tensor in ``min_max`` -> image as the authors save and evaluate it.

    Clamp to ``min_max``, rescale to [0, 1]; 3-channel CxHxW RGB becomes HxWxC **BGR**;
    for ``uint8`` output values are ``(x * 255).round()``. A leading batch dimension of 1
    is dropped; 2-D tensors (e.g. kernels) stay 2-D.
    """
    t = tensor.detach().to('cpu', torch.float32)
    while t.dim() > 3 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 3 and t.shape[0] == 1:
        t = t[0]
    lo, hi = min_max
    t = (t.clamp(lo, hi) - lo) / (hi - lo)
    if t.dim() == 3:
        arr = t.numpy()
        if arr.shape[0] == 3:
            arr = arr[::-1]
        arr = arr.transpose(1, 2, 0)
    elif t.dim() == 2:
        arr = t.numpy()
    else:
        raise ValueError(f'tensor2img: expected a 2-D, 3-D or 1xCxHxW tensor, got {tuple(tensor.shape)}')
    if out_type == np.uint8:
        arr = (arr * 255.0).round()
    return np.ascontiguousarray(arr).astype(out_type)
