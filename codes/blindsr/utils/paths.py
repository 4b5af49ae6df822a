"""Where things are: the repository root and the shared material beside it."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
CODES_DIR = REPO_ROOT / 'codes'
SHARED_DIR = Path(os.environ.get('BLINDSR_SHARED', REPO_ROOT.parent / 'shared'))


def resolve_path(path, must_exist=False):
    """Resolve an option path against the repository root, whatever the cwd.

    The authors' option files were written relative to ``codes/`` (``../datasets/...``,
    ``./pca_matrix...``); when the root-relative path does not exist but the
    ``codes/``-relative one does, the latter is used so their files run unchanged.
    """
    if path is None:
        return None
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute():
        return p
    candidates = [REPO_ROOT / p, CODES_DIR / p]
    for c in candidates:
        if c.exists():
            return c.resolve()
    if must_exist:
        raise FileNotFoundError(f'{path}: not found (looked in {REPO_ROOT} and {CODES_DIR})')
    return (REPO_ROOT / p).resolve()
