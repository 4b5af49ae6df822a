"""Where DIP-FKP's early stopping would have ended a run, read off that run's full history.

DIP-FKP runs are deterministic, so one full run's ``dip/<img>_history.csv`` (written by
``codes/test.py`` with ``model: dipfkp``) tells, for every (patience, min_delta), the iteration an
early-stopped run would stop at and its kernel PSNR there, without rerunning:

    python scripts/dipfkp_early_stop.py results/DIPFKP_x4_FKP_Test/FKP_Test/dip/102061_history.csv \\
        --patience 25 50 100 --min-delta 1e-3 1e-2
"""
import argparse
import csv
from pathlib import Path


from blindsr.fkp.early_stopping import early_stop_iteration


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('history', type=Path, help='dip/<img>_history.csv of a run without early stopping')
    parser.add_argument('--patience', type=int, nargs='+', default=[25, 50, 100])
    parser.add_argument('--min-delta', type=float, nargs='+', default=[1e-3])
    parser.add_argument('--start', type=int, default=81,
                        help="first iteration watched (the default option's: once the loss is MSE and the latent moves)")
    args = parser.parse_args(argv)
    if not args.history.is_file():
        parser.error(f'{args.history}: no such file (run test.py with model: dipfkp first)')
    rows = list(csv.DictReader(open(args.history)))
    if not rows or 'lr_mse' not in rows[0]:
        parser.error(f'{args.history}: not a DIP-FKP history (needs an lr_mse column)')
    mse = [float(r['lr_mse']) for r in rows]
    psnr_k = [float(r['psnr_k']) for r in rows] if 'psnr_k' in rows[0] else None
    n = len(rows)
    final = f', kernel PSNR {psnr_k[-1]:.2f} dB' if psnr_k else ''
    print(f'{args.history}: {n} iterations{final}')
    print('| patience | min_delta | stops at | iterations saved | kernel PSNR there (dB) |')
    print('|---|---|---|---|---|')
    for min_delta in args.min_delta:
        for patience in args.patience:
            stop = early_stop_iteration(mse, patience, min_delta, args.start)
            at = stop or n
            there = f'{psnr_k[at - 1]:.2f}' if psnr_k else '–'
            print(f'| {patience} | {min_delta:g} | {stop if stop else "never"} | {n - at} ({100 * (n - at) / n:.0f}%) | {there} |')


if __name__ == '__main__':
    main()
