"""KULNet on CPU: forward time, training-step time and peak memory, against the authors' code.

(a) forward: eval, no grad, one 64x64 LR at x4 (SR 256x256), the latent sampled (their default);
(b) training step of the ``blind`` recipe: batch 16, 48x48 LR patches (HR 192x192) at x4, forward +
    the three loss terms (L1, kernel L1, 0.001 KL) + backward + Adam; the LR is made before the clock.

Each (case, thread count) runs in a fresh subprocess. Times are medians of ``--runs`` /
``--step-runs`` timed calls after ``--warmup`` untimed ones; peak memory is the subprocess's
peak RSS (VmHWM, what the authors' 6.5 GB is) and its growth over the RSS before the first call.
The authors' figures (issue 11, measured with their code here, 2 threads): forward about 8 s,
training step about 290 s and 6.5 GB; the printed ratios are ours / theirs (below 1: faster or
smaller). The issue's target is a ratio of at most 0.2 (5x faster) for both times.

    python benchmarks/kulnet.py                       # the full measurement (minutes)
    python benchmarks/kulnet.py --runs 1 --step-runs 1 --warmup 0 --threads 1 --size 16 --batch 2 --patch 16  # smoke
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import blindsr  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
import torch
from blindsr.utils.process_memory import status_mb

ROOT = Path(__file__).resolve().parents[1]
SCALE = 4
AUTHORS = {'forward': 8.0, 'step': 290.0, 'step_peak_gb': 6.5}    # seconds, seconds, GB; 2 threads
DEFAULTS = {'size': 64, 'batch': 16, 'patch': 48}


def _forward(size, runs, warmup):
    from blindsr.kulnet import KULNet
    torch.manual_seed(0)
    net = KULNet(scale=SCALE).eval()
    lr = torch.rand(1, 3, size, size)
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            net(lr)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return times


def _step_model(batch, patch):
    """The ``blind`` recipe with KULNet and the authors' training options (no data is read)."""
    from blindsr.models.blind_model import BlindSRModel
    from blindsr.options.loader import _resolve_paths, validate
    raw = {'name': 'bench_kulnet', 'model': 'blind', 'scale': SCALE, 'sig_min': 0.2, 'sig_max': 4.0, 'rate_iso': 0,
           'train_noise': True, 'noise_high': 25,
           'datasets': {'train': {'name': 't', 'mode': 'GT', 'dataroot_GT': str(ROOT / 'datasets/Set5/HR'),
                                  'GT_size': patch * SCALE, 'batch_size': batch}},
           'network_G': {'which_model_G': 'BlindNet'},
           'train': {'lr_G': 2e-4, 'niter': 1, 'lr_steps': [100], 'pixel_criterion': 'l1', 'pixel_weight': 1.0,
                     'kernel_criterion': 'l1', 'kernel_weight': 1.0, 'val_freq': 0}}
    opt = validate(raw, is_train=True)
    opt.update(is_train=True, opt_path='benchmarks/kulnet.py')
    _resolve_paths(opt, True)
    torch.manual_seed(0)
    return BlindSRModel(opt, torch.device('cpu'))


def _step(batch, patch, runs, warmup):
    model = _step_model(batch, patch)
    hr = torch.rand(batch, 3, patch * SCALE, patch * SCALE)
    gen = torch.Generator().manual_seed(0)
    times = []
    for i in range(warmup + runs):
        model.feed_data({'GT': hr}, generator=gen, train=True)
        t0 = time.perf_counter()
        model.optimize_parameters(i)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def child(args):
    torch.set_num_threads(args.threads[0])
    base = status_mb('VmRSS')
    if args.child == 'forward':
        times = _forward(args.size, args.runs, args.warmup)
    else:
        times = _step(args.batch, args.patch, args.step_runs, args.warmup)
    peak = status_mb('VmHWM')
    print(json.dumps({'times': times, 'peak_mb': peak, 'growth_mb': peak - base}))


def run_child(case, threads, args):
    cmd = [sys.executable, __file__, '--child', case, '--threads', str(threads), '--size', str(args.size),
           '--batch', str(args.batch), '--patch', str(args.patch), '--runs', str(args.runs),
           '--step-runs', str(args.step_runs), '--warmup', str(args.warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _threads(text):
    try:
        values = [int(t) for t in text.split(',') if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated thread counts, got {text!r}') from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f'thread counts must be >= 1, got {text!r}')
    return values


def _positive(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {v}')
    return v


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='KULNet forward / training-step time and peak memory on CPU, '
                                            "with ratios against the authors' code.")
    p.add_argument('--threads', type=_threads, default=[2, 1],
                   help='comma-separated torch thread counts, one subprocess per case each (default 2,1)')
    p.add_argument('--size', type=_positive, default=DEFAULTS['size'], help='forward: LR side (default 64)')
    p.add_argument('--batch', type=_positive, default=DEFAULTS['batch'], help='training step: batch size (default 16)')
    p.add_argument('--patch', type=_positive, default=DEFAULTS['patch'],
                   help='training step: LR patch side; the HR patch is 4x (default 48)')
    p.add_argument('--runs', type=_positive, default=3, help='forward: timed runs, median printed (default 3)')
    p.add_argument('--step-runs', type=_positive, default=3,
                   help='training step: timed steps, median printed (default 3; each is minutes at the defaults)')
    p.add_argument('--warmup', type=int, default=1,
                   help='untimed calls before the timed ones (default 1; 0 to save time)')
    p.add_argument('--skip-forward', action='store_true', help='do not measure the forward')
    p.add_argument('--skip-step', action='store_true', help='do not measure the training step')
    p.add_argument('--child', choices=('forward', 'step'), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warmup < 0:
        p.error('--warmup must be >= 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    cases = [c for c, skip in (('forward', args.skip_forward), ('step', args.skip_step)) if not skip]
    authors_sizes = (args.size, args.batch, args.patch) == tuple(DEFAULTS.values())
    print(f'KULNet x{SCALE} on CPU (torch {torch.__version__}); forward: LR {args.size}x{args.size}, '
          f'median of {args.runs}; step: batch {args.batch}, LR patch {args.patch}, median of {args.step_runs}; '
          f'{args.warmup} warm-up call(s)')
    if not authors_sizes:
        print("sizes differ from the authors' case: the ratios below compare unlike work")
    for threads in args.threads:
        for case in cases:
            r = run_child(case, threads, args)
            med = statistics.median(r['times'])
            ratio = med / AUTHORS[case]
            line = (f'{threads} thread(s) {case:7s} median {med:8.2f} s (min {min(r["times"]):8.2f}) '
                    f'peak RSS {r["peak_mb"] / 1024:5.2f} GB (+{r["growth_mb"] / 1024:5.2f} GB)  '
                    f"ours/authors' {AUTHORS[case]:g} s (2 threads): {ratio:6.3f}")
            if case == 'step':
                line += f", peak {r['peak_mb'] / 1024 / AUTHORS['step_peak_gb']:5.3f} of their 6.5 GB"
            if threads == 2 and authors_sizes:
                line += f"  target 5x: {'OK' if ratio <= 0.2 else 'MISSED'}"
            print(line, flush=True)


if __name__ == '__main__':
    main()
