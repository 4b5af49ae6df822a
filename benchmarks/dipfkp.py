"""DIP-FKP cost per iteration on FKP_Test x4 (LR 120x80 -> HR 480x320) and on its 32x32 crop,
and what early stopping saves.

Per-iteration times are medians over ``--iters`` timed iterations after ``--warmup`` ones, for
  * the frozen-latent phase (iterations 1..76 of the authors' schedule: DIP step only, the
    kernel is reused) and the active phase (latent optimised through the flow, MSE loss);
  * ``fast`` (channels-last + fused Adam, the default) and ``reference`` arithmetic (the
    authors' memory layout and optimiser; our other savings still apply).
For comparison, the authors' code took 4.6-8 s per iteration at full size on a 2-core Xeon VM
(spec fkp.md, contended measurements).

Early stopping: one run of ``--es-iters`` iterations on the crop records the LR MSE and the
kernel PSNR after every iteration; runs are deterministic, so the iteration at which each
``--patience`` would stop (and the kernel PSNR there) is read off that history. The saving at
full size is (max_iters - stop) x the full-size s/iteration.

    python benchmarks/dipfkp.py [--iters 5] [--warmup 2] [--threads 2] [--es-iters 1000]
                                [--patience 25 50 100] [--skip-early-stop]

Other processes on the machine inflate wall times (2 OpenMP threads on busy cores can be 5-10x
slower): the load average is printed. Measured here (AMD EPYC, 2 threads, load 1.5-3):
full size 1.42-1.49 s/it fast, 1.72-1.81 s/it reference; crop 0.12-0.14 s/it. The early-stopping
part runs 1000 crop iterations (2-12 min depending on load).
"""
import argparse
import os
import statistics
import time
from pathlib import Path

import blindsr  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
import numpy as np
import torch
from blindsr.archs.fkp_arch import load_kernel_prior
from blindsr.fkp.dipfkp import DIPFKP
from blindsr.fkp.early_stopping import early_stop_iteration
from blindsr.fkp.io import load_kernel_mat, read_rgb, rgb_to_tensor
from blindsr.metrics import kernel_psnr
from blindsr.utils.paths import SHARED_DIR

ROOT = Path(__file__).resolve().parents[1]


def time_iterations(prior, lr, n_iters, warmup, active, fast):
    """Median seconds per iteration (after ``warmup``) of a DIP-FKP run."""
    stamps = [time.perf_counter()]
    kwargs = dict(freeze_latent_iters=0, ssim_iters=0) if active else {}
    DIPFKP(4, prior, max_iters=warmup + n_iters, fast=fast, **kwargs).run(
        lr, callback=lambda t, info: stamps.append(time.perf_counter()))
    per_iter = np.diff(stamps)[warmup:]
    return statistics.median(per_iter)


def early_stopping_report(prior, lr, gt_kernel, max_iters, patiences, full_s_per_iter):
    psnrs = []
    t0 = time.perf_counter()
    res = DIPFKP(4, prior, max_iters=max_iters).run(
        lr, callback=lambda t, info: psnrs.append(kernel_psnr(info['kernel'].squeeze().cpu().numpy(), gt_kernel)))
    wall = time.perf_counter() - t0
    mse = res.history['lr_mse']
    print(f'\nearly stopping on the 32x32 crop ({max_iters} iterations, {wall:.0f} s): kernel PSNR '
          f'{psnrs[0]:.2f} dB at iteration 1, {psnrs[-1]:.2f} dB at {max_iters}, best {max(psnrs):.2f} dB '
          f'at {int(np.argmax(psnrs)) + 1}')
    print(f'{"patience":>9} {"stops at":>9} {"kernel PSNR":>12} {"vs full run":>12} {"saved at full size":>20}')
    for p in patiences:
        stop = early_stop_iteration(mse, p, min_delta=1e-3, start=81)
        if stop is None:
            print(f'{p:>9} {"never":>9}')
            continue
        saved = (max_iters - stop) * full_s_per_iter
        print(f'{p:>9} {stop:>9} {psnrs[stop - 1]:>10.2f}dB {psnrs[stop - 1] - psnrs[-1]:>+10.2f}dB '
              f'{saved / 60:>10.1f} min ({100 * (max_iters - stop) / max_iters:.0f}%)')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--es-iters', type=int, default=1000)
    parser.add_argument('--patience', type=int, nargs='+', default=[25, 50, 100])
    parser.add_argument('--skip-early-stop', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    root = SHARED_DIR / 'datasets/FKP_Test'
    prior = load_kernel_prior(SHARED_DIR / 'pretrained_models/official/FKP_x4.pt', scale=4)
    lr = rgb_to_tensor(read_rgb(root / 'DIPFKP_lr_x4/102061.png'))
    gt = load_kernel_mat(root / 'DIPFKP_gt_k_x4/102061.mat')
    h, w = lr.shape[-2:]
    crop = lr[:, :, h // 2 - 16:h // 2 + 16, w // 2 - 16:w // 2 + 16]
    print(f'DIP-FKP x4, torch {torch.__version__}, {args.threads} threads, load average '
          f'{" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    print(f'{"input":<24} {"phase":<8} {"fast s/it":>10} {"reference s/it":>15}')
    full = {}
    for name, image in ((f'FKP_Test LR {h}x{w}', lr), ('32x32 crop', crop)):
        for active in (False, True):
            fast = time_iterations(prior, image, args.iters, args.warmup, active, True)
            ref = time_iterations(prior, image, args.iters, args.warmup, active, False)
            if active:                     # iterations saved by early stopping are latent-phase ones
                full[name] = fast
            print(f'{name:<24} {"latent" if active else "frozen":<8} {fast:>10.3f} {ref:>15.3f}')
    print(f'load average after timing: {" ".join(f"{x:.2f}" for x in os.getloadavg())}')
    if not args.skip_early_stop:
        early_stopping_report(prior, crop, gt, args.es_iters, args.patience, full[f'FKP_Test LR {h}x{w}'])


if __name__ == '__main__':
    main()
