"""Benchmark of prepare_testset: the two toy images (256x256, 480x480) through each SV mode at x4.

One measurement = what ``codes/prepare_testset.py`` does for one LR set: for both images read
the HR, make the mode's kernel field, blur + subsample, quantise, and write the HR, the LR
and the true-kernel ``.npz`` (the field at LR resolution, compressed) to a temporary folder.
Each measurement runs in a fresh subprocess (``torch.set_num_threads(2)``, or ``--threads``;
``OMP_WAIT_POLICY=PASSIVE`` as the script sets it), so its peak memory is its own:

  peak    - VmHWM of the process (/proc/self/status) after the set: everything the process
            ever held, interpreter and torch included;
  growth  - that peak minus VmRSS just before the set (after the imports): what the set needs.

Printed figures are medians over ``--runs`` subprocesses. The authors' script needs about
10 s and 4.9 GB per SV mode for these two images (their (H*W, 21, 21) float64 kernel array
and unfolded image); the target here is < 1 s and < 1 GB. The machine's load average is
printed too: other processes inflate wall times.

Usage: python benchmarks/prepare_testset.py [--runs 5] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = ['si', 1, 2, 3, 4, 5]
TARGET_SECONDS, TARGET_MB = 1.0, 1024.0


def _child(case, threads):
    import blindsr  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
    import numpy as np
    import torch
    from blindsr.testsets.build import CaseWriter
    from blindsr.testsets.degrade import KernelSettings
    from blindsr.testsets.protocol import Case, si_kernel_grid
    from blindsr.utils.image_io import list_images
    from blindsr.utils.process_memory import status_mb

    torch.set_num_threads(threads)
    images = list_images(ROOT / 'datasets' / 'toy_dataset' / 'HR_si')
    if case == 'si':
        cases = [Case(4, 'toy', 0, 0, k, False) for k in si_kernel_grid(4)]
    else:
        cases = [Case(4, 'toy', 0, int(case), None, False)]
    writer = CaseWriter(KernelSettings())
    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = status_mb('VmRSS')
        t0 = time.perf_counter()
        for c in cases:
            writer.run(c, images, Path(tmp) / 'toy_x4', rng)
        wall = time.perf_counter() - t0
        peak = status_mb('VmHWM')
        files = sum(1 for _ in Path(tmp).rglob('*.*'))
    print(json.dumps({'wall': wall, 'peak': peak, 'growth': peak - baseline, 'files': files}))


def _measure(case, threads):
    out = subprocess.run([sys.executable, __file__, '--child', str(case), '--threads', str(threads)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=5, help='subprocesses per case; medians are printed (default 5)')
    p.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        _child(args.child, args.threads)
        return
    print(f'prepare_testset x4, toy1 (256x256) + toy2 (480x480); {args.runs} runs per case, '
          f'{args.threads} threads; load average {os.getloadavg()[0]:.2f}')
    print(f'{"case":<22}{"wall s":>9}{"peak MB":>10}{"growth MB":>11}{"files":>7}  target < {TARGET_SECONDS:g} s, '
          f'< {TARGET_MB:g} MB')
    ok = True
    for case in CASES:
        runs = [_measure(case, args.threads) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in ('wall', 'peak', 'growth')}
        label = 'SI grid (9 kernels)' if case == 'si' else f'SV mode {case}'
        flag = ''
        if case != 'si':
            good = med['wall'] < TARGET_SECONDS and med['peak'] < TARGET_MB
            ok &= good
            flag = '  ok' if good else '  OVER TARGET'
        print(f'{label:<22}{med["wall"]:>9.3f}{med["peak"]:>10.0f}{med["growth"]:>11.1f}{runs[0]["files"]:>7}{flag}')
    print(f'load average after: {os.getloadavg()[0]:.2f}')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
