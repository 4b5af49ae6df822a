"""Build the benchmark LR sets of an option file (the work of ``codes/prepare_testset.py``).

For every :class:`~blindsr.testsets.protocol.Case` of the authors' protocol and every HR
image, write the (mod-cropped) HR, the LR and, beyond the authors, the true kernel or
kernel field (``kernels_mode<m>_noise<n>/<LR stem>.npz``, keys ``kernel`` or
``kernel_field`` as the GTLQ datasets read them, plus ``sigma``/``sigma_field``, ``scale``,
``noise``, ``sv_mode``).

Deterministic: one ``np.random.RandomState(manual_seed)`` (the authors seed 0) drives every
draw in the authors' order, and files are written byte-reproducibly (PNG by OpenCV as theirs,
``.npz`` without time stamps). A file that exists is kept unless ``overwrite``; the random
numbers it would have used are still drawn, so what is written does not depend on what
existed, nor on which scales are written (``scales``).
"""
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..data.transforms import mod_crop
from ..utils.files import atomic_savez
from ..utils.image_io import img2tensor, list_images, read_image, tensor2img, write_image
from . import protocol
from .degrade import KernelSettings, degrade_case, skip_draws

logger = logging.getLogger(__name__)

HR_CACHE_BYTES = 512 * 2 ** 20   # decoded HR images kept between cases (each is used ~20 times)


@dataclass
class TestSet:
    phase: str
    name: str            # datasets.<phase>.name (what ``sv_sets`` matches)
    dataroot: Path
    images: list


@dataclass
class BuildSummary:
    written: int = 0
    kept: int = 0
    folders: list = field(default_factory=list)


class _HRCache:
    """Mod-cropped HR images as (tensor (1,3,H,W), uint8 BGR), least recently used dropped."""

    def __init__(self, max_bytes=HR_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.items = OrderedDict()
        self.sizes = {}

    def get(self, path, scale):
        key = (path, scale)
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        full = read_image(path)
        self.sizes[path] = full.shape[:2]
        img = mod_crop(full, scale)
        if img.shape[0] == 0 or img.shape[1] == 0:
            raise ValueError(f'{path}: image smaller than the scale {scale}; remove it from the set')
        hr = img2tensor(img).unsqueeze(0)
        value = (hr, tensor2img(hr[0]))
        self.items[key] = value
        while sum(v[0].numel() * 5 for v in self.items.values()) > self.max_bytes and len(self.items) > 1:
            self.items.popitem(last=False)
        return value

    def hr_size(self, path, scale):
        """(H, W) after the mod-crop, without keeping the image."""
        if path not in self.sizes:
            self.sizes[path] = read_image(path).shape[:2]
        H, W = self.sizes[path]
        return H - H % scale, W - W % scale


def collect_sets(opt):
    """The option file's datasets as :class:`TestSet`s, checked (HR folder, distinct set names)."""
    sets, seen = [], {}
    for phase, d in sorted(opt['datasets'].items()):
        if not d.get('dataroot_GT'):
            raise ValueError(f"datasets.{phase}: dataroot_GT is not set; prepare_testset needs the HR images")
        if d.get('mode') not in (None, 'GT'):
            logger.warning('datasets.%s: mode %s; only its HR images (dataroot_GT) are used', phase, d['mode'])
        folder = protocol.set_name(d['dataroot_GT'])
        if folder in seen:
            raise ValueError(f"datasets.{phase} and datasets.{seen[folder]} both write {folder}_x<s>; "
                             'give the sets distinct folders')
        seen[folder] = phase
        sets.append(TestSet(phase, d['name'], Path(d['dataroot_GT']), list_images(d['dataroot_GT'])))
    return sets


def _kernel_arrays(case, result, block_size):
    common = {'scale': np.int64(case.scale), 'noise': np.float64(case.noise), 'sv_mode': np.int64(case.sv_mode)}
    if case.sv_mode == 0:
        return dict(kernel=result.kernel, sigma=result.sigma, **common)
    return dict(kernel_field=result.kernel_field, sigma_field=result.sigma, block_size=np.int64(block_size), **common)


class CaseWriter:
    """Writes cases (HR, LR and true-kernel files per image), keeping what exists unless ``overwrite``.

    Files written earlier in the same run (e.g. ``HR_sv/<img>.png``, shared by the SV modes)
    are not written again.
    """

    def __init__(self, settings, overwrite=False):
        self.settings = settings
        self.overwrite = overwrite
        self.cache = _HRCache()
        self.done = set()
        self.kept = set()
        self.written = 0

    def run(self, case, images, root, rng, write=True, progress=None):
        """Every image of ``images`` for ``case`` into the set folder ``root`` (``write=False``:
        only advance ``rng`` as writing would)."""
        for path in images:
            name = case.file_name(path.stem)
            targets = {'hr': root / case.hr_dir / name, 'lr': root / case.lr_dir / name,
                       'kernel': root / case.kernel_dir / f'{Path(name).stem}.npz'}
            todo = {}
            if write:
                for key, p in targets.items():
                    if p in self.done:
                        continue
                    if self.overwrite or not p.exists():
                        todo[key] = p
                    else:
                        self.kept.add(p)
            if not todo:
                skip_draws(self.cache.hr_size(path, case.scale), case, rng, self.settings)
            else:
                hr, hr_bgr = self.cache.get(path, case.scale)
                result = degrade_case(hr, case, rng, self.settings)
                if 'hr' in todo:
                    write_image(todo['hr'], hr_bgr, channel_order='bgr')
                if 'lr' in todo:
                    write_image(todo['lr'], result.lr, channel_order='bgr')
                if 'kernel' in todo:
                    atomic_savez(todo['kernel'], _kernel_arrays(case, result, self.settings.block_size))
                self.written += len(todo)
                self.done.update(todo.values())
            if write and progress is not None:
                progress.update(1)


def prepare_testsets(opt, output_root, scales=protocol.SCALES, overwrite=False, kulnet=False):
    """Write the authors' benchmark sets of ``opt``'s datasets under ``output_root`` (the MANet
    authors' protocol, or with ``kulnet`` the KULNet authors' nine kernels).

    Args:
        opt (dict): validated options (``datasets``, ``sv_sets``, ``manual_seed``, ``test_noise``,
            ``kernel_size``, ``sig``, ``rate_iso``, ``sv_block_size``).
        output_root (str | Path): the ``<set>_x<s>`` folders go here.
        scales (iterable[int]): the scales to write (a subset of 2, 3, 4); the others are only
            replayed in the random stream (KULNet protocol: its kernels at these scales).
        overwrite (bool): rewrite files that exist.

    Returns:
        BuildSummary: files written and kept, and the set folders.
    """
    scales = tuple(sorted(set(scales)))
    bad = [s for s in scales if s not in protocol.SCALES]
    if bad:
        raise ValueError(f'scales must be among {protocol.SCALES}, got {bad}')
    output_root = Path(output_root)
    sets = collect_sets(opt)
    by_phase = {s.phase: s for s in sets}
    seed = opt.get('manual_seed') or 0
    phases = [(s.phase, s.name) for s in sets]
    if kulnet:
        cases = list(protocol.kulnet_cases(phases, scales))
    else:
        sv_sets = opt.get('sv_sets') or list(protocol.DEFAULT_SV_SETS)
        unknown = sorted(set(sv_sets) - {s.name for s in sets})
        if unknown:
            logger.warning('sv_sets names %s, but no dataset has that name (datasets: %s)',
                           ', '.join(unknown), ', '.join(s.name for s in sets))
        cases = list(protocol.authors_cases(phases, sv_sets, bool(opt.get('test_noise'))))
    writer = CaseWriter(KernelSettings.from_options(opt), overwrite)
    rng = np.random.RandomState(seed)
    total = sum(len(by_phase[c.phase].images) for c in cases if c.scale in scales)
    summary = BuildSummary()
    logger.info('Preparing %d LR sets (%d images) under %s', sum(c.scale in scales for c in cases), total, output_root)
    with logging_redirect_tqdm(loggers=[logging.getLogger('blindsr')]), \
            tqdm(total=total, unit='img', dynamic_ncols=True, disable=None) as bar:
        for case in cases:
            ts = by_phase[case.phase]
            root = protocol.set_folder(output_root, ts.dataroot, case.scale)
            write = case.scale in scales
            if case.label:
                rng = np.random.RandomState(seed)   # the KULNet authors reseed before each kernel
            if write:
                bar.set_description(f'{root.name} {case.lr_dir}')
                if root not in summary.folders:
                    summary.folders.append(root)
            writer.run(case, ts.images, root, rng, write=write, progress=bar)
    summary.written, summary.kept = writer.written, len(writer.kept)
    if summary.kept:
        logger.warning('kept %d existing files (use --overwrite to rebuild them)', summary.kept)
    logger.info('wrote %d files in %s', summary.written, ', '.join(str(f) for f in summary.folders) or 'no folder')
    return summary
