"""Super-resolve real low-resolution images (the work of ``codes/infer.py``).

Each image is read (gray, RGB, RGBA, 8 or 16 bit), run through the model in tiles of at most
``tile`` LR pixels (any image size fits in memory), and written as ``<output>/<stem>.png``:
RGB for colour inputs, gray for gray ones, with the alpha channel enlarged (bicubic) for
RGBA ones (inputs sharing a stem, ``photo.png`` and ``photo.jpg``, become ``photo_png.png``
and ``photo_jpg.png``). ``save_kernel`` adds ``<output>/npz/<stem>.npz`` (SR image, LR image, estimated
kernel field, scale), which ``explore_kernels.py`` opens; the option ``samples`` > 1 adds
``<output>/uncertainty/<stem>.png``, the per-pixel std of the draws. A file that cannot be read or
processed is logged and skipped; the others go on. Existing outputs are kept unless
``overwrite``.
"""
import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..registry import MODELS
from ..utils.image_io import (ImageNotFoundError, ImageReadError, img2tensor, list_images, read_image, tensor2img,
                              write_image)
from ..utils.heap import keep_heap_small
from ..utils.kernel_file import KernelFileWriter
from ..utils.png_stream import PNGStreamWriter
from .sr_picture import SRBands, SRPicture
from ..utils.uncertainty_picture import save_uncertainty_picture

logger = logging.getLogger(__name__)


@dataclass
class InferenceSummary:
    done: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    failed: list = field(default_factory=list)     # (path, reason)


def input_images(path):
    """The image files to process: ``path`` itself, or the images of the folder ``path``."""
    path = Path(path)
    if path.is_dir():
        return list_images(path)
    if not path.exists():
        raise ImageNotFoundError(f'{path}: no such image or folder')
    return [path]


def output_stems(paths):
    """Output stem of each input: its own stem, or ``<stem>_<ext>`` when inputs share a stem.

    ``photo.png`` and ``photo.jpg`` give ``photo_png`` and ``photo_jpg``; a name still taken
    gets ``_2``, ``_3``, ... so no two inputs ever write the same output.
    """
    counts = {}
    for p in paths:
        counts[p.stem] = counts.get(p.stem, 0) + 1
    stems, taken = {}, set()
    for p in paths:
        stem = p.stem if counts[p.stem] == 1 else f'{p.stem}_{p.suffix.lstrip(".").lower() or "noext"}'
        base, n = stem, 2
        while stem in taken:
            stem = f'{base}_{n}'
            n += 1
        taken.add(stem)
        stems[p] = stem
    return stems


def check_output_location(input_path, paths, output):
    """Refuse an output folder that could write over an input: equal to or inside a folder input,
    the folder of a file input, or one where a target is an input file."""
    source = Path(input_path).resolve()
    out = Path(output).resolve()
    if source.is_dir() and (out == source or source in out.parents):
        raise ValueError(f'--output {output} is inside --input {input_path}: outputs could replace the input '
                         'images; choose an output folder outside the input folder')
    if source.is_file() and out == source.parent:
        raise ValueError(f'--output {output} is the folder of --input {input_path}: outputs could replace '
                         'images there; choose another output folder')
    inputs = {Path(p).resolve() for p in paths}
    for p, stem in output_stems(paths).items():
        for target in (out / f'{stem}.png', out / 'npz' / f'{stem}.npz'):
            if target in inputs:
                raise ValueError(f'--output {output}: {target} is an input image and would be overwritten; '
                                 'choose another output folder')


def _source_layout(path):
    """(is_gray, alpha or None) of an image file, alpha as float32 [0, 1] HxW."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        return False, None
    if img.ndim == 2 or img.shape[2] == 1:
        return True, None
    if img.shape[2] == 2:
        return True, None
    if img.shape[2] == 4:
        peak = 65535.0 if img.dtype == np.uint16 else 255.0
        return False, img[:, :, 3].astype(np.float32) / peak
    return False, None


class Inference:
    """A test-time model built from options, and the per-image work."""

    def __init__(self, opt, device, tile=256, tile_overlap=32, precision=None):
        keep_heap_small()          # freed tile buffers leave the resident memory (utils/heap.py)
        self.opt = opt
        self.device = device
        self.model = MODELS.get(opt['model'])(opt, device)
        if precision is not None:
            self.model.set_precision(precision)
        self.scale = opt['scale']
        self.tile, self.tile_overlap = tile, tile_overlap
        if self.model.capabilities.takes_kernel:
            raise ValueError(f"{opt['network_G']['which_model_G']} needs the true kernel, which real photos do not "
                             'have; use a kernel-estimating checkpoint (stage 1 or 3)')
        self.makes_sr = self.model.capabilities.makes_sr
        self.estimates_kernel = self.model.capabilities.estimates_kernel

    def read(self, path):
        """The LR image of a file as a (1, 3, h, w) tensor on the device."""
        return img2tensor(read_image(path)).unsqueeze(0).to(self.device)

    def run(self, source, sinks=()):
        """Run one image (a file, or a tensor from :meth:`read`) through the model tile by tile;
        ``sinks`` (``engine/tile_sinks.py``) get every tile. Returns the TestOutput (LR, no stitched
        SR or field)."""
        lr = source if torch.is_tensor(source) else self.read(source)
        self.model.feed_data({'LQ': lr}, train=False)
        tile = self.tile if self.tile and max(lr.shape[-2:]) > self.tile else None
        return self.model.test_streamed(list(sinks), tile=tile, tile_overlap=self.tile_overlap)


def _kernel_file_arrays(out, picture):
    """The small arrays of the kernel file: the written SR picture (BGR or gray, no alpha) and the LR."""
    sr = np.zeros((0,), np.uint8) if picture is None else picture
    return {'sr_img': sr, 'lr_img': tensor2img(out['lr'][0])}


def _process(inference, path, targets, save_kernel, overwrite, npz):
    """One image into its outputs, streamed: the SR PNG band by band (whole for RGBA inputs, whose
    alpha is enlarged at once) and, with ``save_kernel``, the kernel file tile by tile."""
    gray, alpha = _source_layout(path)
    lr = inference.read(path)
    s = inference.scale
    shape = (s * lr.shape[-2], s * lr.shape[-1]) + (() if gray else (3,))
    write_png = inference.makes_sr and (overwrite or not targets[0].exists())
    keep = save_kernel and inference.estimates_kernel and (overwrite or not npz.exists())
    picture = None
    with ExitStack() as stack:
        writer = stack.enter_context(KernelFileWriter(npz, s, inference.model.kernel_basis()))
        sinks = [writer] if keep else []
        if inference.makes_sr and alpha is not None:
            picture = SRPicture(gray)
            sinks.append(picture)
        elif inference.makes_sr:
            consumers = []
            if write_png:
                png = stack.enter_context(PNGStreamWriter(targets[0], shape[1], shape[0], 1 if gray else 3))
                consumers.append(lambda band, row0: png.write(band))
            if keep:
                writer.expect_sr(shape)
                consumers.append(writer.sr_band)
            sinks.append(SRBands(gray, consumers))
        out = inference.run(lr, sinks)
        if picture is not None and write_png:
            write_image(targets[0], picture.result(alpha), channel_order='bgr')
        if keep:
            writer.finish(_kernel_file_arrays(out, picture.picture if picture else None))
    return out


def super_resolve(inference, paths, output, save_kernel=False, overwrite=False):
    """Process ``paths`` into ``output``; returns an :class:`InferenceSummary`."""
    output = Path(output)
    if not inference.makes_sr and not save_kernel:
        raise ValueError('this checkpoint estimates kernels only (no SR image); add --save_kernel to keep them')
    summary = InferenceSummary()
    stems = output_stems(paths)
    with logging_redirect_tqdm(loggers=[logging.getLogger('blindsr')]):
        for path in tqdm(paths, desc='infer', unit='img', dynamic_ncols=True, disable=None):
            targets = []
            if inference.makes_sr:
                targets.append(output / f'{stems[path]}.png')
            if save_kernel:
                targets.append(output / 'npz' / f'{stems[path]}.npz')
            if not overwrite and all(t.exists() for t in targets):
                summary.kept.append(path)
                continue
            try:
                npz = output / 'npz' / f'{stems[path]}.npz'
                out = _process(inference, path, targets, save_kernel, overwrite, npz)
            except (ImageReadError, ImageNotFoundError, ValueError, RuntimeError) as e:
                logger.error('%s: skipped (%s)', path, e)
                summary.failed.append((path, str(e)))
                continue
            if 'uncertainty' in out:
                save_uncertainty_picture(output / 'uncertainty' / f'{stems[path]}.png', out['uncertainty'][0])
            summary.done.append(path)
            h, w = out['lr'].shape[-2:]
            logger.info('%s: %dx%d -> x%d%s', path.name, w, h, inference.scale,
                        ' + kernel field' if save_kernel else '')
    if summary.kept:
        logger.warning('kept the existing outputs of %d image(s) (use --overwrite to redo them)', len(summary.kept))
    if summary.failed:
        logger.error('%d of %d image(s) failed: %s', len(summary.failed), len(paths),
                     ', '.join(p.name for p, _ in summary.failed))
    logger.info('results in %s', output)
    return summary
