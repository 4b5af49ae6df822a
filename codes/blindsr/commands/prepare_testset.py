"""Build the paper's benchmark sets (SI kernel grid, SV modes 1-5, noise 0/15) from HR folders.

    python codes/prepare_testset.py --opt options/test/prepare_testset.yml [--output DIR] [--overwrite]
    python codes/prepare_testset.py --protocol kulnet|dipfkp|kernelganfkp [--scales 4] [--output DIR]

For each dataset of the option file and each scale 2, 3, 4 this writes ``<set>_x<s>/HR_si``,
``HR_sv``, ``LR_mode<m>_noise<n>`` exactly as the MANet authors' script (same names, same
pixels), plus ``kernels_mode<m>_noise<n>/<img>.npz`` with the true kernels, which test.py's
GTLQ datasets pick up. ``--protocol kulnet`` writes the KULNet authors' nine x4 kernels instead
(``HR_kulnet``, ``LR_kulnet_noise0``, ``kernels_kulnet_noise0``); ``--protocol dipfkp`` /
``kernelganfkp`` the FKP authors' sets: ``<set>/HR``, ``<set>/DIPFKP_lr_x<s>``,
``<set>/DIPFKP_gt_k_x<s>`` (``.mat`` kernels), or the ``KernelGANFKP_*`` ones (x2, x4). Existing
files are kept unless ``--overwrite``.
"""
import argparse
from pathlib import Path

from blindsr.cli import run_cli

DEFAULT_OPT = 'options/test/prepare_testset.yml'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Build the MANet authors' benchmark LR sets (with true kernels) "
                                            'from the HR folders of an option file.')
    p.add_argument('--opt', default=DEFAULT_OPT, help=f'path to the YAML option file (default: {DEFAULT_OPT})')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help="override an option, e.g. --set sv_sets=[BSD68] (repeatable; type-checked)")
    p.add_argument('--output', default=None, metavar='DIR',
                   help='folder that receives the <set>_x<s> folders (default: results/<name>/)')
    p.add_argument('--protocol', default='manet', choices=['manet', 'kulnet', 'dipfkp', 'kernelganfkp'],
                   help="whose test sets: the MANet authors' (default), the KULNet authors' nine kernels "
                        '(<set>_x4/HR_kulnet, LR_kulnet_noise0) or the FKP authors\' DIP-FKP / KernelGAN-FKP '
                        'layouts (<set>/<M>_lr_x<s>, <set>/<M>_gt_k_x<s>/<img>.mat)')
    p.add_argument('--scales', type=int, nargs='+', default=None, choices=[2, 3, 4], metavar='S',
                   help='scales to write, among 2 3 4 (default: all of the protocol; kulnet: 4; kernelganfkp: 2 4); '
                        'the files are the same as in a full run')
    p.add_argument('--overwrite', action='store_true', help='rewrite files that already exist (default: keep them)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def job():
        from blindsr.options import load_options
        from blindsr.testsets.build import prepare_testsets
        from blindsr.testsets.fkp import prepare_fkp_testsets
        from blindsr.utils.logger import setup_logging, timestamp
        from blindsr.utils.paths import REPO_ROOT
        # the authors' file leaves scale and the network null: the protocol sets the scale, no network runs
        opt = load_options(args.opt, is_train=False, overrides=args.set,
                           optional=('scale', 'network_G.which_model_G'))
        output = Path(args.output) if args.output else REPO_ROOT / 'results' / opt['name']
        setup_logging(output / f'prepare_testset_{timestamp()}.log')
        if args.protocol in ('manet', 'kulnet'):
            kulnet = args.protocol == 'kulnet'
            prepare_testsets(opt, output, scales=args.scales or ([4] if kulnet else [2, 3, 4]),
                             overwrite=args.overwrite, kulnet=kulnet)
        else:
            prepare_fkp_testsets(opt, output, args.protocol, scales=args.scales, overwrite=args.overwrite)
    return run_cli(job)

