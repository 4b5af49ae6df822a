"""Super-resolve your own low-resolution images with a trained checkpoint; no option file needed.

    python codes/infer.py --input photo.png --model results/<run>/models/latest_G.pth --output out/
    python codes/infer.py --input photos/ --model <ckpt> --output out/ --save_kernel   # + kernel fields
    python codes/infer.py --input photos/ --model stage3_MANet+RRDB_x4.pth --opt options/test/test_stage3.yml ...

The network and its options come from ``<ckpt>.yml`` beside weights this project saved, or
from ``--opt`` (e.g. the authors' released weights with their test option file). Images of
any size run in tiles; gray and RGBA inputs work. A file that cannot be read is reported and
skipped; the exit status is then 1 (2 for a usage error). Existing outputs are kept unless
``--overwrite``. An --output equal to or inside a folder --input, or one where an output
would replace an input file, is refused (exit 2, nothing written). Inputs sharing a stem
(photo.png, photo.jpg) are written as photo_png.png and photo_jpg.png; others as <stem>.png.
"""
import argparse

from blindsr.cli import run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Super-resolve real low-resolution images with a trained blind-SR '
                                            'checkpoint (network options from the checkpoint or --opt).')
    p.add_argument('--input', required=True, help='an image file, or a folder of images (not recursive)')
    p.add_argument('--model', required=True, help='network weights (.pth); ours carry a .yml record beside them')
    p.add_argument('--output', required=True, help='folder for <stem>.png (and npz/<stem>.npz with --save_kernel); inputs sharing a stem '
                        '(photo.png, photo.jpg) give photo_png.png, photo_jpg.png. Must not be, or be inside, '
                        'the --input folder')
    p.add_argument('--opt', default=None, help='option file with the network options, for weights without a record')
    p.add_argument('--scale', type=int, default=None,
                   help="expected SR factor; an error if the network's differs (default: the network's)")
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='override an option of the record or --opt file (repeatable; type-checked)')
    p.add_argument('--save_kernel', action='store_true',
                   help='also write npz/<stem>.npz (SR, LR, estimated kernel field in float16, and PCA codes) for '
                        'explore_kernels.py, tile by tile (about 0.95 KB per LR pixel)')
    p.add_argument('--samples', type=int, default=None, metavar='N',
                   help='average N forwards per image (the latent draws of KULNet) and write their per-pixel std '
                        'as uncertainty/<stem>.png; the same as --set samples=N (default 1)')
    p.add_argument('--tile', type=int, default=256,
                   help='LR tile size: larger images run tile by tile to bound memory (default 256; 0: whole image)')
    p.add_argument('--tile_overlap', type=int, default=32,
                   help='LR overlap between tiles (default 32); see blindsr/archs/tiling.py for exact values')
    p.add_argument('--device', default='auto', help='auto (CUDA when present), cpu, cuda or cuda:<index>')
    p.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'), default=None,
                   help='inference precision: fp32, or autocast to bf16 (CPU, CUDA) or fp16 (CUDA only); '
                        "default: the options' amp (fp16 autocast on CUDA, fp32 on CPU)")
    p.add_argument('--overwrite', action='store_true', help='redo images whose outputs exist (default: keep them)')
    args = p.parse_args(argv)
    if args.tile < 0 or args.tile_overlap < 0:
        p.error('--tile and --tile_overlap must be >= 0')
    if args.tile and args.tile_overlap >= args.tile:
        p.error(f'--tile_overlap {args.tile_overlap} must be smaller than --tile {args.tile} (--tile 0: whole image)')
    if args.precision == 'fp16' and args.device == 'cpu':
        p.error('--precision fp16 needs CUDA (CPUs have no fast float16 path); use bf16 or fp32 on CPU')
    return args


def main(argv=None):
    args = parse_args(argv)

    def job():
        from blindsr.inference.checkpoint_options import checkpoint_options
        from blindsr.inference.runner import Inference, check_output_location, input_images, super_resolve
        from blindsr.utils.device import device_from_name
        from blindsr.utils.logger import setup_logging
        setup_logging()
        paths = input_images(args.input)
        check_output_location(args.input, paths, args.output)
        samples = [] if args.samples is None else [f'samples={args.samples}']
        opt = checkpoint_options(args.model, args.opt, args.scale, args.set + samples)
        inference = Inference(opt, device_from_name(args.device), tile=args.tile or None,
                              tile_overlap=args.tile_overlap, precision=args.precision)
        summary = super_resolve(inference, paths, args.output, save_kernel=args.save_kernel, overwrite=args.overwrite)
        return 1 if summary.failed else 0
    return run_cli(job)

