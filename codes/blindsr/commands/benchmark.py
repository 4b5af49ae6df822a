"""One benchmark across methods: estimators x restorers and end-to-end methods on prepared test sets.

    python codes/benchmark.py --opt options/benchmark/quick.yml [--shard k/n] [--max-items N]

Writes ``results/<name>/``: ``items/<set>/<method>/<image>__s<seed>.json`` (one per item, written
when it finishes; a rerun skips the stored ones), ``benchmark.csv``, ``table.md``,
``quality_vs_time_<set>.png`` and ``grids/<set>_<image>.png``. Bad input (unknown method or pair,
unprepared set, a kernel field sent to a single-kernel restorer) is one line on stderr and exit 2
before any work; a failed item is recorded and the run goes on, exit 1 at the end.
"""
import argparse
import logging

from blindsr.cli import run_cli


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Benchmark kernel estimators, restorers and end-to-end blind-SR methods '
                                            'on prepared test sets (one option file, one table).')
    p.add_argument('--opt', required=True, help='path to the benchmark option file, e.g. options/benchmark/quick.yml')
    p.add_argument('--shard', default=None, metavar='K/N',
                   help='do only every N-th item, starting with the K-th (1 <= K <= N); N processes with '
                        'K = 1..N share one run through the same result store')
    p.add_argument('--max-items', type=int, default=None, metavar='N',
                   help='stop after N computed items (the rest stays pending for a rerun)')
    p.add_argument('--device', default=None, help="auto, cpu, cuda or cuda:<i> (default: the option file's device)")
    p.add_argument('--report-only', action='store_true',
                   help='compute nothing: rebuild benchmark.csv, table.md and the pictures from the stored items')
    p.add_argument('--results', default=None, metavar='DIR',
                   help='folder that receives <name>/ (default: results/ of the repository)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def job():
        from pathlib import Path

        from blindsr.benchmark.options import load_benchmark_options
        from blindsr.benchmark.runner import Benchmark, parse_shard
        from blindsr.utils.logger import setup_logging, timestamp
        shard = parse_shard(args.shard) if args.shard else None
        if args.max_items is not None and args.max_items < 0:
            raise ValueError(f'--max-items must be >= 0, got {args.max_items}')
        opt = load_benchmark_options(args.opt)
        bench = Benchmark(opt, device=args.device, results_root=Path(args.results) if args.results else None)
        setup_logging(bench.root / f'benchmark_{timestamp()}.log')
        log = logging.getLogger('blindsr')
        failed = []
        if not args.report_only:
            summary = bench.run(shard=shard, max_items=args.max_items)
            failed = summary.failed
            log.info('benchmark %s: %d computed, %d skipped (stored), %d failed%s', opt['name'], summary.done,
                     summary.skipped, len(failed), '; stopped at --max-items' if summary.stopped else '')
        bench.report()
        return 1 if failed else 0
    return run_cli(job)
