"""The benchmark's pictures: quality versus time per set, and crop grids of chosen images.

Both are drawn with matplotlib's Agg backend (no display) into a temporary file that is then
renamed, like every other output, so a killed run never leaves half a picture.
"""
import logging

import numpy as np

from ..archs.baselines_arch import Bicubic
from ..utils.image_io import read_image
from ..utils.kernel_picture import kernel_tile
from ..utils.plots import pyplot, save_figure
from .report import summarise

logger = logging.getLogger(__name__)


def quality_time_plot(records, set_name, path, methods=()):
    """Mean PSNR_Y (LR-PSNR_Y on sets without HR) against mean wall time per image, one point per method."""
    table = {k[1]: v for k, v in summarise(records).items() if k[0] == set_name}
    metric = 'psnr_y' if any('psnr_y' in v for v in table.values()) else 'lr_psnr_y'
    points = [(m, table[m]) for m in list(methods) + sorted(set(table) - set(methods))
              if m in table and metric in table[m] and 'wall_s' in table[m]]
    if not points:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for method, entry in points:
        (t, t_std), (q, q_std) = entry['wall_s'], entry[metric]
        ax.errorbar([max(t, 1e-3)], [q], xerr=[[0], [t_std or 0]], yerr=[q_std or 0], fmt='o', capsize=3)
        ax.annotate(method, (max(t, 1e-3), q), textcoords='offset points', xytext=(4, 4), fontsize=8)
    ax.set_xscale('log')
    ax.set_xlabel('wall time per image (s, log)')
    ax.set_ylabel('PSNR_Y (dB)' if metric == 'psnr_y' else 'LR consistency, LR-PSNR_Y (dB)')
    ax.set_title(f'{set_name}: quality vs time')
    ax.grid(True, alpha=0.3)
    save_figure(fig, path)
    return path


def _crop(img, top, left, size):
    return img[top:top + size, left:left + size]


def crop_grid(store, test_set, image, methods, path, crop=96, seed=0):
    """LR (nearest) | bicubic | each method | HR on one row, each method's kernel (reference
    convention, the field's mean for fields) under it. Methods without a stored picture are left out."""
    index = test_set.images.index(image)
    sample = test_set.sample(index, 'cpu')
    s = test_set.scale
    lr = sample.lr[0].permute(1, 2, 0).numpy()
    big = np.kron(lr, np.ones((s, s, 1)))
    bic = Bicubic(scale=s)(sample.lr)[0].permute(1, 2, 0).numpy()
    h, w = big.shape[:2]
    size = min(crop, h, w)
    top, left = (h - size) // 2, (w - size) // 2
    panels = [('LR (nearest)', big, None), ('bicubic', bic, None)]
    for method in methods:
        if method.spec == 'bicubic':      # already the second panel
            continue
        png, npz = store.picture_paths(test_set.name, method.slug, f'{image}__s{seed}')
        if not png.is_file():
            continue
        kernel = np.load(npz)['kernel'] if npz.is_file() else None
        panels.append((method.spec, read_image(png), kernel))
    if sample.hr is not None:
        true = sample.kernel
        if true is not None:
            from .kernel_conventions import to_reference
            true = true.double().mean(dim=(0, 1)) if true.dim() == 4 else true.double()
            true = to_reference(true, sample.kernel_convention, s).numpy()
        panels.append(('HR', sample.hr[0].permute(1, 2, 0).numpy(), true))
    plt = pyplot()
    n = len(panels)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.4), gridspec_kw={'height_ratios': [2, 1]}, squeeze=False)
    for col, (title, img, kernel) in enumerate(panels):
        axes[0, col].imshow(np.clip(_crop(img, top, left, size), 0, 1), interpolation='nearest')
        axes[0, col].set_title(title, fontsize=7)
        if kernel is not None:
            axes[1, col].imshow(kernel_tile(kernel, zoom=4), interpolation='nearest')
        for ax in axes[:, col]:
            ax.axis('off')
    fig.suptitle(f'{test_set.name}/{image}: centre {size}x{size} crop; kernels in the MANet 21x21 convention',
                 fontsize=8)
    save_figure(fig, path)
    return path
