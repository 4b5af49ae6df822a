"""Train a model from an option file.

    python codes/train.py --opt options/train/train_stage1.yml [--set train.niter=1000] [--resume auto]
    torchrun --nproc_per_node=2 codes/train.py --opt ... --launcher pytorch
"""
import argparse

from blindsr.cli import run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train a blind-SR model (MANet stages, FKP prior, ...) from a YAML option file.')
    p.add_argument('--opt', required=True, help='path to the YAML option file')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='override an option, e.g. --set train.niter=100 (repeatable; type-checked)')
    p.add_argument('--resume', default=None, metavar='auto|PATH',
                   help="continue a run: 'auto' takes the newest training state of this run, or give a .state file")
    p.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                   help="'pytorch' under torchrun for distributed data-parallel training")
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def job():
        from blindsr.engine.trainer import train
        from blindsr.options import load_options
        opt = load_options(args.opt, is_train=True, overrides=args.set)
        train(opt, resume=args.resume, launcher=args.launcher)
    return run_cli(job)

