"""The FKP authors' test-set protocols, for ``prepare_testset.py --protocol dipfkp|kernelganfkp``.

For every dataset of the option file (its HR folder, ``datasets.<phase>.dataroot_GT``) and scale::

    <output>/<set>/HR/<img>                    the HR images, copied (test.py's GTLQ pairs them by name)
    <output>/<set>/<M>_lr_x<s>/<img>.png       the LR, an RGBA PNG as the authors' ``plt.imsave`` writes it
    <output>/<set>/<M>_gt_k_x<s>/<img>.mat     the true kernel, MATLAB variable ``Kernel`` (float64)

with ``M`` = DIPFKP (x2, x3, x4: k = min(4s + 3, 21), FKP's training distribution) or KernelGANFKP
(x2, x4: 11x11 x2 kernels, at x4 their analytic x4 kernel, 21x21). Pixels and kernels are those of
``blindsr.fkp.data_prep`` (the authors' ``prepare_dataset.py``): NumPy seeded 1 once per set and
scale, images in sorted name order. Files are written through a temporary folder and renamed into
place; existing ones are kept unless ``overwrite``.
"""
import logging
import os
import tempfile
from pathlib import Path

from ..fkp.data_prep import prepare_dipfkp_testset, prepare_kernelganfkp_testset
from ..utils.files import atomic_write_bytes
from . import protocol
from .build import BuildSummary, collect_sets

logger = logging.getLogger(__name__)

# protocol -> (folder prefix, writer, scales)
PROTOCOLS = {
    'dipfkp': ('DIPFKP', prepare_dipfkp_testset, (2, 3, 4)),
    'kernelganfkp': ('KernelGANFKP', prepare_kernelganfkp_testset, (2, 4)),
}
SEED = 1   # the authors' np.random.seed(1)


def protocol_scales(name, scales=None):
    """The scales to write: ``scales`` checked against the protocol's, or all of them."""
    supported = PROTOCOLS[name][2]
    if not scales:
        return supported
    bad = sorted(set(scales) - set(supported))
    if bad:
        raise ValueError(f'--protocol {name} has scales {", ".join(map(str, supported))}, not {bad[0]}')
    return tuple(sorted(set(scales)))


def _hr_view(images, folder):
    """``folder/<stem>.png`` links to the HR images (the authors' script reads ``HR/*.png``; the
    content decides the format, so any image type works)."""
    folder.mkdir(parents=True)
    for path in images:
        link = folder / f'{path.stem}.png'
        if link.is_symlink():
            raise ValueError(f'{path.parent}: two images are named {path.stem}.*; FKP names files by stem')
        link.symlink_to(path.resolve())


def _place(src, target, overwrite, summary):
    if target.exists() and not overwrite:
        summary.kept += 1
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, target)
    summary.written += 1


def prepare_fkp_testsets(opt, output_root, name, scales=None, overwrite=False):
    """Write protocol ``name`` ('dipfkp' or 'kernelganfkp') for the datasets of ``opt`` under
    ``output_root``; returns a :class:`~blindsr.testsets.build.BuildSummary`."""
    if name not in PROTOCOLS:
        raise ValueError(f'unknown FKP protocol {name!r}; valid: {", ".join(PROTOCOLS)}')
    prefix, prepare, _ = PROTOCOLS[name]
    scales = protocol_scales(name, scales)
    output_root = Path(output_root)
    output_root.mkdir(parents=True, exist_ok=True)
    summary = BuildSummary()
    for ts in collect_sets(opt):
        set_dir = output_root / protocol.set_name(ts.dataroot)
        summary.folders.append(set_dir)
        hr_dir = set_dir / 'HR'
        if not (hr_dir.exists() and hr_dir.resolve() == ts.dataroot.resolve()):
            for path in ts.images:
                target = hr_dir / path.name
                if overwrite or not target.exists():
                    atomic_write_bytes(path.read_bytes(), target)
                    summary.written += 1
                else:
                    summary.kept += 1
        for scale in scales:
            with tempfile.TemporaryDirectory(dir=output_root, prefix='.fkp_prepare_') as tmp:
                tmp = Path(tmp)
                _hr_view(ts.images, tmp / 'src' / 'HR')
                prepare(tmp / 'src', scale, seed=SEED, out_dir=tmp / 'out')
                for sub in (f'{prefix}_lr_x{scale}', f'{prefix}_gt_k_x{scale}'):
                    for f in sorted((tmp / 'out' / sub).iterdir()):
                        _place(f, set_dir / sub / f.name, overwrite, summary)
            logger.info('%s: %s_lr_x%d and %s_gt_k_x%d (%d images)', set_dir, prefix, scale, prefix, scale,
                        len(ts.images))
    if summary.kept:
        logger.warning('kept %d existing files (use --overwrite to rebuild them)', summary.kept)
    logger.info('wrote %d files in %s', summary.written, ', '.join(str(f) for f in summary.folders))
    return summary
