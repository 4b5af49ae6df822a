"""How much of each test kernel reaches a non-blind SR network through its PCA code?

    python scripts/pca_fidelity.py                               # the authors' x4 matrix, code lengths 15, 24, 32
    python scripts/pca_fidelity.py --pca pretrained_models/pca_matrix_aniso21_15_x2.pth --scale 2

RRDB-SFT sees a kernel only as its code ``P^T k`` (15 numbers; ``code_norm`` standardises them, which
loses nothing). The best kernel a network could rebuild from the code is the training mean plus the
code's directions, ``mu + P P^T (k - mu)``. Per kernel family (the training distribution, the
spatially invariant test grid, the spatially variant modes 1-5 on a BSD100-sized image) this prints
the kernel PSNR of that rebuilt kernel and, for comparison, of the mean training kernel (what a
restorer knows without any estimate), median and worst over the family. With ``--code_lengths`` the
same for PCA matrices of other lengths fitted here on the training kernels. A family whose kernels
the code describes barely better than the mean cannot gain much from the true kernel, whatever the
restorer.
"""
import argparse
import sys

from blindsr.cli import run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Kernel PSNR of the kernels a PCA code can describe, per test kernel family.')
    p.add_argument('--pca', default='pretrained_models/pca_matrix_aniso21_15_x4.pth',
                   help="PCA matrix (l*l, k) (default: the authors' x4 matrix)")
    p.add_argument('--scale', type=int, default=4, choices=(2, 3, 4), help='scale of the kernels (default 4)')
    p.add_argument('--code_lengths', type=int, nargs='*', default=[24, 32],
                   help='also fit PCA matrices of these lengths on the training kernels (default 24 32; none: only --pca)')
    p.add_argument('--kernels', type=int, default=20000,
                   help='random training kernels for the mean and the fitted matrices (default 20000)')
    p.add_argument('--hr_size', type=int, nargs=2, default=[320, 480], metavar=('H', 'W'),
                   help='HR size of the spatially variant fields (default 320 480, BSD100)')
    p.add_argument('--seed', type=int, default=0, help='seed of the training kernels (default 0)')
    return p.parse_args(argv)


def families(scale, kernel_size, hr_size, train):
    """name -> kernels (N, l*l) float64."""
    import torch
    from blindsr.degradation.kernels import anisotropic_kernels
    from blindsr.degradation.sv_fields import sv_block_kernels
    from blindsr.testsets.protocol import si_kernel_grid
    grid = torch.tensor(si_kernel_grid(scale), dtype=torch.float32)
    out = {'training kernels': train[:2000],
           'SI grid': anisotropic_kernels(grid[:, 0], grid[:, 1], grid[:, 2], scale, kernel_size,
                                          torch.float64).flatten(1)}
    for mode in (1, 2, 3, 4, 5):
        kernels, _ = sv_block_kernels(mode, tuple(hr_size), scale, kernel_size, generator=torch.Generator().manual_seed(0),
                                      dtype=torch.float64)
        out[f'SV{mode}'] = kernels.reshape(-1, kernel_size * kernel_size)
    return out


def psnr_rows(kernels, approx):
    """Median (the lower one of an even count) and worst kernel PSNR (the project's ``kernel_psnr``) over the rows."""
    import statistics
    from blindsr.metrics import kernel_psnr
    psnr = [kernel_psnr(a, k) for a, k in zip(approx.numpy(), kernels.numpy())]
    return statistics.median_low(psnr), min(psnr)


def main(argv=None):
    args = parse_args(argv)

    def job():
        import torch
        from blindsr.degradation.kernels import random_kernels
        from blindsr.degradation.pca import load_pca_matrix, pca_matrix
        from blindsr.utils.logger import setup_logging
        setup_logging()
        if args.kernels < 100:
            raise ValueError('--kernels must be >= 100')
        given = load_pca_matrix(args.pca).double()
        taps = given.shape[0]
        size = round(taps ** 0.5)
        s = args.scale
        gen = torch.Generator().manual_seed(args.seed)
        train = random_kernels(args.kernels, s, size, 0.175 * s, 2.5 * s, 0.0, gen, 'cpu', torch.float64)[0].flatten(1)
        mean = train.mean(0)
        matrices = {f'{args.pca} ({given.shape[1]})': given}
        for length in args.code_lengths:
            if not 1 <= length <= taps:
                raise ValueError(f'--code_lengths: {length} is not in 1..{taps}')
            matrices[f'fitted here ({length})'] = pca_matrix(train, length).double()
        header = ['kernels', 'mean training kernel'] + [f'code of {name}' for name in matrices]
        lines = [f'Kernel PSNR (dB, 20 log10(1/RMSE), {size}x{size}, x{s}) of the best kernel rebuilt from each '
                 'code, median / worst over the family', '', '| ' + ' | '.join(header) + ' |',
                 '|' + '---|' * len(header)]
        for name, kernels in families(s, size, args.hr_size, train).items():
            cells = [name, '%.1f / %.1f' % psnr_rows(kernels, mean.expand_as(kernels))]
            for matrix in matrices.values():
                rebuilt = mean + (kernels - mean) @ matrix @ matrix.T
                cells.append('%.1f / %.1f' % psnr_rows(kernels, rebuilt))
            lines.append('| ' + ' | '.join(cells) + ' |')
        sys.stdout.write('\n'.join(lines) + '\n')
        return 0

    return run_cli(job)


if __name__ == '__main__':
    sys.exit(main())
