"""test.py's work: every dataset of the options through the model, metrics to CSV."""
import csv
import io
import logging
import random
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..data.errors import DatasetError
from ..options import dump_options
from ..options.kernel_sweep import kernel_options, sweep_kernels
from ..registry import MODELS
from ..utils.device import select_device
from ..utils.files import archive_folder, atomic_write_text
from ..utils.image_io import tensor2img, write_image
from ..utils.kernel_picture import save_kernel_picture
from ..utils.uncertainty_picture import save_uncertainty_picture
from ..utils.logger import setup_logging, timestamp
from .evaluation import average, format_metrics, metric_keys
from ..utils.heap import keep_heap_small
from ..utils.kernel_file import KernelFileWriter, image_arrays
from .validation import build_eval_loader, image_stem, run_image

logger = logging.getLogger('blindsr')


def _fresh_results_root(opt):
    root = Path(opt['path']['results_root'])
    archive_folder(root)
    root.mkdir(parents=True, exist_ok=True)
    return root


class TestSummary(dict):
    """Set name -> average metrics (the mean over the kernels for a sweep); ``failed`` lists (set, image,
    reason) of images that could not be read; ``kernels``: set name -> [(SweepKernel, averages)] of a sweep."""

    def __init__(self):
        super().__init__()
        self.failed = []
        self.kernels = {}


def write_csv(rows, path):
    """One row per image (status ok | failed, with the reason), then the average row."""
    keys = ['image'] + metric_keys(rows) + ['status', 'reason']
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction='ignore')
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f'{r[k]:.6f}' if isinstance(r.get(k), float) else r.get(k, '')) for k in keys})
    atomic_write_text(buf.getvalue(), path)


def _item_name(dataset, index):
    """Stem of the dataset's ``index``-th image, for a row of an image that could not be loaded."""
    paths = getattr(dataset, 'paths', None) or getattr(dataset, 'gt_paths', None)
    return Path(paths[index]).stem if paths else f'#{index}'


def reseed(seed):
    """The authors' ``set_random_seed``: python, numpy and torch (every device) from ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def write_kernel_csv(per_kernel, mean, path):
    """One row per kernel of a sweep (sig1, sig2, theta as written, the set's averages), then the mean."""
    keys = ['kernel', 'sig1', 'sig2', 'theta'] + metric_keys([avg for _, avg in per_kernel])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction='ignore')
    writer.writeheader()
    rows = [dict(avg, kernel=k.label, sig1=k.sig1, sig2=k.sig2, theta=k.theta_given) for k, avg in per_kernel]
    for r in rows + [dict(mean, kernel='mean')]:
        writer.writerow({k: (f'{r[k]:.6f}' if isinstance(r.get(k), float) else r.get(k, '')) for k in keys})
    atomic_write_text(buf.getvalue(), path)


def _test_set(model, loader, d, opt, folder, save_kernel, summary, desc):
    """Every image of one set into ``folder`` (SR, pictures, metrics.csv); the set's averages."""
    rows, failed, table = [], [], []     # table: every image in set order
    batches = iter(loader)
    with logging_redirect_tqdm(loggers=[logger]):
        for index in tqdm(range(len(loader)), desc=desc, dynamic_ncols=True, disable=None):
            try:
                batch = next(batches)
            except DatasetError as e:
                stem = _item_name(loader.dataset, index)
                logger.error('%s: failed (%s)', stem, e)
                failed.append(dict(image=stem, status='failed', reason=str(e)))
                table.append(failed[-1])
                summary.failed.append((d['name'], stem, str(e)))
                continue
            stem = image_stem(batch)
            with KernelFileWriter(folder / 'npz' / f'{stem}.npz', opt['scale'], model.kernel_basis()) as writer:
                keep = save_kernel and model.capabilities.estimates_kernel
                run = run_image(model, batch, index, opt, sinks=[writer] if keep else ())
                out = run.out
                if 'sr' in out:
                    write_image(folder / f'{stem}.png', tensor2img(out['sr'][0]), channel_order='bgr')
                if 'uncertainty' in out:
                    save_uncertainty_picture(folder / 'uncertainty' / f'{stem}.png', out['uncertainty'][0])
                if run.est_centre is not None:
                    save_kernel_picture(folder / 'kernels' / f'{stem}.png', *run.centre_kernels)
                if keep:
                    writer.finish(image_arrays(out))
            model.save_extra_outputs(out, folder, stem)
            rows.append(dict(run.metrics, image=stem, status='ok'))
            table.append(rows[-1])
            logger.info('%s: %s', stem, format_metrics(run.metrics) or 'no reference, no metrics')
    avg = average(rows)
    if table:
        write_csv(table + [dict(avg, image='average')], folder / 'metrics.csv')
    if failed:
        logger.error('%s: %d of %d image(s) failed: %s', desc, len(failed), len(loader),
                     ', '.join(r['image'] for r in failed))
    return avg


def test(opt, save_kernel=False, precision=None):
    """Run every set; an unreadable image is recorded as failed and the rest still run.

    ``save_kernel`` writes ``npz/<img>.npz`` tile by tile (``utils/kernel_file.py``); ``precision``
    (fp32, bf16, fp16; default: the options' ``amp``) is the inference precision.

    Every check (datasets, checkpoints) runs before an earlier results folder is archived.
    The random state is reset (``manual_seed``) before each set, and with a kernel sweep
    (list-valued ``sig1``/``sig2``/``theta``, see ``options/kernel_sweep.py``) a GT set runs once
    per kernel, each with a fresh model and the same reset, into ``<set>/<kernel label>/``; the set's
    ``metrics.csv`` then has a row per kernel and their mean (the KULNet authors' protocol).
    Returns a :class:`TestSummary`; its ``failed`` is non-empty when some image failed.
    """
    setup_logging()
    keep_heap_small()              # freed tile buffers leave the resident memory (utils/heap.py)
    device = select_device(opt['gpu_ids'])
    kernels = sweep_kernels(opt)

    def new_model(model_opt):
        model = MODELS.get(opt['model'])(model_opt, device)
        if precision is not None:
            model.set_precision(precision)
        return model

    model = new_model(kernel_options(opt, kernels[0]) if kernels else opt)
    loaders = {phase: build_eval_loader(d) for phase, d in opt['datasets'].items()}
    root = _fresh_results_root(opt)
    setup_logging(root / f'test_{opt["name"]}_{timestamp()}.log')
    atomic_write_text(dump_options(opt), root / 'options.yml')
    summary = TestSummary()
    for phase, d in opt['datasets'].items():
        loader = loaders[phase]
        folder = root / d['name']
        logger.info('Testing %s (%d images, mode %s) -> %s', d['name'], len(loader), d['mode'], folder)
        if kernels and d['mode'] == 'GT':   # the sweep makes the LR; LQ / GTLQ data bring their own
            per_kernel = []
            for i, k in enumerate(kernels):
                kopt = kernel_options(opt, k)
                if i:
                    model = new_model(kopt)   # as the authors: a new model per kernel
                reseed(opt['manual_seed'])
                desc = f"{d['name']} {k.label} ({i + 1}/{len(kernels)})"
                avg = _test_set(model, loader, d, kopt, folder / k.label, save_kernel, summary, desc)
                logger.info('----%s: %s', desc, format_metrics(avg) or 'no metrics')
                per_kernel.append((k, avg))
            avg = average([a for _, a in per_kernel])
            write_kernel_csv(per_kernel, avg, folder / 'metrics.csv')
            summary.kernels[d['name']] = per_kernel
            logger.info('----Mean over the %d kernels of %s: %s', len(kernels), d['name'],
                        format_metrics(avg) or 'no metrics')
        else:
            reseed(opt['manual_seed'])
            avg = _test_set(model, loader, d, opt, folder, save_kernel, summary, d['name'])
            logger.info('----Average of %s: %s', d['name'], format_metrics(avg) or 'no metrics')
        summary[d['name']] = avg
    return summary
