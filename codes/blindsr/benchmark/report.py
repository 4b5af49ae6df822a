"""``benchmark.csv`` (one row per stored item) and ``table.md`` (means per method and set).

Deterministic methods are averaged over images. Per-image optimisers are averaged over images
for each seed, and the table shows the mean ± standard deviation of those per-seed means (the
spread of the method, not of the images). Only ``ok`` items enter the means; the ``images``
column counts ok / all stored items, so failures stay visible. Both files are built from the store
alone, so any shard (or a later ``--report-only``) writes the same table.
"""
import csv
import io
import math
from collections import defaultdict

from ..utils.files import atomic_write_text

CSV_COLUMNS = ('set', 'method', 'image', 'seed', 'status', 'kernel_source', 'psnr_y', 'ssim_y', 'psnr_k',
               'lr_psnr_y', 'wall_s', 'peak_mem_mb', 'device', 'reason')
METRICS = (('psnr_y', 'PSNR_Y (dB)', 2), ('ssim_y', 'SSIM_Y', 4), ('psnr_k', 'kernel PSNR (dB)', 2),
           ('lr_psnr_y', 'LR-PSNR_Y (dB)', 2), ('wall_s', 'time (s)', 2), ('peak_mem_mb', 'peak mem (MB)', 0))
TABLE_COLUMNS = ('method',) + tuple(label for _, label, _ in METRICS) + ('items ok',)


def _ordered(records, methods, sets):
    rank_m = {m: i for i, m in enumerate(methods)}
    rank_s = {s: i for i, s in enumerate(sets)}
    return sorted(records, key=lambda r: (rank_s.get(r['set'], len(rank_s)), r['set'],
                                          rank_m.get(r['method'], len(rank_m)), r['method'], r['image'], r['seed']))


def write_csv(records, path, methods=(), sets=()):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    for r in _ordered(records, methods, sets):
        writer.writerow({k: (f'{v:.6g}' if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(buf.getvalue(), path)


def _mean(values):
    return sum(values) / len(values)


def summarise(records):
    """(set, method) -> {metric: (mean, std or None)}, plus 'ok' and 'total' counts."""
    groups = defaultdict(list)
    for r in records:
        groups[(r['set'], r['method'])].append(r)
    table = {}
    for key, rows in groups.items():
        ok = [r for r in rows if r.get('status') == 'ok']
        seeds = sorted({r['seed'] for r in rows})
        entry = {'ok': len(ok), 'total': len(rows), 'seeds': len(seeds)}
        for metric, _, _ in METRICS:
            per_seed = []
            for seed in seeds:
                values = [r[metric] for r in ok if r['seed'] == seed and r.get(metric) is not None
                          and math.isfinite(r[metric])]
                if values:
                    per_seed.append(_mean(values))
            if not per_seed:
                continue
            mean = _mean(per_seed)
            std = (math.sqrt(sum((v - mean) ** 2 for v in per_seed) / (len(per_seed) - 1))
                   if len(seeds) > 1 and len(per_seed) > 1 else None)
            entry[metric] = (mean, std)
        table[key] = entry
    return table


def markdown_table(records, methods=(), sets=()):
    table = summarise(records)
    set_names = [s for s in sets if any(k[0] == s for k in table)] + sorted({k[0] for k in table} - set(sets))
    lines = []
    for set_name in set_names:
        keys = [k for k in table if k[0] == set_name]
        order = [m for m in methods if (set_name, m) in table] + sorted({k[1] for k in keys} - set(methods))
        lines += [f'### {set_name}', '', '| ' + ' | '.join(TABLE_COLUMNS) + ' |',
                  '|' + '---|' * len(TABLE_COLUMNS)]
        for method in order:
            entry = table[(set_name, method)]
            cells = [method]
            for metric, _, digits in METRICS:
                if metric not in entry:
                    cells.append('–')
                    continue
                mean, std = entry[metric]
                cells.append(f'{mean:.{digits}f}' + (f' ± {std:.{digits}f}' if std is not None else ''))
            seeds = f' ({entry["seeds"]} seeds)' if entry['seeds'] > 1 else ''
            cells.append(f'{entry["ok"]}/{entry["total"]}{seeds}')
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def write_table(records, path, methods=(), sets=(), header=''):
    atomic_write_text(header + markdown_table(records, methods, sets), path)
