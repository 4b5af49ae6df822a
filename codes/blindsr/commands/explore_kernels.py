"""Explore the kernels a model estimated for every pixel of an image.

    python codes/explore_kernels.py --path results/<name>/<set>/npz/<img>.npz            # window
    python codes/explore_kernels.py --path ... --html kernels.html                      # browser page
    python codes/explore_kernels.py --path ... --grid kernels.png [--grid-step 8]       # picture

The ``.npz`` comes from ``test.py --save_kernel`` or ``infer.py --save_kernel``. The window
and the page show the image and, for the pixel under the cursor, the estimated kernel, the
true kernel when the file has it, and their PSNR. Output files are not overwritten without
``--overwrite``.
"""
import argparse
from pathlib import Path

from blindsr.cli import run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Explore an estimated kernel field: interactive window, '
                                            'self-contained HTML page, or a grid picture.')
    p.add_argument('--path', required=True, help='kernel-field .npz written by test.py/infer.py --save_kernel')
    p.add_argument('--image', default=None,
                   help='picture to show under the kernels (default: the SR image in the file, else its LR enlarged)')
    p.add_argument('--html', default=None, metavar='OUT.html',
                   help='write one self-contained HTML page (hover/click a pixel, or open it with #x=..&y=..)')
    p.add_argument('--grid', default=None, metavar='OUT.png',
                   help='draw the estimated kernels on a grid over the image')
    p.add_argument('--grid-step', type=int, default=None, metavar='N',
                   help='LR pixels between the kernels of --grid (default: about 8 along the shorter side)')
    p.add_argument('--overwrite', action='store_true', help='replace existing --html/--grid files')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def job():
        import logging

        from blindsr.explorer.field_file import load_kernel_field
        from blindsr.utils.logger import setup_logging
        log = setup_logging()
        outputs = [Path(o) for o in (args.html, args.grid) if o]
        for out in outputs:
            if out.exists() and not args.overwrite:
                raise ValueError(f'{out} exists; use --overwrite to replace it')
        field = load_kernel_field(args.path, image=args.image)
        if args.html:
            from blindsr.explorer.html_page import write_html
            size = write_html(field, args.html)
            log.info('wrote %s (%.1f MB); open it in a browser, e.g. %s#x=%d&y=%d', args.html, size / 2 ** 20,
                     Path(args.html).resolve().as_uri(), field.sr_size[1] // 2, field.sr_size[0] // 2)
        if args.grid:
            from blindsr.explorer.grid_picture import save_kernel_grid
            save_kernel_grid(field, args.grid, step=args.grid_step)
            log.info('wrote %s', args.grid)
        if not outputs:
            from blindsr.explorer.window import KernelExplorerWindow, interactive_backend
            if not interactive_backend():
                import matplotlib
                raise ValueError(f'matplotlib backend {matplotlib.get_backend()!r} cannot open a window (no display?); '
                                 'use --html OUT.html or --grid OUT.png')
            logging.getLogger('blindsr').info('move the cursor over the image; close the window to quit')
            KernelExplorerWindow(field).show()
    return run_cli(job)

