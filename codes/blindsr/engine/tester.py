"""test.py's work: every dataset of the options through the model, metrics to CSV."""
import csv
import io
import logging
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..data.errors import DatasetError
from ..options import dump_options
from ..registry import MODELS
from ..utils.device import select_device
from ..utils.files import archive_folder, atomic_write_text
from ..utils.image_io import tensor2img, write_image
from ..utils.kernel_picture import save_kernel_picture
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
    """Set name -> average metrics; ``failed`` lists (set, image, reason) of images that could not be read."""

    def __init__(self):
        super().__init__()
        self.failed = []


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


def test(opt, save_kernel=False, precision=None):
    """Run every set; an unreadable image is recorded as failed and the rest still run.

    ``save_kernel`` writes ``npz/<img>.npz`` tile by tile (``utils/kernel_file.py``); ``precision``
    (fp32, bf16, fp16; default: the options' ``amp``) is the inference precision.

    Every check (datasets, checkpoints) runs before an earlier results folder is archived.
    Returns a :class:`TestSummary`; its ``failed`` is non-empty when some image failed.
    """
    setup_logging()
    keep_heap_small()              # freed tile buffers leave the resident memory (utils/heap.py)
    device = select_device(opt['gpu_ids'])
    model = MODELS.get(opt['model'])(opt, device)
    if precision is not None:
        model.set_precision(precision)
    loaders = {phase: build_eval_loader(d) for phase, d in opt['datasets'].items()}
    root = _fresh_results_root(opt)
    setup_logging(root / f'test_{opt["name"]}_{timestamp()}.log')
    atomic_write_text(dump_options(opt), root / 'options.yml')
    summary = TestSummary()
    for phase, d in opt['datasets'].items():
        loader = loaders[phase]
        folder = root / d['name']
        logger.info('Testing %s (%d images, mode %s) -> %s', d['name'], len(loader), d['mode'], folder)
        rows, failed, table = [], [], []     # table: every image in set order
        batches = iter(loader)
        with logging_redirect_tqdm(loggers=[logger]):
            for index in tqdm(range(len(loader)), desc=d['name'], dynamic_ncols=True, disable=None):
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
            logger.error('%s: %d of %d image(s) failed: %s', d['name'], len(failed), len(loader),
                         ', '.join(r['image'] for r in failed))
        logger.info('----Average of %s: %s', d['name'], format_metrics(avg) or 'no metrics')
        summary[d['name']] = avg
    return summary
