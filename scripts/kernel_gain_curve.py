"""The curve that says whether a stage-2 run learns to use its kernel: true-kernel minus mean-kernel PSNR_Y per checkpoint.

    python scripts/kernel_gain_curve.py --models results/MANet_s2_x4_SunHays80_codenorm/models \
        --opt options/test/curve_bsd68_x4_stage2.yml --train_sv_rate 0.5

For every ``<iter>_G.pth`` in ``--models`` it runs test.py on the option file's sets twice: the
stage-2 network fed the true kernels, and the same network fed the mean training kernel
(``MANet_s2_mean``). It writes ``curve.md``, ``curve.csv`` (iteration, set, both PSNR_Y, the
gain) and ``curve.png`` under ``results/kernel_gain_curve/<run>/`` and skips checkpoints already in
the CSV, so it can be rerun while the training goes on; ``--plot CSV`` only redraws a picture.
"""
import argparse
import csv
import io
import logging
import re
import sys
from pathlib import Path

from blindsr.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ['iteration', 'set', 'psnr_y_true', 'psnr_y_mean', 'gain']


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='True-kernel minus mean-kernel PSNR_Y of every stage-2 checkpoint of a run.')
    p.add_argument('--models', help='folder of <iter>_G.pth checkpoints (a training run\'s models/)')
    p.add_argument('--opt', help='test option file: GTLQ sets with kernels and the stage-2 network_G')
    p.add_argument('--train_sv_rate', type=float, default=0.0,
                   help='mean kernel of the training mix with this share of random fields (default 0)')
    p.add_argument('--every', type=int, default=1, help='use every N-th checkpoint (default 1: all)')
    p.add_argument('--images', type=int, default=0,
                   help='evaluate N pairs of each set, spread over the set (symlinked subsets; default 0: all)')
    p.add_argument('--output', default=None, help='folder for curve.md / curve.csv '
                                                  '(default results/kernel_gain_curve/<run name>)')
    p.add_argument('--plot', metavar='CSV', default=None,
                   help='only draw the picture of a curve CSV (written beside it, same name, .png); '
                        'no --models/--opt needed')
    args = p.parse_args(argv)
    if args.plot is None and (args.models is None or args.opt is None):
        p.error('--models and --opt are required (or --plot CSV)')
    return args


def subset(gt_dir, lq_dir, count, dest):
    """Symlink ``count`` (GT, LQ, kernel) triples spread over a prepared set; returns the new (GT, LQ) folders.

    The stride is made coprime with 9 so that a grid set (9 kernels per image, in order) is not
    sampled at one kernel only.
    """
    gt_dir, lq_dir = Path(gt_dir), Path(lq_dir)
    gts, lqs = sorted(gt_dir.iterdir()), sorted(lq_dir.iterdir())
    stride = max(1, len(gts) // count)
    while stride > 1 and stride % 3 == 0:
        stride += 1
    ker_dir = lq_dir.parent / lq_dir.name.replace('LR_', 'kernels_', 1)
    new_gt, new_lq, new_ker = dest / 'HR', dest / lq_dir.name, dest / ker_dir.name
    for d in (new_gt, new_lq, new_ker):
        d.mkdir(parents=True, exist_ok=True)
    for gt, lq in list(zip(gts, lqs))[::stride][:count]:
        for src, d in ((gt, new_gt), (lq, new_lq), (ker_dir / f'{lq.stem}.npz', new_ker)):
            link = d / src.name
            if src.exists() and not link.exists():
                link.symlink_to(src.resolve())
    return new_gt, new_lq


def read_rows(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def averages(metrics_csv):
    return float(read_rows(metrics_csv)[-1]['psnr_y'])


def plot_curve(rows, path, target=1.0):
    """Gain per set over iterations, with the target line: where the curve flattens below it is
    what says a run needs more than more iterations."""
    from blindsr.utils.plots import pyplot, save_figure
    fig, ax = pyplot().subplots(figsize=(6.4, 3.6))
    for name in dict.fromkeys(r['set'] for r in rows):
        pts = sorted((int(r['iteration']), float(r['gain'])) for r in rows if r['set'] == name)
        ax.plot(*zip(*pts), marker='o', ms=3, label=name)
    ax.axhline(target, color='k', ls='--', lw=1, label=f'target +{target:g} dB')
    ax.axhline(0, color='0.6', lw=0.8)
    ax.set_xlabel('training iteration')
    ax.set_ylabel('PSNR_Y, true minus mean kernel (dB)')
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def main(argv=None):
    args = parse_args(argv)

    def job():
        from blindsr.commands import test
        from blindsr.options import load_options
        from blindsr.utils.files import atomic_write_text
        from blindsr.utils.logger import setup_logging
        setup_logging()
        if args.plot:
            rows = read_rows(args.plot)
            missing = [f for f in ('iteration', 'set', 'gain') if not rows or f not in rows[0]]
            if missing:
                raise ValueError(f'{args.plot}: not a curve CSV (no rows, or no {", ".join(missing)} column); '
                                 f'expected the columns {", ".join(FIELDS)}')
            plot_curve(rows, Path(args.plot).with_suffix('.png'))
            return 0
        if args.every < 1 or args.images < 0:
            raise ValueError('--every must be >= 1 and --images >= 0')
        models = Path(args.models)
        ckpts = sorted((p for p in models.glob('*_G.pth') if re.fullmatch(r'\d+_G\.pth', p.name)),
                       key=lambda p: int(p.name.split('_')[0]))[::args.every]
        if not ckpts:
            raise FileNotFoundError(f'{models}: no <iter>_G.pth checkpoints')
        run = models.parent.name
        out = Path(args.output) if args.output else ROOT / 'results' / 'kernel_gain_curve' / run
        csv_path = out / 'curve.csv'
        rows = read_rows(csv_path) if csv_path.is_file() else []
        done = {r['iteration'] for r in rows}
        datasets = load_options(args.opt, is_train=False)['datasets']
        sets = [d['name'] for d in datasets.values()]
        roots = []
        if args.images:
            for key, d in datasets.items():
                gt, lq = subset(d['dataroot_GT'], d['dataroot_LQ'], args.images, out / 'sets' / d['name'])
                roots += ['--set', f'datasets.{key}.dataroot_GT={gt}', '--set', f'datasets.{key}.dataroot_LQ={lq}']
        log = logging.getLogger('blindsr')
        for ckpt in ckpts:
            it = ckpt.name.split('_')[0]
            if it in done:
                continue
            psnr = {}
            for kind, arch in (('true', 'MANet_s2'), ('mean', 'MANet_s2_mean')):
                name = f'kernel_gain_curve_{run}_{it}_{kind}'
                extra = ['--set', f'network_G.train_sv_rate={args.train_sv_rate}'] if kind == 'mean' else []
                code = test.main(['--opt', args.opt, '--set', f'name={name}', '--set', f'network_G.which_model_G={arch}',
                                  '--set', f'path.pretrain_model_G={ckpt}', *extra, *roots])
                if code:
                    raise RuntimeError(f'test.py failed on {ckpt} ({kind} kernel), exit {code}')
                psnr[kind] = {s: averages(ROOT / 'results' / name / s / 'metrics.csv') for s in sets}
            for s in sets:
                t, m = psnr['true'][s], psnr['mean'][s]
                rows.append({'iteration': it, 'set': s, 'psnr_y_true': f'{t:.4f}', 'psnr_y_mean': f'{m:.4f}',
                             'gain': f'{t - m:+.4f}'})
            log.info('iteration %s: gains %s', it, {s: round(psnr['true'][s] - psnr['mean'][s], 3) for s in sets})
            buf = io.StringIO()
            writer = csv.DictWriter(buf, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
            atomic_write_text(buf.getvalue(), csv_path)
        table = ['| iteration | ' + ' | '.join(f'{s}: true / mean / gain' for s in sets) + ' |',
                 '|---|' + '---|' * len(sets)]
        by_it = {}
        for r in rows:
            by_it.setdefault(r['iteration'], {})[r['set']] = r
        for it in sorted(by_it, key=int):
            cells = [f"{float(c['psnr_y_true']):.2f} / {float(c['psnr_y_mean']):.2f} / **{float(c['gain']):+.2f}**"
                     if (c := by_it[it].get(s)) else '–' for s in sets]
            table.append(f'| {it} | ' + ' | '.join(cells) + ' |')
        text = (f'{run}: stage 2 fed the true kernels vs the mean training kernel (train_sv_rate '
                f'{args.train_sv_rate:g}), PSNR_Y dB, sets of {args.opt}\n\n' + '\n'.join(table) + '\n')
        atomic_write_text(text, out / 'curve.md')
        plot_curve(rows, out / 'curve.png')
        sys.stdout.write(text)
        return 0
    return run_cli(job)


if __name__ == '__main__':
    sys.exit(main())
