"""The two README pictures of the main job: a real photo x4 (bicubic | ours) and the kernels over it.

    python codes/test.py --opt options/test/test_stage3_demo.yml --save_kernel
    python scripts/readme_demo_pictures.py

Reads ``results/MANet_stage3_x4_demo/historical/`` (the SR image and its kernel field) and the LR
photo, and writes ``docs/demo_historical_sr.png`` and ``docs/demo_historical_kernels.png``.
"""
import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--run', default=str(ROOT / 'results' / 'MANet_stage3_x4_demo' / 'historical'),
                   help='test.py output folder of the photo (with npz/ from --save_kernel)')
    p.add_argument('--lr', default=str(ROOT / 'datasets' / 'historical' / 'LR'), help='folder of the LR photo')
    p.add_argument('--image', default='img001', help='image name without extension')
    p.add_argument('--grid-step', type=int, default=20, help='LR pixels between the drawn kernels')
    p.add_argument('--out', default=str(ROOT / 'docs'), help='folder for the two PNGs')
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(message)s')

    from blindsr.archs.baselines_arch import Bicubic  # first: sets the OpenMP wait policy before torch loads
    import numpy as np
    import torch

    from blindsr.explorer.field_file import load_kernel_field
    from blindsr.explorer.grid_picture import save_kernel_grid
    from blindsr.utils.image_io import read_image, write_image

    run, out = Path(args.run), Path(args.out)
    for need in (run / f'{args.image}.png', run / 'npz' / f'{args.image}.npz', Path(args.lr) / f'{args.image}.png'):
        if not need.is_file():
            sys.exit(f'error: {need} not found; run test.py with options/test/test_stage3_demo.yml --save_kernel first')
    sr = read_image(run / f'{args.image}.png')
    lr = read_image(Path(args.lr) / f'{args.image}.png')
    scale = sr.shape[0] // lr.shape[0]
    # the Bicubic baseline of the BSD68 table
    lr_t = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None].float()
    bic = Bicubic(scale)(lr_t)[0].permute(1, 2, 0).numpy()
    gap = np.ones((sr.shape[0], 8, sr.shape[2]), dtype=np.float32)
    write_image(out / 'demo_historical_sr.png', np.concatenate([bic, gap, sr], axis=1))
    save_kernel_grid(load_kernel_field(run / 'npz' / f'{args.image}.npz'), out / 'demo_historical_kernels.png',
                     step=args.grid_step)
    logging.info('wrote %s and %s', out / 'demo_historical_sr.png', out / 'demo_historical_kernels.png')


if __name__ == '__main__':
    main()
