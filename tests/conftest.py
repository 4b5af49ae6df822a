"""Shared test fixtures: the ``../shared`` material, determinism (pytest.ini puts codes/ on the path).

blindsr is imported before torch so that its OpenMP wait policy (passive) holds for the suite and
for the subprocesses the tests start, which inherit the environment.
"""
import os
from pathlib import Path

import pytest

from blindsr.utils.paths import SHARED_DIR

import torch  # after blindsr: its OpenMP wait policy must hold when torch loads

ROOT = Path(__file__).resolve().parents[1]

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


@pytest.fixture
def chromium():
    """Headless Chromium for the explorer's HTML page: a skip here, a failure under CI=true."""
    from blindsr.utils.headless_browser import find_chromium
    if find_chromium() is None:
        msg = 'chromium is not installed (.ci/run installs it)'
        if os.environ.get('CI') == 'true':
            pytest.fail(msg)
        pytest.skip(msg)
