"""Atomic file writes: a crash never leaves a half-written checkpoint or result."""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch


class SaveError(OSError):
    """A file could not be written (full disk, no permission, ...): reported in one line naming it."""

    def __str__(self):
        return self.strerror or super().__str__()


@contextmanager
def atomic_path(path):
    """Yield a temporary path in the same folder; rename it onto ``path`` on success.

    An OSError while writing becomes a :class:`SaveError` naming ``path``; the temporary is removed.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)      # mkstemp's 0600 would make every output private
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            try:
                os.remove(tmp)
            except OSError:
                pass
        if isinstance(e, OSError) and not isinstance(e, SaveError):
            raise SaveError(e.errno, f'cannot write {path}: {e.strerror or e}') from None
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


MAX_ARCHIVES = 5


def archives_of(root):
    """Earlier runs of ``root`` renamed by :func:`archive_folder`, oldest first."""
    root = Path(root)
    if not root.parent.is_dir():
        return []
    found = [p for p in root.parent.glob(f'{root.name}_archived_*') if p.is_dir()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def archive_folder(root, keep=MAX_ARCHIVES):
    """Rename a non-empty ``root`` to ``<name>_archived_<time>``; keep at most ``keep`` archives.

    Returns the archive's path, or None when there was nothing to archive.
    """
    import logging
    import shutil
    import time
    root = Path(root)
    if not (root.is_dir() and any(root.iterdir())):
        return None
    log = logging.getLogger('blindsr')
    stamp = time.strftime('%y%m%d-%H%M%S')
    archived = root.with_name(f'{root.name}_archived_{stamp}')
    n = 1
    while archived.exists():        # two archives in the same second
        archived = root.with_name(f'{root.name}_archived_{stamp}_{n}')
        n += 1
    os.rename(root, archived)
    os.utime(archived)
    log.warning('%s existed: moved to %s', root, archived)
    old = archives_of(root)
    for p in old[:max(0, len(old) - keep)]:
        shutil.rmtree(p, ignore_errors=True)
        log.warning('removed the oldest archive %s (at most %d archives are kept per name)', p, keep)
    return archived
