"""MANet_s1 inference cost against the bare kernel estimator, and the authors' HR-field style.

Target: MANet_s1 on a 64x64 LR costs at most 1.5x the estimator's forward. Our stage 1
returns the LR kernel field (a reshaped softmax); the authors' also built an HR-resolution
field (nearest upsampling of the 441 kernel maps, scale^2 times larger), emulated here.

    python benchmarks/manet_inference.py [--size 64] [--runs 9] [--no-memory]

Times are medians of ``--runs`` timed runs after 2 warm-ups (inference mode, 2 threads),
the variants interleaved run by run.
Peak memory is the growth of the peak RSS (VmHWM) during a forward, measured in a fresh
subprocess per variant, for the first (cold) and the second (warm) forward.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


import blindsr  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
import torch
import torch.nn.functional as F

from blindsr.archs.kernel_field import hr_kernel_field
from blindsr.archs.manet_stages_arch import MANet_s1

SCALE = 4
EST, S1, AUTHORS = 'estimator forward (+softmax)', 'MANet_s1 forward (ours, LR field)', "authors' style s1 (HR field)"


def authors_style_s1(net, lr):
    """What the authors' MANet_s1.forward computed: (B, l*l, h, w) maps, then an HR field."""
    est = net.kernel_estimation
    maps = torch.softmax(est.logits(lr), dim=1)
    sr = F.interpolate(lr, scale_factor=SCALE, mode='nearest')
    hr = F.interpolate(maps, scale_factor=SCALE, mode='nearest').flatten(2).permute(0, 2, 1)
    return sr, hr.reshape(lr.shape[0], -1, est.kernel_size, est.kernel_size)


def variants(net):
    est = net.kernel_estimation
    return {
        'estimator logits (convs only)': est.logits,
        EST: est,
        S1: net,
        's1 + hr_kernel_field on request': lambda x: hr_kernel_field(net(x)[1], SCALE),
        AUTHORS: lambda x: authors_style_s1(net, x),
    }


def build(size):
    torch.manual_seed(0)
    net = MANet_s1(scale=SCALE, manet_nf=128, manet_nb=1).eval()
    return net, torch.rand(1, 3, size, size)


def time_all(fns, x, runs, warmup=2):
    """Per-variant run times; variants are interleaved so background load hits all alike."""
    times = {name: [] for name in fns}
    with torch.inference_mode():
        for i in range(warmup + runs):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn(x)
                if i >= warmup:
                    times[name].append(time.perf_counter() - t0)
    return times


def _peak_rss_mb():
    """Peak RSS of this process image (VmHWM; unlike ru_maxrss it is not inherited over exec)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f:   # resets VmHWM to the current RSS
            f.write('5')
    except OSError:
        pass


def child_peak_memory(name, size):
    """In a fresh subprocess: peak-RSS growth (MB) of the first (cold) and a later (warm) forward.

    Cold includes one-time library set-up; warm may hide buffers the allocator kept from the
    cold run. The truth for a long-running process lies in between, nearer warm.
    """
    net, x = build(size)
    fn = variants(net)[name]
    peaks = []
    with torch.inference_mode():
        for _ in range(2):
            _reset_peak()
            before = _peak_rss_mb()
            fn(x)
            peaks.append(_peak_rss_mb() - before)
    return peaks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=64, help='LR side (default 64)')
    parser.add_argument('--runs', type=int, default=9)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory subprocesses')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.child:
        print(json.dumps(child_peak_memory(args.child, args.size)))
        return

    net, x = build(args.size)
    print(f'LR {args.size}x{args.size}, x{SCALE}, MANet nf=128 nb=1, {args.threads} threads, '
          f'median of {args.runs} runs (torch {torch.__version__})')
    times = time_all(variants(net), x, args.runs)
    results = {name: statistics.median(t) for name, t in times.items()}
    for name, med in results.items():
        mem = ''
        if not args.no_memory:
            out = subprocess.run([sys.executable, __file__, '--child', name, '--size', str(args.size),
                                  '--threads', str(args.threads)], capture_output=True, text=True, check=True)
            cold, warm = json.loads(out.stdout)
            mem = f'  peak +{cold:6.1f} MB cold, +{warm:6.1f} MB warm'
        print(f'{name:36s} {med * 1e3:8.1f} ms (min {min(times[name]) * 1e3:7.1f}){mem}')
    ratio = results[S1] / results[EST]
    ratio_min = min(times[S1]) / min(times[EST])
    print(f'MANet_s1 / estimator forward = {ratio:.2f}x (of minima {ratio_min:.2f}x; '
          f'target <= 1.5x: {"OK" if ratio <= 1.5 else "MISSED"})')
    print(f"authors' style / estimator forward = {results[AUTHORS] / results[EST]:.2f}x "
          f"(of minima {min(times[AUTHORS]) / min(times[EST]):.2f}x)")


if __name__ == '__main__':
    main()
