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


STAGE1 = [('MANet (ours, stage 1)', 'eval_bsd68_x4_stage1')]
FIXED_KERNELS = [('mean kernel of the authors\' training kernels', 'eval_bsd68_x4_meankernel'),
                 ('mean kernel of the random-field kernels', 'eval_bsd68_x4_meankernel_fields'),
                 ('mean kernel of the half/half mix', 'eval_bsd68_x4_meankernel_mix')]


def margin_row(ours, fixed, metric='lr_psnr_y'):
    """Ours minus the best fixed kernel on each set (the stage-1 target is >= 1 dB)."""
    cells = []
    for s in SETS:
        a = averages(ours, s)
        best = [f[metric] for f in (averages(run, s) for _, run in fixed) if f and metric in f]
        cells.append(f'{a[metric] - max(best):+.2f}' if a and best else '–')
    return '| ours minus the best fixed kernel (LR-PSNR_Y) | ' + ' | '.join(cells) + ' |'


def difference_row(label, run_a, run_b, metric='psnr_y'):
    """``run_a`` minus ``run_b`` on each set (the issue's targets are written so)."""
    cells = []
    for s in SETS:
        a, b = averages(run_a, s), averages(run_b, s)
        cells.append(f'{a[metric] - b[metric]:+.2f}' if a and b and metric in a and metric in b else '–')
    return f'| {label} | ' + ' | '.join(cells) + ' |'


# the code_norm pair (pretrained_models/MANet_s{2,3}_x4_SunHays80_codenorm.pth): the runs of
# eval_bsd68_x4_{stage3,stage2_true,stage2_mean}.yml with --set name=<run> --set network_G.code_norm=true
# --set path.pretrain_model_G=<that pair's file> (and --set train_sv_rate=0.5 for the training mix's mean)
CODENORM = [('MANet + RRDB-SFT code_norm, stage 3', 'eval_bsd68_x4_stage3_codenorm'),
            ('bicubic upsampling', 'eval_bsd68_x4_bicubic'),
            ("code_norm stage 2 fed the mean kernel (the authors' training kernels)", 'eval_bsd68_x4_stage2_mean_codenorm'),
            ('code_norm stage 2 fed the mean kernel of its training mix (half random fields)',
             'eval_bsd68_x4_stage2_meanmix_codenorm'),
            ('code_norm stage 2 fed the true kernels', 'eval_bsd68_x4_stage2_true_codenorm')]


def main():
    out = [table('Stage 1: LR-PSNR_Y (dB) / kernel PSNR (dB)', STAGE1 + FIXED_KERNELS, ['lr_psnr_y', 'psnr_k']),
           margin_row(STAGE1[0][1], FIXED_KERNELS),
           '',
           table('Stage 3: PSNR_Y (dB) / SSIM_Y', [
               ('MANet + RRDB-SFT (ours, stage 3)', 'eval_bsd68_x4_stage3'),
               ('bicubic upsampling', 'eval_bsd68_x4_bicubic'),
               ('stage-2 RRDB-SFT fed the mean kernel', 'eval_bsd68_x4_stage2_mean'),
               ('stage-2 RRDB-SFT fed the true kernels', 'eval_bsd68_x4_stage2_true')], ['psnr_y', 'ssim_y']),
           '',
           table('The code_norm pair: PSNR_Y (dB) / SSIM_Y', CODENORM, ['psnr_y', 'ssim_y']),
           difference_row('stage 2: true minus mean kernel (target >= +1.0)', CODENORM[4][1], CODENORM[2][1]),
           difference_row('stage 2: true minus the mix mean kernel', CODENORM[4][1], CODENORM[3][1]),
           difference_row('stage 3 minus stage 2 + mean kernel (target >= +0.5)', CODENORM[0][1], CODENORM[2][1]),
           difference_row('stage 3 minus stage 2 + the mix mean kernel', CODENORM[0][1], CODENORM[3][1]),
           difference_row('stage 3 minus stage 2 + true kernels (target >= -0.5)', CODENORM[0][1], CODENORM[4][1])]
    sys.stdout.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
