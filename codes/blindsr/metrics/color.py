"""BT.601 colour conversion used by the SR metrics (the MATLAB ``rgb2ycbcr`` convention).

The authors evaluate on the Y channel of a *float* image that is not rounded back to 8 bits,
so the float path here keeps full precision. ``uint8`` input follows MATLAB: the result is
rounded and returned as ``uint8``. Inputs are never modified (the authors' version scales a
float input by 255 in place).
"""
import numpy as np

# Rows: contribution of R, G, B to (Y, Cb, Cr), for values in [0, 255].
_RGB_TO_YCBCR = np.array([[65.481, -37.797, 112.0],
                          [128.553, -74.203, -93.786],
                          [24.966, 112.0, -18.214]])
_OFFSET = np.array([16.0, 128.0, 128.0])


def _convert(img, matrix, only_y):
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 image, got shape {img.shape}')
    is_uint8 = img.dtype == np.uint8
    x = img.astype(np.float64)
    if not is_uint8:
        x = x * 255.0                    # float images are in [0, 1]
    if only_y:
        out = x @ matrix[:, 0] / 255.0 + _OFFSET[0]
    else:
        out = x @ matrix / 255.0 + _OFFSET
    if is_uint8:
        return out.round().astype(np.uint8)
    return out / 255.0


def rgb2ycbcr(img, only_y=True):
    """RGB (HxWx3, ``uint8`` or float in [0, 1]) -> Y (HxW) or YCbCr (HxWx3), same range/type."""
    return _convert(img, _RGB_TO_YCBCR, only_y)


def bgr2ycbcr(img, only_y=True):
    """As :func:`rgb2ycbcr` for BGR channel order (images read by OpenCV)."""
    return _convert(img, _RGB_TO_YCBCR[::-1], only_y)
