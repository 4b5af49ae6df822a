"""Collect the averages of the shipped-weights evaluation into a Markdown table.

    python scripts/eval_table.py            # after the test.py runs of options/test/eval_bsd68_x4_*.yml
"""
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / 'results'
SETS = ['BSD68_x4_SI', 'BSD68_x4_SV1', 'BSD68_x4_SV2', 'BSD68_x4_SV3', 'BSD68_x4_SV4']


def averages(run, dataset):
    path = ROOT / run / dataset / 'metrics.csv'
    if not path.is_file():
        return None
    rows = list(csv.DictReader(open(path)))
    return {k: float(v) for k, v in rows[-1].items() if k != 'image' and v}


def table(title, runs, metrics):
    lines = [f'**{title}**', '', '| method | ' + ' | '.join(SETS) + ' |', '|---|' + '---|' * len(SETS)]
    for label, run in runs:
        cells = []
        for s in SETS:
            a = averages(run, s)
            cells.append(' / '.join(f'{a[m]:.4f}' if 'ssim' in m else f'{a[m]:.2f}' for m in metrics if a and m in a) or '–')
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    out = [table('Stage 1: LR-PSNR_Y (dB) / kernel PSNR (dB)', [
        ('MANet (ours, stage 1)', 'eval_bsd68_x4_stage1'),
        ('mean training kernel at every pixel', 'eval_bsd68_x4_meankernel')], ['lr_psnr_y', 'psnr_k']),
        '',
        table('Stage 3: PSNR_Y (dB) / SSIM_Y', [
            ('MANet + RRDB-SFT (ours, stage 3)', 'eval_bsd68_x4_stage3'),
            ('bicubic upsampling', 'eval_bsd68_x4_bicubic'),
            ('stage-2 RRDB-SFT fed the mean kernel', 'eval_bsd68_x4_stage2_mean'),
            ('stage-2 RRDB-SFT fed the true kernels', 'eval_bsd68_x4_stage2_true')], ['psnr_y', 'ssim_y'])]
    sys.stdout.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
