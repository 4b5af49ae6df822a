"""Dataset-side file access: image lists, images and true kernels, with ``DatasetError``s.

The image helpers raise their own errors; here they become ``DatasetError`` with the option
key that pointed at the file, so a user knows which line of the option file to fix.
"""
from pathlib import Path

import numpy as np

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


def kernel_folder(lq_root):
    """Sibling of the LQ folder holding true kernels (``LR_x`` -> ``kernels_x``), or None."""
    if lq_root is None:
        return None
    lq_root = Path(lq_root)
    if 'LR_' not in lq_root.name:
        return None
    folder = lq_root.parent / lq_root.name.replace('LR_', 'kernels_', 1)
    return folder if folder.is_dir() else None


def kernel_files(folder, image_paths_):
    """``<folder>/<stem>.npz`` for every image; all must exist once the folder exists."""
    files = [folder / f'{p.stem}.npz' for p in image_paths_]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DatasetError(f'{missing[0]}: true-kernel file missing ({len(missing)} of {len(files)} '
                           f'images have none); add it or remove the folder {folder}')
    return files


def load_kernel(path):
    """('kernel', (l,l)) or ('kernel_field', (h,w,l,l)) float32 array from an .npz file."""
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
