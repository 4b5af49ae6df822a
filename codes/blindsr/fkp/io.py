"""File formats of the FKP protocols: kernels as MATLAB ``.mat`` (variable ``Kernel``), LR images
as 8-bit PNG written the way the authors' ``plt.imsave`` writes them (truncated, RGBA)."""
from pathlib import Path

import numpy as np
import scipy.io as sio
import torch
from PIL import Image

from ..utils.files import atomic_path

__all__ = ['load_kernel_mat', 'save_kernel_mat', 'read_rgb', 'save_png_like_imsave', 'rgb_to_tensor',
           'tensor_to_uint8']


def load_kernel_mat(path, key='Kernel'):
    """Kernel array stored under ``key`` (float64 as written by the data preparation)."""
    return np.asarray(sio.loadmat(str(path))[key])


def save_kernel_mat(path, kernel, key='Kernel'):
    """FKP's kernel file, MATLAB ``.mat`` with the k x k variable ``key``, written atomically."""
    with atomic_path(Path(path)) as tmp, open(tmp, 'wb') as f:
        sio.savemat(f, {key: np.asarray(kernel)})


def read_rgb(path):
    """uint8 (H, W, 3); RGBA/greyscale files are converted (alpha dropped)."""
    return np.array(Image.open(path).convert('RGB'))


def rgb_to_tensor(img):
    """uint8 or float (H, W, 3) -> float32 (1, 3, H, W) in [0, 1]."""
    img = np.asarray(img)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().unsqueeze(0)


def tensor_to_uint8(x):
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> uint8 (H, W, 3), rounded (as the authors save SR)."""
    x = x.detach().cpu().float()
    if x.ndim == 4:
        x = x[0]
    return np.clip(np.round(x.permute(1, 2, 0).numpy() * 255.), 0, 255).astype(np.uint8)


def save_png_like_imsave(path, img):
    """Write a float image in [0, 1] as ``plt.imsave`` does: clip, *truncate* to uint8, RGBA.

    The shipped FKP test LR images were produced this way; uint8 input is written unchanged
    (plus an opaque alpha channel).
    """
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    alpha = np.full(img.shape[:2] + (1,), 255, np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([img, alpha], -1), mode='RGBA').save(path)
