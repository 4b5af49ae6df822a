"""Check that a stage-2 (non-blind) network listens to its kernel: PSNR_Y fed the true vs wrong kernels.

    python scripts/kernel_sensitivity.py --model pretrained_models/MANet_s2_x4_SunHays80.pth \
        --set ../shared/datasets/BSD68/HR --images 6

Prints a Markdown table (rows: the true blur; columns: the kernel fed) and writes it, with a CSV,
under ``results/kernel_sensitivity/<model stem>/``.
"""
import argparse
import csv
import io
import logging
import sys
from pathlib import Path

from blindsr.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='PSNR_Y of a stage-2 network fed the true kernel and wrong kernels '
                                            '(rotated 45 degrees, 4x variances, fixed kernels, the mean kernel).')
    p.add_argument('--model', required=True, help='stage-2 weights (.pth) with the .yml record saved beside them')
    p.add_argument('--set', required=True, help='folder of HR images (centre-cropped to multiples of the scale)')
    p.add_argument('--images', type=int, default=6, help='use the first N images of the folder (default 6; 0: all)')
    p.add_argument('--crop', type=int, default=0,
                   help='HR centre crop side in pixels to run faster (default 0: the whole image)')
    p.add_argument('--train_sv_rate', type=float, default=None,
                   help="mean kernel of a training mix with random fields (default: the record's train_sv_rate, "
                        'else 0, the authors\' kernels)')
    p.add_argument('--output', default=None, help='folder for table.md and table.csv '
                                                  '(default results/kernel_sensitivity/<model stem>)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def job():
        from blindsr.archs.baselines_arch import mean_training_kernel
        from blindsr.archs.build import build_network
        from blindsr.inference.checkpoint_options import checkpoint_options
        from blindsr.inference.kernel_sensitivity import markdown, sensitivity_table
        from blindsr.utils.checkpoint_io import load_state_dict
        from blindsr.utils.files import atomic_write_text
        from blindsr.utils.image_io import img2tensor, list_images, read_image
        from blindsr.utils.logger import setup_logging
        setup_logging()
        if args.images < 0 or args.crop < 0:
            raise ValueError('--images and --crop must be >= 0')
        opt = checkpoint_options(args.model)
        net = build_network(opt)
        load_state_dict(net, args.model, strict=True)
        net.eval()
        s = opt['scale']
        paths = list_images(args.set)[:args.images or None]
        hrs = []
        for p in paths:
            hr = img2tensor(read_image(p))
            h, w = hr.shape[1:]
            ch, cw = (min(args.crop, h), min(args.crop, w)) if args.crop else (h, w)
            ch, cw = ch - ch % s, cw - cw % s
            top, left = (h - ch) // 2, (w - cw) // 2
            hrs.append(hr[:, top:top + ch, left:left + cw])
        rate = args.train_sv_rate if args.train_sv_rate is not None else (opt.get('train_sv_rate') or 0.0)
        mean = mean_training_kernel(s, opt['kernel_size'], train_sv_rate=rate)
        table = sensitivity_table(lambda lr, k: net(lr, k)[0], hrs, s, mean, kernel_size=opt['kernel_size'])
        text = (f'{args.model} on {len(hrs)} images of {args.set} (x{s}, noise 0, PSNR_Y dB); '
                f'mean kernel with train_sv_rate {rate:g}\n\n{markdown(table)}\n')
        out = Path(args.output) if args.output else ROOT / 'results' / 'kernel_sensitivity' / Path(args.model).stem
        atomic_write_text(text, out / 'table.md')
        buf = io.StringIO()
        writer = csv.writer(buf)
        cols = list(next(iter(table.values())))
        writer.writerow(['true_blur'] + cols)
        for true, row in table.items():
            writer.writerow([true] + [f'{row[c]:.4f}' for c in cols])
        atomic_write_text(buf.getvalue(), out / 'table.csv')
        sys.stdout.write(text)
        logging.getLogger('blindsr').info('wrote %s', out / 'table.md')
        return 0
    return run_cli(job)


if __name__ == '__main__':
    sys.exit(main())
