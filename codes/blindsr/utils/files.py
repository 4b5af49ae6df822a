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
