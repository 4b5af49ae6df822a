"""Headless Chromium for rendering local HTML pages (the kernel explorer's tests and screenshots).

Every run uses a fresh empty profile and no network services, so nothing is fetched and
nothing persists. Debian's package is ``chromium``; ``CHROMIUM`` names another binary.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')
FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--hide-scrollbars')


def find_chromium():
    """Path of a Chromium binary, or None."""
    named = os.environ.get('CHROMIUM')
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args, timeout):
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError('chromium not found; install it (Debian: apt-get install chromium) or set CHROMIUM')
    with tempfile.TemporaryDirectory(prefix='chromium-profile-') as profile:
        res = subprocess.run([binary, *FLAGS, f'--user-data-dir={profile}', *args], capture_output=True,
                             timeout=timeout)
    if res.returncode != 0:
        tail = res.stderr.decode(errors='replace').strip().splitlines()[-3:]
        raise RuntimeError(f'chromium failed ({res.returncode}): ' + ' | '.join(tail))
    return res


def file_url(path, fragment=''):
    url = Path(path).resolve().as_uri()
    return f'{url}#{fragment}' if fragment else url


def dump_dom(url, timeout=60):
    """The DOM of ``url`` after its scripts ran (``--dump-dom``), as text."""
    return _run(['--dump-dom', url], timeout).stdout.decode('utf-8', errors='replace')


def screenshot(url, out_png, size=(1040, 600), timeout=60):
    """A PNG of ``url`` rendered in a ``size`` (width, height) window."""
    out_png = Path(out_png).resolve()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    _run([f'--screenshot={out_png}', f'--window-size={size[0]},{size[1]}', url], timeout)
    if not out_png.is_file():
        raise RuntimeError(f'chromium wrote no screenshot to {out_png}')
    return out_png
