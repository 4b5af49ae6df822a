"""Shared test fixtures: import path, the ``../shared`` material, determinism.

blindsr is imported before torch so that its OpenMP wait policy (passive) holds for the suite and
for the subprocesses the tests start, which inherit the environment.
"""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'codes'))

from blindsr.utils.paths import SHARED_DIR  # noqa: E402

import torch  # noqa: E402

torch.set_num_threads(2)


def shared_file(relpath):
    """Path to ``../shared/<relpath>``; skip if absent, but fail under CI=true."""
    path = SHARED_DIR / relpath
    if not path.exists():
        msg = f'{path} is missing (the shared material beside the repository)'
        if os.environ.get('CI') == 'true':
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def shared():
    return shared_file


@pytest.fixture
def one_thread():
    """Many tiny tensor ops: one thread avoids OpenMP spinning against the other tests' processes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
