"""Peak memory of infer.py against the image size, with and without --save_kernel.

Target (issue 12, point 11): the peak-RSS growth at LR 1500x1000 is at most 1.3x that at
LR 375x250 (16x the pixels), i.e. memory does not grow with the image beyond the image buffers.

    python benchmarks/inference_memory.py [--sizes 375x250,1500x1000] [--threads 2] [--tile 256]

Each run is a fresh subprocess running infer.py's own ``main`` on a synthetic photo (the
shipped historical photo enlarged bicubically to the size) with the shipped
``pretrained_models/MANet_s3_x4_SunHays80.pth``. **Growth** = the process's peak RSS (VmHWM at
exit) minus its RSS right after imports and the model load (VmRSS when ``Inference`` is built):
what the image itself costs, the SR output, the tiles' working memory and the --save_kernel
file included. The absolute peak (VmHWM) and, as a cross-check, the largest
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` so far are printed too.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / 'pretrained_models' / 'MANet_s3_x4_SunHays80.pth'
PHOTO = ROOT / 'datasets' / 'historical' / 'LR' / 'img001.png'


def child(argv):
    """Run infer.py's main in this process; print {baseline, peak, seconds} as JSON."""
    sys.path.insert(0, str(ROOT / 'codes'))
    import blindsr  # noqa: F401  (first: the OpenMP wait policy)
    import torch
    from blindsr.commands import infer
    from blindsr.inference import runner
    from blindsr.utils.process_memory import status_mb

    torch.set_num_threads(int(os.environ.get('BENCH_THREADS', '2')))
    record = {}
    build = runner.Inference.__init__

    def init(self, *args, **kwargs):
        build(self, *args, **kwargs)
        record['baseline'] = status_mb('VmRSS')

    runner.Inference.__init__ = init
    t0 = time.perf_counter()
    status = infer.main(argv)
    record.update(seconds=time.perf_counter() - t0, peak=status_mb('VmHWM'), status=status)
    print(json.dumps(record))


def make_photo(size, folder):
    """The historical photo enlarged (bicubic) to ``size`` = (width, height), as a PNG in ``folder``."""
    import cv2
    img = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR)
    path = Path(folder) / f'photo_{size[0]}x{size[1]}.png'
    cv2.imwrite(str(path), cv2.resize(img, size, interpolation=cv2.INTER_CUBIC))
    return path


def parse_size(text):
    w, _, h = text.partition('x')
    return int(w), int(h)


def main():
    p = argparse.ArgumentParser(description='Peak RSS of infer.py at two LR sizes, with and without --save_kernel.')
    p.add_argument('--sizes', default='375x250,1500x1000',
                   help='comma-separated LR sizes WIDTHxHEIGHT; the ratio compares the last with the first '
                        '(default 375x250,1500x1000)')
    p.add_argument('--model', default=str(MODEL), help='weights with a .yml record (default: the shipped MANet_s3)')
    p.add_argument('--tile', type=int, default=256, help="infer.py --tile (default 256, infer.py's default)")
    p.add_argument('--tile_overlap', type=int, default=32, help='infer.py --tile_overlap (default 32)')
    p.add_argument('--threads', type=int, default=2, help='torch threads in each run (default 2)')
    p.add_argument('--modes', default='plain,save_kernel',
                   help='comma-separated: plain (SR only) and/or save_kernel (default both)')
    p.add_argument('--precision', default=None, help='infer.py --precision (default: not given)')
    p.add_argument('--target', type=float, default=1.3, help='largest acceptable growth ratio (default 1.3)')
    p.add_argument('--child', nargs=argparse.REMAINDER,
                   help='internal: run infer.py with these arguments in this process and print JSON')
    args = p.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    sizes = [parse_size(s) for s in args.sizes.split(',')]
    modes = args.modes.split(',')
    env = dict(os.environ, BENCH_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    print(f'infer.py, {Path(args.model).name}, tile {args.tile} overlap {args.tile_overlap}, '
          f'{args.threads} threads; growth = peak RSS - RSS after import + model load')
    results = {}
    with tempfile.TemporaryDirectory(prefix='inference_memory_') as tmp:
        for size in sizes:
            photo = make_photo(size, tmp)
            for mode in modes:
                out = Path(tmp) / f'out_{size[0]}x{size[1]}_{mode}'
                argv = ['--input', str(photo), '--model', args.model, '--output', str(out), '--device', 'cpu',
                        '--tile', str(args.tile), '--tile_overlap', str(args.tile_overlap), '--overwrite']
                if mode == 'save_kernel':
                    argv.append('--save_kernel')
                if args.precision:
                    argv += ['--precision', args.precision]
                res = subprocess.run([sys.executable, __file__, '--child', *argv], env=env, capture_output=True,
                                     text=True)
                if res.returncode != 0 or not res.stdout.strip():
                    sys.stderr.write(res.stderr[-3000:])
                    raise SystemExit(f'the run at {size} ({mode}) failed')
                r = json.loads(res.stdout.strip().splitlines()[-1])
                children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
                npz = out / 'npz' / f'{photo.stem}.npz'
                extra = f', file {npz.stat().st_size / 2 ** 20:.0f} MB' if npz.exists() else ''
                results[size, mode] = r['peak'] - r['baseline']
                print(f'LR {size[0]}x{size[1]} {mode:11s}: growth {results[size, mode]:7.0f} MB '
                      f'(baseline {r["baseline"]:.0f} MB, peak {r["peak"]:.0f} MB, largest child so far '
                      f'{children:.0f} MB) in {r["seconds"]:.1f} s{extra}')
    ok = True
    for mode in modes:
        ratio = results[sizes[-1], mode] / results[sizes[0], mode]
        ok &= ratio <= args.target
        print(f'{mode}: growth {sizes[-1][0]}x{sizes[-1][1]} / {sizes[0][0]}x{sizes[0][1]} = {ratio:.2f}x '
              f'(target <= {args.target}x: {"OK" if ratio <= args.target else "MISSED"})')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
