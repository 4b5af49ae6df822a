"""Validation during training and the per-image loop of test.py: fixed, seeded degradations."""
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.loader import build_dataloader, build_dataset
from ..utils.image_io import tensor2img, write_image
from ..utils.kernel_picture import save_kernel_picture
from ..models.contract import check_test_output
from .evaluation import image_metrics
from .tile_sinks import CentreKernel, KernelPSNR, Reblurred, SRStitcher

logger = logging.getLogger(__name__)


def build_eval_loader(dataset_opt):
    return build_dataloader(build_dataset(dataset_opt), dataset_opt, 'val', seed=0)


def image_stem(batch):
    path = batch.get('GT_path', batch.get('LQ_path'))
    return Path(path[0]).stem


@dataclass
class ImageRun:
    """One image through a model: its outputs (with the stitched ``sr``), metrics, centre kernels."""
    out: dict
    metrics: dict
    est_centre: np.ndarray | None = None
    true_centre: np.ndarray | None = None

    @property
    def centre_kernels(self):
        """(estimated, true or None) kernels at the centre LR pixel, for ``save_kernel_picture``."""
        return self.est_centre, self.true_centre


def _true_centre(true, size):
    if true is None:
        return None
    k = true[0, size[0] // 2, size[1] // 2] if true.dim() == 5 else true[0]
    return k.float().cpu().numpy()


def run_image(model, batch, index, opt, lr_metrics=True, sinks=()):
    """Degrade (seeded by image index), run the model tile by tile, and measure one image.

    The kernel field is never stitched: the metrics and the centre kernel are gathered per tile
    (``engine/tile_sinks.py``), and ``sinks`` (e.g. a ``--save_kernel`` writer) get every tile too.
    Returns an :class:`ImageRun`.
    """
    gen = torch.Generator(device=model.device).manual_seed(opt['manual_seed'] * 1000003 + index)
    model.feed_data(batch, generator=gen, train=False)
    caps = model.capabilities
    true = model.true_kernel()
    hr = (getattr(model, 'batch', None) or {}).get('hr')
    stitch = SRStitcher() if caps.makes_sr else None
    centre = kpsnr = reblurred = None
    own = [stitch] if stitch else []
    if caps.estimates_kernel:
        centre = CentreKernel()
        own.append(centre)
        if true is not None:
            kpsnr = KernelPSNR(true)
            own.append(kpsnr)
        if lr_metrics and (hr is not None or caps.makes_sr):
            reblurred = Reblurred(model.reblur, hr)
            own.append(reblurred)
    out = model.test_streamed(own + list(sinks), tile=opt['tile'], tile_overlap=opt['tile_overlap'])
    if stitch is not None:
        out['sr'] = stitch.sr
    check_test_output(out, caps, type(model).__name__, streamed=True)
    metrics = image_metrics(out, opt['scale'], opt['crop_border'],
                            lr_reblurred=reblurred.lr if reblurred else None,
                            kernel_psnr=kpsnr.value if kpsnr else None)
    metrics.update(model.extra_metrics(out))
    if centre is None:
        return ImageRun(out, metrics)
    return ImageRun(out, metrics, centre.kernel, _true_centre(true, out['lr'].shape[-2:]))


def validate(model, opt, it, loader):
    """Validation at iteration ``it`` over ``loader``: metrics per image, SR and kernel pictures saved."""
    rows = []
    for index, batch in enumerate(loader):
        run = run_image(model, batch, index, opt)
        stem = image_stem(batch)
        folder = Path(opt['path']['val_images']) / stem
        if 'sr' in run.out:
            write_image(folder / f'{stem}_{it}.png', tensor2img(run.out['sr'][0]), channel_order='bgr')
        if run.est_centre is not None:
            save_kernel_picture(folder / f'{stem}_{it}_kernel.png', *run.centre_kernels)
        rows.append(dict(run.metrics, image=stem))
    return rows
