"""The MANet stage-1 training step on CPU, and what channels-last, a fused Adam and bf16 buy.

One step of the ``blind`` recipe with the authors' stage-1 settings (``train_stage1.yml``: MANet_s1,
manet_nf 128, nb 1, batch 16, HR crops 192 at x4, kernel L1 loss): the on-the-fly degradation of the
batch (``feed_data``), then forward + loss + backward + Adam (``optimize_parameters``). The variants:

* ``default``       what ``train.py`` does (NCHW, Adam's multi-tensor ``foreach`` path);
* ``fused``         Adam with ``fused=True`` (one pass over each tensor);
* ``channels_last`` the network and its input in NHWC memory format;
* ``bf16``          the recipe's bf16 autocast on CPU (``amp_cpu_bf16``; ``--bf16``: fast only on CPUs
                    with AVX512-BF16 or AMX, ``lscpu | grep -o avx512_bf16``; elsewhere emulated and
                    much slower).

Every variant has its own model (same seed and weights) and they run interleaved, step by step, so a
burst of load on this shared machine hits all alike; times are medians of ``--runs`` steps after
``--warmup``. Peak memory is the process's peak RSS (VmHWM) after all variants. ``--profile`` prints
the operators that take the time in the default step.

    python benchmarks/train_step.py                 # 2 threads, 5 steps per variant (a few minutes)
    python benchmarks/train_step.py --runs 1 --warmup 0 --batch 2 --hr 48   # smoke
"""
import argparse
import statistics
import time
from pathlib import Path

import blindsr  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
import torch
from blindsr.utils.process_memory import status_mb

ROOT = Path(__file__).resolve().parents[1]
SCALE = 4
AUTHORS_STEP_S = 16.6     # the authors' code, this machine, 2 threads, batch 16, HR 192 (issue 12, point 15)


def build_model(batch, hr, fused=False, channels_last=False, bf16=False):
    """The ``blind`` recipe with MANet_s1 and the authors' stage-1 training options (no data is read)."""
    from blindsr.models.blind_model import BlindSRModel
    from blindsr.options.loader import _resolve_paths, validate
    raw = {'name': 'bench_train_step', 'model': 'blind', 'scale': SCALE, 'sig_min': 0.7, 'sig_max': 10.0,
           'rate_iso': 0, 'pca_path': './pca_matrix_aniso21_15_x4.pth', 'amp_cpu_bf16': bf16,
           'datasets': {'train': {'name': 't', 'mode': 'GT', 'dataroot_GT': str(ROOT / 'datasets/Set5/HR'),
                                  'GT_size': hr, 'batch_size': batch}},
           'network_G': {'which_model_G': 'MANet_s1', 'in_nc': 3, 'manet_nf': 128, 'manet_nb': 1, 'split': 2},
           'train': {'lr_G': 2e-4, 'niter': 1, 'lr_steps': [100], 'kernel_criterion': 'l1', 'kernel_weight': 1.0,
                     'val_freq': 0}}
    opt = validate(raw, is_train=True)
    opt.update(is_train=True, opt_path='benchmarks/train_step.py')
    _resolve_paths(opt, True)
    torch.manual_seed(0)
    model = BlindSRModel(opt, torch.device('cpu'))
    if fused:
        old = model.optimizer
        settings = {k: old.defaults[k] for k in ('lr', 'betas', 'weight_decay')}
        model.optimizer = torch.optim.Adam(old.param_groups[0]['params'], **settings, fused=True)
        model.optimizers[model.optimizers.index(old)] = model.optimizer
    if channels_last:
        model.net.to(memory_format=torch.channels_last)
    model.bench_channels_last = channels_last
    return model


def step(model, hr, gen):
    """(degradation seconds, optimisation seconds) of one training step."""
    t0 = time.perf_counter()
    model.feed_data({'GT': hr}, generator=gen, train=True)
    if model.bench_channels_last:
        model.batch['lr'] = model.batch['lr'].contiguous(memory_format=torch.channels_last)
    t1 = time.perf_counter()
    model.optimize_parameters(0)
    return t1 - t0, time.perf_counter() - t1


def profile(model, hr, gen, rows):
    from torch.profiler import ProfilerActivity, profile as torch_profile
    step(model, hr, gen)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        step(model, hr, gen)
    print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=rows))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='MANet stage-1 training step on CPU: default vs fused Adam vs '
                                            'channels-last (vs bf16), medians and peak memory.')
    p.add_argument('--threads', type=int, default=2, help='torch threads (default 2)')
    p.add_argument('--batch', type=int, default=16, help='batch size (default 16, the authors\')')
    p.add_argument('--hr', type=int, default=192, help='HR crop side (default 192, the authors\')')
    p.add_argument('--runs', type=int, default=5, help='timed steps per variant, median printed (default 5)')
    p.add_argument('--warmup', type=int, default=1, help='untimed steps per variant first (default 1)')
    p.add_argument('--bf16', action='store_true', help='add the bf16-autocast variant (slow without AVX512-BF16)')
    p.add_argument('--profile', type=int, default=0, metavar='ROWS',
                   help='print the ROWS operators with the most self time in a default step (default 0: none)')
    args = p.parse_args(argv)
    for flag in ('threads', 'batch', 'hr', 'runs'):
        if getattr(args, flag) < 1:
            p.error(f'--{flag} must be >= 1')
    if args.warmup < 0:
        p.error('--warmup must be >= 0')
    if args.hr % SCALE:
        p.error(f'--hr must be a multiple of {SCALE}')
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    variants = {'default': {}, 'fused': {'fused': True}, 'channels_last': {'channels_last': True},
                'fused + channels_last': {'fused': True, 'channels_last': True}}
    if args.bf16:
        variants['bf16'] = {'bf16': True}
    models = {name: build_model(args.batch, args.hr, **kw) for name, kw in variants.items()}
    hr = torch.rand(args.batch, 3, args.hr, args.hr, generator=torch.Generator().manual_seed(0))
    gens = {name: torch.Generator().manual_seed(0) for name in variants}
    times = {name: [] for name in variants}
    for i in range(args.warmup + args.runs):
        for name, model in models.items():
            deg, opt = step(model, hr, gens[name])
            if i >= args.warmup:
                times[name].append((deg, opt))
    authors = (args.batch, args.hr) == (16, 192)
    print(f'MANet stage-1 training step x{SCALE} (manet_nf 128, nb 1), batch {args.batch}, HR {args.hr}, '
          f'{args.threads} thread(s), torch {torch.__version__}; medians of {args.runs} after {args.warmup} warm-up')
    base = statistics.median(d + o for d, o in times['default'])
    for name, t in times.items():
        total = statistics.median(d + o for d, o in t)
        line = (f'{name:22s} step {total:7.3f} s (degradation {statistics.median(d for d, _ in t):6.3f} s, '
                f'forward+backward+Adam {statistics.median(o for _, o in t):6.3f} s)  vs default {total / base:5.3f}')
        if authors:
            line += f"  authors' {AUTHORS_STEP_S} s / ours: {AUTHORS_STEP_S / total:4.2f}x"
        print(line, flush=True)
    print(f'peak RSS of the process (all variants): {status_mb("VmHWM") / 1024:.2f} GB')
    if args.profile:
        profile(models['default'], hr, gens['default'], args.profile)


if __name__ == '__main__':
    main()
