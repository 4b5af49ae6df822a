"""The interactive window (the authors' ``interactive_explore.py``, matplotlib): the image, and the
estimated kernel — beside the true one and their PSNR when known — of the pixel under the cursor.
"""
import math

import numpy as np


class KernelExplorerWindow:
    """A matplotlib figure that follows the mouse over the image.

    ``on_move`` is the ``motion_notify_event`` handler; ``select(x, y)`` shows SR pixel (x, y)
    (the window starts at the image centre). Works with any backend; :meth:`show` needs an
    interactive one.
    """

    def __init__(self, field, figsize=(12, 5)):
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle

        self.field = field
        self.plt = plt
        has_gt = field.gt is not None
        self.fig = plt.figure(figsize=figsize)
        grid = self.fig.add_gridspec(2 if has_gt else 1, 2, width_ratios=(2.2, 1))
        self.ax_img = self.fig.add_subplot(grid[:, 0])
        self.ax_img.imshow(field.image, interpolation='nearest')
        self.ax_img.set_title(f'{field.path.name}: {field.image_kind} — move the cursor', fontsize=9)
        s = field.scale
        self.marker = Rectangle((-0.5, -0.5), s, s, fill=False, edgecolor='red', linewidth=1.2)
        self.ax_img.add_patch(self.marker)
        blank = np.zeros(field.est.shape[-2:], np.float32)
        self.ax_est = self.fig.add_subplot(grid[0, 1])
        self.est_artist = self.ax_est.imshow(blank, cmap='viridis', interpolation='nearest')
        self.ax_gt = self.gt_artist = None
        if has_gt:
            self.ax_gt = self.fig.add_subplot(grid[1, 1])
            self.gt_artist = self.ax_gt.imshow(blank, cmap='viridis', interpolation='nearest')
            self.ax_gt.set_title('true kernel', fontsize=9)
        for ax in (self.ax_est, self.ax_gt):
            if ax is not None:
                ax.set_xticks([])
                ax.set_yticks([])
        self.fig.tight_layout()
        self.position = None
        self.fig.canvas.mpl_connect('motion_notify_event', self.on_move)
        H, W = field.sr_size
        self.select(W // 2, H // 2)

    def select(self, x, y):
        """Show the kernels of SR pixel (x, y) (column, row); returns its LR pixel (i, j)."""
        f = self.field
        i, j = f.lr_pixel(x, y)
        est, gt, psnr = f.kernels_at(x, y)
        self.est_artist.set_data(est)
        self.est_artist.set_clim(0, float(est.max()) or 1.0)
        title = f'estimated kernel at SR ({int(x)}, {int(y)}) = LR ({j}, {i})'
        if gt is not None:
            self.gt_artist.set_data(gt)
            self.gt_artist.set_clim(0, float(gt.max()) or 1.0)
            title += '\nPSNR ' + ('inf' if math.isinf(psnr) else f'{psnr:.2f} dB')
        self.ax_est.set_title(title, fontsize=9)
        self.marker.set_xy((j * f.scale - 0.5, i * f.scale - 0.5))
        self.position = (i, j)
        return i, j

    def on_move(self, event):
        """Mouse motion: follow the cursor while it is over the image."""
        if event.inaxes is not self.ax_img or event.xdata is None or event.ydata is None:
            return
        H, W = self.field.sr_size
        x, y = int(math.floor(event.xdata + 0.5)), int(math.floor(event.ydata + 0.5))  # pixel centres at integers
        if 0 <= x < W and 0 <= y < H:
            self.select(x, y)
            self.fig.canvas.draw_idle()

    def show(self):
        self.plt.show()


def interactive_backend():
    """True when matplotlib can open a window (an interactive backend with a display)."""
    import matplotlib
    backend = matplotlib.get_backend().lower()
    return not any(backend.startswith(b) for b in ('agg', 'pdf', 'ps', 'svg', 'pgf', 'cairo', 'template'))
