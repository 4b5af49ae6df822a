"""Matplotlib without a display, and figures written atomically (no half-written PNG)."""
from .files import atomic_path

__all__ = ['pyplot', 'save_figure']


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported late: most commands draw nothing)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, dpi=110):
    """Write ``fig`` as a PNG at ``path`` through a temporary file, then close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=dpi, bbox_inches='tight')
    pyplot().close(fig)
