"""Geometric operations shared by the datasets: mod-crop, random crop, flips/transposition.

Randomness comes from Python's ``random`` module (as in the authors' datasets), which the
loader seeds per worker, so a run is reproducible from its seed.
"""
import random

import numpy as np


def mod_crop(img, scale):
    """Cut the bottom/right rows and columns so that H and W are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale, ...]


def random_offset(h, w, size):
    """Top-left corner of a random ``size`` x ``size`` window inside an ``h`` x ``w`` image."""
    return random.randint(0, h - size), random.randint(0, w - size)


def draw_flips(use_flip, use_rot):
    """(hflip, vflip, transpose) as the authors draw them: vflip and transpose come with rot."""
    hflip = bool(use_flip) and random.random() < 0.5
    vflip = bool(use_rot) and random.random() < 0.5
    transpose = bool(use_rot) and random.random() < 0.5
    return hflip, vflip, transpose


def apply_flips(arr, flips, axes=(0, 1)):
    """Apply (hflip, vflip, transpose) to the (row, column) ``axes`` of ``arr`` (a view)."""
    hflip, vflip, transpose = flips
    rows, cols = axes
    if hflip:
        arr = np.flip(arr, cols)
    if vflip:
        arr = np.flip(arr, rows)
    if transpose:
        arr = np.swapaxes(arr, rows, cols)
    return arr
