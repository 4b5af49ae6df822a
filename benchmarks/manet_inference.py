"""MANet_s1 inference cost against the bare kernel estimator, and the authors' HR-field style.

Target: MANet_s1 on a 64x64 LR costs at most 1.5x the estimator's forward. Our stage 1
returns the LR kernel field (a reshaped softmax); the authors' also built an HR-resolution
field (nearest upsampling of the 441 kernel maps, scale^2 times larger), emulated here.

    python benchmarks/manet_inference.py [--size 64] [--runs 9] [--no-memory] [--no-precision]

A last line compares precisions (issue 12, point 14): the shipped MANet_s3 at LR
``--precision-size`` (128) in fp32 and in bf16 autocast (medians of ``--precision-runs``, the
ratio), and PSNR_Y of both on the demo set's GT images (``options/test/test_stage3_demo.yml``).
bf16 is fast only on CPUs with AVX512-BF16 or AMX (``lscpu | grep -o avx512_bf16``); elsewhere
PyTorch emulates it and it is slower than fp32.

Times are medians of ``--runs`` timed runs after 2 warm-ups (inference mode, 2 threads),
the variants interleaved run by run.
Peak memory is the growth of the peak RSS (VmHWM) during a forward, measured in a fresh
subprocess per variant, for the first (cold) and the second (warm) forward.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time


import blindsr  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
import torch
import torch.nn.functional as F

from blindsr.archs.kernel_field import hr_kernel_field
from blindsr.archs.manet_stages_arch import MANet_s1
from blindsr.utils.process_memory import reset_peak, status_mb

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
            reset_peak()
            before = status_mb('VmHWM')
            fn(x)
            peaks.append(status_mb('VmHWM') - before)
    return peaks


DEMO = 'options/test/test_stage3_demo.yml'


def demo_psnr(precision):
    """Mean PSNR_Y of the shipped MANet_s3 over the GT sets of the demo options, at ``precision``."""
    from blindsr.engine.validation import build_eval_loader, run_image
    from blindsr.options import load_options
    from blindsr.registry import MODELS
    from blindsr.utils.paths import REPO_ROOT
    opt = load_options(REPO_ROOT / DEMO, is_train=False)
    model = MODELS.get(opt['model'])(opt, torch.device('cpu'))
    model.set_precision(precision)
    values = []
    for d in opt['datasets'].values():
        if d['mode'] != 'GT':
            continue
        for index, batch in enumerate(build_eval_loader(d)):
            values.append(run_image(model, batch, index, opt).metrics['psnr_y'])
    return statistics.mean(values), len(values)


def precision_line(size, runs):
    """fp32 vs bf16 autocast: the shipped MANet_s3 forward at LR ``size``, and demo-set PSNR_Y."""
    from blindsr.inference.checkpoint_options import checkpoint_options
    from blindsr.inference.runner import Inference
    from blindsr.utils.paths import REPO_ROOT
    from blindsr.utils.precision import autocast, cpu_has_bf16
    net = Inference(checkpoint_options(REPO_ROOT / 'pretrained_models' / 'MANet_s3_x4_SunHays80.pth'),
                    torch.device('cpu')).model.net.eval()
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))

    def run(precision):
        with autocast('cpu', precision):
            return net(x)

    times = time_all({'fp32': lambda _: run('fp32'), 'bf16': lambda _: run('bf16')}, x, runs, warmup=1)
    med = {k: statistics.median(v) for k, v in times.items()}
    speed = med['fp32'] / med['bf16']
    print(f'MANet_s3 (shipped) at LR {size}: fp32 {med["fp32"] * 1e3:.0f} ms, bf16 {med["bf16"] * 1e3:.0f} ms '
          f'(medians of {runs}), bf16 speed-up {speed:.2f}x (target >= 1.6x: {"OK" if speed >= 1.6 else "MISSED"}; '
          f'CPU {"has" if cpu_has_bf16() else "lacks"} AVX512-BF16/AMX)', flush=True)
    psnr = {k: demo_psnr(k) for k in ('fp32', 'bf16')}
    print(f'PSNR_Y on the demo GT images ({psnr["fp32"][1]}): fp32 {psnr["fp32"][0]:.3f} dB, '
          f'bf16 {psnr["bf16"][0]:.3f} dB (diff {psnr["bf16"][0] - psnr["fp32"][0]:+.3f} dB, target within 0.05)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=64, help='LR side (default 64)')
    parser.add_argument('--runs', type=int, default=9, help='timed runs per variant (default 9)')
    parser.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory subprocesses')
    parser.add_argument('--no-precision', action='store_true', help='skip the fp32 vs bf16 line')
    parser.add_argument('--only-precision', action='store_true', help='print only the fp32 vs bf16 line')
    parser.add_argument('--precision-size', type=int, default=128,
                        help='LR side of the fp32 vs bf16 line (default 128)')
    parser.add_argument('--precision-runs', type=int, default=5,
                        help='timed runs per precision for that line (default 5)')
    parser.add_argument('--child', help='internal: measure the peak memory of this variant and print JSON')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.child:
        print(json.dumps(child_peak_memory(args.child, args.size)))
        return

    if args.only_precision:
        precision_line(args.precision_size, args.precision_runs)
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
    if not args.no_precision:
        precision_line(args.precision_size, args.precision_runs)


if __name__ == '__main__':
    main()
