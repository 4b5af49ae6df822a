"""Validation during training and the per-image loop of test.py: fixed, seeded degradations."""
import logging
from pathlib import Path

import torch

from ..data.loader import build_dataloader, build_dataset
from ..utils.image_io import tensor2img, write_image
from ..utils.kernel_picture import save_kernel_picture
from ..models.contract import check_test_output
from .evaluation import image_metrics, true_field

logger = logging.getLogger(__name__)


def build_eval_loader(dataset_opt):
    return build_dataloader(build_dataset(dataset_opt), dataset_opt, 'val', seed=0)


def image_stem(batch):
    path = batch.get('GT_path', batch.get('LQ_path'))
    return Path(path[0]).stem


def run_image(model, batch, index, opt, lr_metrics=True):
    """Degrade (seeded by image index), run the model, and measure one image."""
    gen = torch.Generator(device=model.device).manual_seed(opt['manual_seed'] * 1000003 + index)
    model.feed_data(batch, generator=gen, train=False)
    out = check_test_output(model.test(tile=opt['tile'], tile_overlap=opt['tile_overlap']), model.capabilities,
                            type(model).__name__)
    metrics = image_metrics(out, opt['scale'], opt['crop_border'], reblur=model.reblur,
                            lr_metrics=lr_metrics)
    metrics.update(model.extra_metrics(out))
    return out, metrics


def centre_kernels(out):
    """The estimated kernel at the centre LR pixel, and the true one there when known."""
    field = out['est_field'][0]
    h, w = field.shape[:2]
    est = field[h // 2, w // 2].cpu().numpy()
    gt = true_field(out)
    return est, (gt[h // 2, w // 2].cpu().numpy() if gt is not None else None)


def validate(model, opt, it):
    """Validation at iteration ``it``: metrics per image, SR and kernel pictures saved."""
    loader = build_eval_loader(opt['datasets']['val'])
    rows = []
    for index, batch in enumerate(loader):
        out, metrics = run_image(model, batch, index, opt)
        stem = image_stem(batch)
        folder = Path(opt['path']['val_images']) / stem
        if 'sr' in out:
            write_image(folder / f'{stem}_{it}.png', tensor2img(out['sr'][0]), channel_order='bgr')
        if 'est_field' in out:
            save_kernel_picture(folder / f'{stem}_{it}_kernel.png', *centre_kernels(out))
        rows.append(dict(metrics, image=stem))
    return rows
