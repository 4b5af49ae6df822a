"""Atomic file writes: a crash never leaves a half-written checkpoint or result."""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch


@contextmanager
def atomic_path(path):
    """Yield a temporary path in the same folder; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)      # mkstemp's 0600 would make every output private
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_torch_save(obj, path):
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def atomic_write_text(text, path):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def atomic_write_bytes(data, path):
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def atomic_savez(path, arrays, compress=True):
    """``numpy.savez_compressed`` (or ``savez``), atomically and byte-reproducibly.

    ``np.savez`` stamps each zip entry with the current time, so saving the same arrays twice
    gives different files; here every entry carries a fixed date, so equal arrays give
    equal bytes. ``np.load`` reads the result like any ``.npz``.
    """
    import zipfile

    import numpy as np

    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, 'w', compression=method) as zf:
            for name, value in arrays.items():
                info = zipfile.ZipInfo(f'{name}.npy', date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = method
                info.external_attr = 0o644 << 16
                with zf.open(info, 'w', force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
