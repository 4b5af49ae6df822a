"""Test a model on the datasets of an option file; write SR images, kernel pictures and metrics.

    python codes/test.py --opt options/test/test_stage3.yml [--save_kernel]

Outputs go to ``results/<name>/<set>/`` (an earlier folder of the same name is archived, never
overwritten, once the datasets and checkpoints have been checked; at most 5 archives per name):
``<img>.png`` (SR), ``kernels/<img>.png`` (estimated | true kernel at the image
centre), ``metrics.csv``, with ``--save_kernel`` ``npz/<img>.npz`` for the kernel explorer, and with
``--samples N`` (N > 1) ``uncertainty/<img>.png``, the std of the N draws. A kernel sweep (lists in
``sig1``/``sig2``/``theta``) puts each kernel's results in ``<set>/<kernel>/`` and a row per kernel plus
their mean in ``<set>/metrics.csv``.
An image that cannot be read is a ``failed`` row of metrics.csv (with the reason) and the rest still
run; the exit status is then 1 (2 for a usage error).
"""
import argparse

from blindsr.cli import run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Test a blind-SR model on the datasets of a YAML option file.')
    p.add_argument('--opt', required=True, help='path to the YAML option file')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='override an option, e.g. --set sv_mode=4 (repeatable; type-checked)')
    p.add_argument('--save_kernel', action='store_true',
                   help='also write npz/<img>.npz: SR image, LR-resolution kernel field (float16, and PCA codes), '
                        'true kernel, scale; written tile by tile')
    p.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'), default=None,
                   help="inference precision: fp32, or autocast to bf16 (CPU, CUDA) or fp16 (CUDA only); default: "
                        "the options' amp (fp16 autocast on CUDA, fp32 on CPU)")
    p.add_argument('--samples', type=int, default=None, metavar='N',
                   help='average N forwards per image (the latent draws of KULNet) and write their per-pixel std '
                        'as uncertainty/<img>.png; the same as --set samples=N (default: the option file\'s, 1)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def job():
        from blindsr.engine.tester import test
        from blindsr.options import load_options
        samples = [] if args.samples is None else [f'samples={args.samples}']
        opt = load_options(args.opt, is_train=False, overrides=args.set + samples)
        summary = test(opt, save_kernel=args.save_kernel, precision=args.precision)
        return 1 if summary.failed else 0
    return run_cli(job)

