"""Dataset-side file access: image lists, images and true kernels, with ``DatasetError``s.

The image helpers raise their own errors; here they become ``DatasetError`` with the option
key that pointed at the file, so a user knows which line of the option file to fix.

True kernels sit beside the LR folder in one of two layouts: ours (``LR_*`` -> ``kernels_*``,
``<stem>.npz``) and FKP's (``<M>_lr_x<s>`` -> ``<M>_gt_k_x<s>``, ``<stem>.mat`` with ``Kernel``).
"""
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from blindsr.data.errors import DatasetError
from blindsr.utils.image_io import ImageNotFoundError, ImageReadError, list_images, read_image


def image_paths(folder, key):
    """Sorted image files of the folder given by option ``key`` (e.g. 'dataroot_GT')."""
    if folder is None:
        raise DatasetError(f"'{key}' is not set; this dataset mode needs it")
    try:
        return list_images(folder)
    except (ImageNotFoundError, ImageReadError) as e:
        raise DatasetError(f'{key}: {e}') from e


def load_image(path):
    """float32 RGB HxWx3 in [0, 1]; unreadable, corrupt or vanished files -> DatasetError."""
    try:
        return read_image(path)
    except (ImageNotFoundError, ImageReadError) as e:
        raise DatasetError(str(e)) from e


# which folders of a dataset mode hold images (other modes, e.g. FKP's kernels, read no files)
_IMAGE_FOLDERS = {'GT': ('dataroot_GT',), 'LQ': ('dataroot_LQ',), 'GTLQ': ('dataroot_GT', 'dataroot_LQ')}


def check_image_files(datasets):
    """Decode every image of the datasets once, before a run writes anything.

    A corrupt file would otherwise surface only when first sampled, maybe hours in. ``datasets``
    is the validated ``datasets`` section; raises one ``DatasetError`` naming every bad file.
    """
    paths = {}
    for phase, d in datasets.items():
        for key in _IMAGE_FOLDERS.get(d.get('mode'), ()):
            for p in image_paths(d.get(key), f'datasets.{phase}.{key}'):
                paths.setdefault(p, None)
    if not paths:
        return 0

    def problem(path):
        try:
            read_image(path)
        except (ImageNotFoundError, ImageReadError) as e:
            return str(e)
        return None

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        problems = list(tqdm(pool.map(problem, paths), total=len(paths), desc='checking dataset images',
                             unit='img', dynamic_ncols=True, leave=False, disable=None))
    bad = [str(p) for p, msg in zip(paths, problems) if msg]
    if bad:
        raise DatasetError(f'{len(bad)} of {len(paths)} dataset image file(s) cannot be read (corrupt, not an '
                           f'image or unsupported): {", ".join(bad)}; re-export or remove them')
    return len(paths)


_FKP_LR = re.compile(r'_lr_x(\d+)$')


def kernel_folder(lq_root):
    """Sibling of the LQ folder holding true kernels, or None: ``LR_x`` -> ``kernels_x``, or
    FKP's ``DIPFKP_lr_x4`` -> ``DIPFKP_gt_k_x4``."""
    if lq_root is None:
        return None
    lq_root = Path(lq_root)
    if 'LR_' in lq_root.name:
        folder = lq_root.parent / lq_root.name.replace('LR_', 'kernels_', 1)
    elif _FKP_LR.search(lq_root.name):
        folder = lq_root.parent / _FKP_LR.sub(r'_gt_k_x\1', lq_root.name)
    else:
        return None
    return folder if folder.is_dir() else None


def kernel_files(folder, image_paths_):
    """``<folder>/<stem>.npz`` (``.mat`` in FKP's ``*_gt_k_x<s>``) for every image; all must
    exist once the folder exists."""
    ext = '.mat' if '_gt_k_x' in folder.name else '.npz'
    files = [folder / f'{p.stem}{ext}' for p in image_paths_]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DatasetError(f'{missing[0]}: true-kernel file missing ({len(missing)} of {len(files)} '
                           f'images have none); add it or remove the folder {folder}')
    return files


def _load_mat_kernel(path):
    """FKP's ``.mat`` kernel (variable ``Kernel``, l x l) as ('kernel', float32 array)."""
    import scipy.io as sio
    try:
        data = sio.loadmat(str(path))
    except Exception as e:   # scipy raises ValueError/TypeError/OSError on foreign files
        raise DatasetError(f'{path}: cannot read kernel file ({type(e).__name__}: {e})') from e
    if 'Kernel' not in data:
        found = ', '.join(k for k in data if not k.startswith('__')) or 'nothing'
        raise DatasetError(f"{path}: no 'Kernel' variable (found {found})")
    arr = np.asarray(data['Kernel'], dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise DatasetError(f"{path}: 'Kernel' has shape {arr.shape}, expected (l, l)")
    return 'kernel', arr


def load_kernel(path):
    """('kernel', (l,l)) or ('kernel_field', (h,w,l,l)) float32 array from an .npz (or FKP .mat) file."""
    if Path(path).suffix == '.mat':
        return _load_mat_kernel(path)
    try:
        with np.load(path) as data:
            for key, ndim in (('kernel', 2), ('kernel_field', 4)):
                if key in data.files:
                    arr = np.asarray(data[key], dtype=np.float32)
                    if arr.ndim != ndim or arr.shape[-1] != arr.shape[-2]:
                        raise DatasetError(f'{path}: {key!r} has shape {arr.shape}, expected '
                                           f'{"(l, l)" if ndim == 2 else "(h, w, l, l)"}')
                    return key, arr
            found = ', '.join(data.files) or 'nothing'
    except DatasetError:
        raise
    except Exception as e:   # zipfile/pickle/OSError: anything numpy raises on a bad file
        raise DatasetError(f'{path}: cannot read kernel file ({type(e).__name__}: {e}); '
                           're-save it with numpy.savez') from e
    raise DatasetError(f"{path}: no 'kernel' or 'kernel_field' array (found {found})")
