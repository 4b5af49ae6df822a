"""Benchmark of blindsr.degradation: time and peak memory of the two common uses.

(a) training degradation: 16 HR crops 192x192, x4, random anisotropic kernels, blur +
    subsample, Gaussian noise, quantisation;
(b) spatially variant degradation (sv_mode 4, 40-pixel blocks) of one 512x512 HR image.

Each measurement runs in a fresh subprocess (torch.set_num_threads(2), or ``--threads``). Peak memory is
VmHWM from /proc/self/status minus VmRSS just before the call (the process baseline:
interpreter, torch, the input batch), in two flavours:
  cold - the very first call of the process, so it also counts the pages of library code
         torch maps on first use of an op;
  warm - the first full-size call after one call on a tiny image (code already mapped,
         peak reset through /proc/self/clear_refs): the memory the degradation itself needs.
Times are medians of ``--repeats`` calls (wall clock and process CPU time, both threads),
after the measured call; the printed figures are medians over ``--runs`` subprocesses.
The machine's load average is printed too: other processes inflate wall times.

Usage: python benchmarks/degradation.py [--runs 3] [--repeats 20] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from blindsr.utils.process_memory import reset_peak, status_mb

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    'a': 'training x4: 16 x 3 x 192 x 192, random aniso kernels + noise + quantisation',
    'b': 'SV mode 4 x4: 1 x 3 x 512 x 512, 40-px blocks, LR kernel field 128 x 128 x 21 x 21',
}
TARGETS = {'a': (0.05, None), 'b': (0.5, 300.0)}


def _child(case, repeats, warm, threads):
    from blindsr.degradation import Degradation  # first: sets the OpenMP wait policy before torch loads

    import torch

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    if case == 'a':
        size, batch = 192, 16
        deg = Degradation(scale=4, random=True, rate_iso=0.0, train_noise=True, noise_high=15)
    else:
        size, batch = 512, 1
        deg = Degradation(scale=4, random=False, sv_mode=4, block_size=40)
    if warm:
        deg(torch.rand(batch, 3, 44, 44, generator=gen), generator=gen)
    hr = torch.rand(batch, 3, size, size, generator=gen)
    if warm and not reset_peak():
        raise SystemExit('cannot reset the peak RSS (/proc/self/clear_refs)')
    baseline = status_mb('VmRSS')
    out = deg(hr, generator=gen)
    peak = status_mb('VmHWM') - baseline
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = deg(hr, generator=gen)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    shapes = {k: list(v.shape) for k, v in out.to_dict().items() if v is not None}
    print(json.dumps({'wall_s': statistics.median(wall), 'cpu_s': statistics.median(cpu), 'peak_mb': peak,
                      'baseline_mb': baseline, 'shapes': shapes}))


def _run(case, repeats, warm, threads):
    cmd = [sys.executable, __file__, '--case', case, '--repeats', str(repeats), '--threads', str(threads)]
    cmd += ['--warm'] if warm else []
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3, help='fresh subprocesses per case')
    parser.add_argument('--repeats', type=int, default=20, help='timed calls per subprocess')
    parser.add_argument('--threads', type=int, default=2, help='torch.set_num_threads (targets assume 2)')
    parser.add_argument('--case', choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument('--warm', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _child(args.case, args.repeats, args.warm, args.threads)
        return

    load = ', '.join(f'{x:.1f}' for x in os.getloadavg())
    print(f'blindsr.degradation benchmark: {args.runs} subprocesses x {args.repeats} timed calls, '
          f'torch threads {args.threads}, {os.cpu_count()} CPUs, load average {load}')
    med = statistics.median
    for case, label in CASES.items():
        warm = [_run(case, args.repeats, True, args.threads) for _ in range(args.runs)]
        cold = [_run(case, args.repeats, False, args.threads) for _ in range(args.runs)]
        runs = warm + cold
        wall, cpu = med(r['wall_s'] for r in runs), med(r['cpu_s'] for r in runs)
        mem_warm, mem_cold = med(r['peak_mb'] for r in warm), med(r['peak_mb'] for r in cold)
        t_max, mem_max = TARGETS[case]
        ok = wall < t_max and (mem_max is None or mem_cold < mem_max)
        target = f'< {t_max} s' + (f', < {mem_max:.0f} MB' if mem_max else '')
        print(f'({case}) {label}')
        print(f'    median wall {wall * 1000:7.1f} ms  (CPU time {cpu * 1000:.1f} ms)   '
              f'peak above baseline: warm {mem_warm:.1f} MB, cold {mem_cold:.1f} MB '
              f'(baseline {med(r["baseline_mb"] for r in runs):.0f} MB)   target {target}: '
              f'{"OK" if ok else "MISSED"}')
        print(f'    per run: wall ms {[round(r["wall_s"] * 1000, 1) for r in runs]}')
        print(f'    outputs: {runs[0]["shapes"]}')


if __name__ == '__main__':
    main()
