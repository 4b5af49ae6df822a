"""JPEG compression of LR images through OpenCV, one quality per image.

Mirrors the authors: the float image is clipped to [0, 1] and converted with
``uint8(x * 255)`` (truncation, not rounding), encoded as BGR (so chroma subsampling sees
the same planes), decoded and divided by 255. Grayscale (C=1) images are encoded as such.
This is a CPU round trip by nature (OpenCV is imported on first use); the result goes back to the input's device.
"""
import numpy as np
import torch

from ._random import randint


def random_jpeg_quality(batch, jpeg_low, generator=None, device='cpu'):
    """Training qualities (B,) int64, uniform in [jpeg_low, 100] inclusive."""
    return randint(int(jpeg_low), 101, (batch,), generator=generator, device=device)


def _jpeg_one(img_hwc, quality):
    """(H, W, C) float in RGB -> same after a JPEG round trip at ``quality``."""
    import cv2  # imported here: only the JPEG path needs OpenCV

    u8 = (np.clip(img_hwc, 0.0, 1.0) * 255.0).astype(np.uint8)  # truncation, as the authors
    if u8.shape[2] == 3:
        u8 = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    elif u8.shape[2] == 1:
        u8 = u8[:, :, 0]
    else:
        raise ValueError(f'JPEG needs 1 or 3 channels, got {u8.shape[2]}')
    ok, buf = cv2.imencode('.jpg', u8, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError('cv2.imencode failed')
    if u8.ndim == 2:
        dec = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)[:, :, None]
    else:
        dec = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return (dec / 255.0).astype(np.float32)  # float64 division then float32, as the authors


def jpeg_compress(img, quality):
    """JPEG round trip of (B, C, H, W) in [0, 1]; ``quality`` a number or (B,) sequence."""
    B = img.shape[0]
    q = torch.as_tensor(quality).reshape(-1).expand(B).tolist()
    arr = img.detach().to('cpu', torch.float32).permute(0, 2, 3, 1).numpy()
    out = np.stack([_jpeg_one(arr[i], q[i]) for i in range(B)])
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(device=img.device, dtype=img.dtype)
