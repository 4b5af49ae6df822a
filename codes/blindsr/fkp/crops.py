"""KernelGAN-style crop sampling: crop centres drawn where the image has structure.

Flat regions tell a discriminator nothing about the blur, so crop centres are drawn with
probability proportional to a smoothed gradient-magnitude map; the generator's crops use the
map of the image downscaled by 2 (its output lives at that scale).
"""
import math

import numpy as np
from scipy.signal import convolve2d

__all__ = ['imresize_matlab', 'gradient_map', 'crop_probability_map', 'CropSampler']


def _cubic(x):
    ax = np.abs(x)
    ax2, ax3 = ax ** 2, ax ** 3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _resize_matrix(in_len, scale):
    """(out, in) weights of MATLAB's antialiased bicubic ``imresize`` along one axis."""
    out_len = int(math.ceil(in_len * scale))
    width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, out_len + 1) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(x - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    arg = x[:, None] - idx
    w = scale * _cubic(scale * arg) if scale < 1 else _cubic(arg)
    w = w / w.sum(1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    cols = mirror[np.mod(idx.astype(int) - 1, 2 * in_len)]
    m = np.zeros((out_len, in_len))
    np.add.at(m, (np.repeat(np.arange(out_len), taps), cols.ravel()), w.ravel())
    return m


def imresize_matlab(img, scale):
    """MATLAB-style bicubic resize (with antialiasing when shrinking) of (H, W[, C]) floats."""
    img = np.asarray(img, dtype=np.float64)
    rows = _resize_matrix(img.shape[0], scale)
    cols = _resize_matrix(img.shape[1], scale)
    return np.einsum('ij,jk...->ik...', rows, np.einsum('lk,jk...->jl...', cols, img))


def _zero_border(x, edge):
    out = np.zeros_like(x)
    out[edge:-edge, edge:-edge] = x[edge:-edge, edge:-edge]
    return out


def _clip_extreme(x, percent):
    """Zero everything below the ``percent`` quantile and clip above the next value."""
    s = np.sort(x.ravel())
    pivot = int(percent * len(s))
    v_min = s[pivot]
    v_max = s[pivot + 1] if s[pivot + 1] > v_min else v_min + 10e-6
    return np.clip(x, v_min, v_max) - v_min


def gradient_map(img, window=5, percent=0.97):
    """Smoothed map of where |grad| is large (mean 1), from the grey image of (H, W, 3) in [0, 1]."""
    grey = np.asarray(img) @ np.array([0.299, 0.587, 0.114]) if np.ndim(img) == 3 else np.asarray(img)
    gx, gy = np.gradient(grey)
    gmag = _zero_border(np.sqrt(gx ** 2 + gy ** 2), window)
    lx = _clip_extreme(_zero_border(np.abs(gx), window), percent)
    ly = _clip_extreme(_zero_border(np.abs(gy), window), percent)
    # as KernelGAN: the clipped x/y maps plus the (unclipped) magnitude, each normalised
    # (an all-zero term, e.g. no vertical gradient at all, is left out instead of giving NaN)
    combined = sum(m / m.sum() for m in (lx, ly, gmag) if m.sum() > 0) + np.zeros_like(grey)
    smoothed = convolve2d(combined, np.ones((window, window)), 'same') / window ** 2
    mean = np.mean(smoothed)
    return smoothed / mean if mean > 0 else np.ones_like(smoothed)


def crop_probability_map(loss_map, crop):
    """Flattened probabilities of crop *centres*: the map averaged over half-crop windows, zero
    where a centred crop would not fit."""
    half = crop // 2
    blurred = convolve2d(loss_map, np.ones((half, half)), 'same') / half ** 2
    prob = _zero_border(blurred, half).ravel()
    total = prob.sum()
    return prob / total if total > 0 else np.full(prob.shape, 1.0 / prob.size)


class CropSampler:
    """Pairs of crops of one image: ``g_crop`` x ``g_crop`` for G and ``d_crop`` x ``d_crop`` for D.

    Args:
        image (ndarray): (H, W, 3) float in [0, 1], H and W even.
        g_crop, d_crop (int): crop sides (KernelGAN-FKP: 64 and 27).
        scale (int): G's downscaling factor (2).
        rng (np.random.Generator): source of the crop centres.
    """

    def __init__(self, image, g_crop=64, d_crop=27, scale=2, rng=None):
        self.image = np.asarray(image, dtype=np.float32)
        self.rows, self.cols = self.image.shape[:2]
        if min(self.rows, self.cols) < g_crop:
            raise ValueError(f'image {self.rows}x{self.cols} is smaller than the {g_crop}px generator crop')
        self.g_crop, self.d_crop = g_crop, d_crop
        self.rng = np.random.default_rng() if rng is None else rng
        big = gradient_map(self.image)
        small = gradient_map(imresize_matlab(self.image, 1 / scale))
        small_up = np.repeat(np.repeat(small, scale, 0), scale, 1)[:self.rows, :self.cols]
        self.prob_d = crop_probability_map(big, d_crop)
        self.prob_g = crop_probability_map(small_up, g_crop)

    def _top_left(self, centre, size):
        row, col = divmod(int(centre), self.cols)
        top = min(max(0, row - size // 2), self.rows - size)
        left = min(max(0, col - size // 2), self.cols - size)
        return top - top % 2, left - left % 2     # even offsets keep G's sampling phase aligned

    def _crops(self, prob, size, n):
        centres = self.rng.choice(len(prob), size=n, p=prob)
        out = np.empty((n, size, size, 3), np.float32)
        for i, c in enumerate(centres):
            top, left = self._top_left(c, size)
            out[i] = self.image[top:top + size, left:left + size]
        return out

    def sample(self, batch):
        """``(g_crops, d_crops)`` as float32 arrays (batch, 3, size, size)."""
        g = self._crops(self.prob_g, self.g_crop, batch)
        d = self._crops(self.prob_d, self.d_crop, batch)
        return g.transpose(0, 3, 1, 2), d.transpose(0, 3, 1, 2)
