"""Per-image metrics from a model's test outputs, shared by validation and test.py."""
import math

from ..metrics.psnr_ssim import psnr_y, ssim_y

METRIC_NAMES = ('psnr_y', 'ssim_y', 'lr_psnr_y', 'lr_ssim_y', 'psnr_k', 'sr_spread')


def image_metrics(out, scale, crop_border=None, lr_reblurred=None, kernel_psnr=None):
    """Metrics of image 0 of ``out`` (keys from ``BlindSRModel.test``).

    * ``psnr_y``/``ssim_y``: SR vs HR on Y, ``crop_border`` (default: scale) cut.
    * ``lr_psnr_y``/``lr_ssim_y`` from ``lr_reblurred``: the HR (or, without HR, the SR)
      re-degraded with the *estimated* kernels (``engine/tile_sinks.Reblurred``) vs the clean
      LR — the kernel-quality measure that also works for spatially variant kernels; ``scale``
      LR pixels cut as the authors do.
    * ``psnr_k``: ``kernel_psnr``, the kernel PSNR averaged over LR pixels against the true
      kernel or field (``engine/tile_sinks.KernelPSNR``).
    * ``sr_spread``: with an ``uncertainty`` output, its mean (the SR's std over draws), in grey levels 0..255.
    """
    crop = scale if crop_border is None else crop_border
    m = {}
    if 'sr' in out and 'hr' in out:
        m['psnr_y'] = psnr_y(out['sr'][0], out['hr'][0], crop=crop)
        m['ssim_y'] = ssim_y(out['sr'][0], out['hr'][0], crop=crop)
    if lr_reblurred is not None:
        m['lr_psnr_y'] = psnr_y(lr_reblurred[0], out['lr_clean'][0], crop=scale)
        m['lr_ssim_y'] = ssim_y(lr_reblurred[0], out['lr_clean'][0], crop=scale)
    if kernel_psnr is not None:
        m['psnr_k'] = kernel_psnr
    if 'uncertainty' in out:
        m['sr_spread'] = float(out['uncertainty'][0].float().mean()) * 255.0
    return m


def metric_keys(rows):
    """Numeric metric names present in ``rows``: the standard ones first, then any others."""
    seen = [k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return [k for k in METRIC_NAMES if k in seen] + sorted(set(seen) - set(METRIC_NAMES))


def average(rows):
    """Mean of each metric over images (ignoring images that lack it)."""
    return {k: sum(r[k] for r in rows if k in r) / sum(k in r for r in rows) for k in metric_keys(rows)}


def format_metrics(m):
    parts = []
    for k, v in m.items():
        if isinstance(v, float) and not math.isinf(v):
            parts.append(f'{k}: {v:.4f}' if 'ssim' in k else f'{k}: {v:.2f}')
        else:
            parts.append(f'{k}: {v}')
    return ', '.join(parts)
