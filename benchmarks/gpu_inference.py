"""CUDA inference time and peak GPU memory of MANet_s3 and KULNet at LR 256/512/1024, fp32 and bf16.

The paper-size networks (random weights: time and memory do not depend on the values). Times are
medians of ``--runs`` synchronised forwards after one warm-up; peak memory is
``torch.cuda.max_memory_allocated`` during one forward, above what was allocated before it.
The last column is PSNR of the bf16 output against fp32's, on [0, 1] images (what bf16 costs).

    python benchmarks/gpu_inference.py [--sizes 256,512,1024] [--runs 5] [--nets manet_s3,kulnet]
"""
import argparse
import statistics
import time

import blindsr  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
import torch

from blindsr.metrics.psnr_ssim import calculate_psnr
from blindsr.registry import ARCHS

NETS = {
    'manet_s3': lambda: ARCHS.get('MANet_s3')(scale=4),
    'kulnet': lambda: ARCHS.get('KULNet')(scale=4, sample_latent=False),
}


def _sr(out):
    return out[0] if isinstance(out, tuple) else out


def measure(net, size, dtype, runs, device):
    """(median seconds, peak MB above the baseline, the SR) for one net, LR size and precision."""
    torch.manual_seed(0)
    lr = torch.rand(1, 3, size, size, device=device)
    with torch.inference_mode(), torch.autocast('cuda', dtype=dtype, enabled=dtype != torch.float32):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        sr = _sr(net(lr)).float()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2 ** 20
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            net(lr)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), peak, sr


def psnr(a, b):
    return calculate_psnr(a.clamp(0, 1).cpu().numpy(), b.clamp(0, 1).cpu().numpy(), max_value=1.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--sizes', default='256,512,1024', help='LR sides, comma-separated')
    p.add_argument('--runs', type=int, default=5, help='timed forwards per case (median)')
    p.add_argument('--nets', default=','.join(NETS), help=f'comma-separated, of {sorted(NETS)}')
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit('gpu_inference.py: no CUDA device on this machine; nothing measured')
    device = torch.device('cuda', 0)
    print(f'{torch.cuda.get_device_name(device)}, torch {torch.__version__}')
    print('| net | LR | fp32 s | fp32 peak MB | bf16 s | bf16 peak MB | fp32/bf16 time | bf16 vs fp32 PSNR dB |')
    print('|---|---|---|---|---|---|---|---|')
    for name in args.nets.split(','):
        net = NETS[name]().eval().to(device)
        for size in (int(s) for s in args.sizes.split(',')):
            row = {}
            for label, dtype in (('fp32', torch.float32), ('bf16', torch.bfloat16)):
                try:
                    row[label] = measure(net, size, dtype, args.runs, device)
                except torch.OutOfMemoryError:
                    row[label] = None
                torch.cuda.empty_cache()
            if None in row.values():
                print(f'| {name} | {size} | out of memory in {[k for k, v in row.items() if v is None]} |')
                continue
            (t32, m32, sr32), (t16, m16, sr16) = row['fp32'], row['bf16']
            print(f'| {name} | {size} | {t32:.3f} | {m32:.0f} | {t16:.3f} | {m16:.0f} | {t32 / t16:.2f} '
                  f'| {psnr(sr16, sr32):.1f} |', flush=True)
        del net
        torch.cuda.empty_cache()


if __name__ == '__main__':
    main()
