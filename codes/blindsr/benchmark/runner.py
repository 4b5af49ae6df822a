"""Run a benchmark: plan every (method, set, image, seed) item, do the pending ones, store each.

Everything that can be checked is checked before the first image: the option file, every
method name and pair, every set (prepared, with the kernels a method needs), every part's
settings and whether a restorer can take what its estimator gives. Then items run in a fixed
order (set, image, method, seed); ``shard=(k, n)`` keeps every n-th of them (the k-th, 1-based),
so n processes share one run over the same store. An item that fails is stored as failed with
its reason and the run goes on; the report is rebuilt from the store at the end.
"""
import datetime
import logging
import time
from dataclasses import dataclass, field

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..utils.device import device_from_name
from ..utils.paths import REPO_ROOT
from .costs import CostMeter
from .figures import crop_grid, quality_time_plot
from .kernel_conventions import to_reference
from .methods import Method, PartCache, kernel_source
from .report import write_csv, write_table
from .parts import PartError
from .scoring import score
from .store import Item, ResultStore
from .testsets import BenchmarkSet

logger = logging.getLogger(__name__)


@dataclass
class RunSummary:
    planned: int = 0
    skipped: int = 0
    done: int = 0
    failed: list = field(default_factory=list)   # (item, reason)
    stopped: bool = False                          # max_items reached before the end


def parse_shard(text):
    """``'k/n'`` -> (k, n), 1 <= k <= n."""
    try:
        k, n = (int(x) for x in str(text).split('/'))
    except ValueError:
        raise PartError(f'--shard {text!r}: expected k/n, e.g. 1/4') from None
    if not 1 <= k <= n:
        raise PartError(f'--shard {text!r}: k must be between 1 and n')
    return k, n


def progress_line(position, total, item, record, elapsed_s):
    """One log line per finished item, so that a run without a terminal (nohup, a cluster job),
    where the progress bar is off, still shows how far it is and when it should end."""
    if record['status'] == 'ok':
        quality = (f"{record['psnr_y']:.2f} dB" if 'psnr_y' in record else
                   f"LR {record['lr_psnr_y']:.2f} dB" if 'lr_psnr_y' in record else 'done')
        outcome = f"{quality}, {record['wall_s']:.1f} s"
    else:
        outcome = 'FAILED'
    eta_s = elapsed_s / position * (total - position)
    return (f'[{position}/{total}] {item.method} on {item.set_name}/{item.image} seed {item.seed}: {outcome}; '
            f'about {eta_s / 60:.0f} min left')


class Benchmark:
    """A checked benchmark: its sets, methods, items and store."""

    def __init__(self, opt, device=None, results_root=None):
        self.opt = opt
        self.device = device_from_name(device or opt['device'])
        self.root = (results_root or REPO_ROOT / 'results') / opt['name']
        self.store = ResultStore(self.root)
        self.sets = {name: BenchmarkSet.from_options(name, spec, opt['scale']) for name, spec in opt['sets'].items()}
        cache = PartCache(opt['parts'], self.device)
        self.methods = [Method(spec, cache) for spec in opt['methods']]
        specs = [m.spec for m in self.methods]
        dup = sorted({s for s in specs if specs.count(s) > 1})
        if dup:
            raise PartError(f'methods: {", ".join(dup)} listed twice')
        for test_set in self.sets.values():
            unknown = sorted(set(test_set.methods or ()) - set(specs))
            if unknown:
                raise PartError(f'sets.{test_set.name}.methods: {", ".join(unknown)} not in methods '
                                f'({", ".join(specs)})')
        for method in self.methods:
            for test_set in self.sets.values():
                if self.runs_on(method, test_set):
                    method.check(test_set)
        self._check_grid()

    def _check_grid(self):
        for entry in self.opt['grid'].get('images') or []:
            test_set = self.sets.get(entry['set'])
            if test_set is None:
                raise PartError(f"grid.images: unknown set {entry['set']!r}; sets: {', '.join(self.sets)}")
            if str(entry['image']) not in test_set.images:
                raise PartError(f"grid.images: set {entry['set']} has no image {entry['image']!r} "
                                f"(it has {', '.join(test_set.images[:10])}{' ...' if len(test_set.images) > 10 else ''})")

    @staticmethod
    def runs_on(method, test_set):
        return test_set.methods is None or method.spec in test_set.methods

    def seeds(self, method):
        return range(self.opt['seeds']) if method.seeded else range(1)

    def items(self, shard=None):
        """Every item in the fixed order, or the shard's share of them."""
        items = [Item(set_name, i, image, m.spec, m.slug, seed)
                 for set_name, test_set in self.sets.items()
                 for i, image in enumerate(test_set.images)
                 for m in self.methods if self.runs_on(m, test_set) for seed in self.seeds(m)]
        if shard is not None:
            k, n = shard
            items = items[k - 1::n]
        return items

    def grid_images(self):
        return {(e['set'], str(e['image'])) for e in self.opt['grid'].get('images') or []}

    def run_item(self, item, sample, method):
        """Compute one item; its record (ok, with metrics and costs)."""
        method.prepare(sample.scale)
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
        with CostMeter(self.device) as cost:   # no no_grad here: per-image optimisers need gradients
            sr, estimate = method.run(sample, item.seed)
        source = kernel_source(method)
        record = {'status': 'ok', **score(sample, sr, estimate, source == 'estimated'),
                  'wall_s': cost.wall_s, 'peak_mem_mb': cost.peak_mem_mb}
        if (item.set_name, item.image) in self.grid_images():
            kernel = None
            if estimate is not None:
                single = estimate.single() if estimate.is_field else estimate
                kernel = to_reference(single.kernel.detach().double().cpu(), estimate.convention, sample.scale)
            self.store.save_pictures(item, sr, kernel)
        return record

    def run(self, shard=None, max_items=None):
        """Do the pending items (at most ``max_items``); returns a :class:`RunSummary`."""
        items = self.items(shard)
        summary = RunSummary(planned=len(items))
        pending = [it for it in items if not self.store.done(it)]
        summary.skipped = len(items) - len(pending)
        if summary.skipped:
            logger.info('benchmark %s: %d of %d items already stored, skipped', self.opt['name'], summary.skipped,
                        len(items))
        if max_items is not None and len(pending) > max_items:
            pending, summary.stopped = pending[:max_items], True
        methods = {m.spec: m for m in self.methods}
        cached = (None, None)
        with logging_redirect_tqdm(loggers=[logging.getLogger('blindsr')]):
            started = time.monotonic()
            for position, item in enumerate(tqdm(pending, desc=f'benchmark {self.opt["name"]}', unit='item',
                                                 dynamic_ncols=True, disable=None), 1):
                base = {'method': item.method, 'set': item.set_name, 'image': item.image, 'seed': item.seed,
                        'device': str(self.device), 'kernel_source': kernel_source(methods[item.method])}
                try:
                    key = (item.set_name, item.image_index)
                    if cached[0] != key:     # items of one image follow each other: read it once
                        cached = (key, self.sets[item.set_name].sample(item.image_index, self.device))
                    record = self.run_item(item, cached[1], methods[item.method])
                    summary.done += 1
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as e:  # noqa: BLE001 - one failing image must not stop the run
                    reason = f'{type(e).__name__}: {e}'.splitlines()[0]
                    logger.error('%s on %s/%s (seed %d) failed: %s', item.method, item.set_name, item.image,
                                 item.seed, reason)
                    record = {'status': 'failed', 'reason': reason}
                    summary.failed.append((item, reason))
                record.update(base, finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'))
                self.store.write(item, record)
                logger.info('%s', progress_line(position, len(pending), item, record, time.monotonic() - started))
        return summary

    def report(self):
        """Rebuild ``benchmark.csv``, ``table.md`` and the pictures from everything stored (by any
        shard) that belongs to this option file's plan; items of methods, images or seeds no longer
        in it are left out of the table (and kept on disk)."""
        planned = {(it.set_name, it.method, it.image, it.seed) for it in self.items()}
        stored = self.store.records()
        records = [r for r in stored if (r.get('set'), r.get('method'), r.get('image'), r.get('seed')) in planned]
        if len(records) < len(stored):
            logger.warning('benchmark %s: %d stored item(s) are not in the option file any more: left out of the table',
                           self.opt['name'], len(stored) - len(records))
        methods, sets = [m.spec for m in self.methods], list(self.sets)
        write_csv(records, self.root / 'benchmark.csv', methods, sets)
        header = (f'# Benchmark {self.opt["name"]}\n\n`{self.opt["opt_path"]}`; means over images (per-image '
                  f'optimisers: mean ± std over {self.opt["seeds"]} seeds of the per-seed means); kernel PSNR in '
                  "MANet's 21x21 convention; time and peak memory per image.\n\n")
        write_table(records, self.root / 'table.md', methods, sets, header)
        if self.opt['plot']:
            for set_name in sets:
                quality_time_plot(records, set_name, self.root / f'quality_vs_time_{set_name}.png', methods)
        for set_name, image in sorted(self.grid_images()):
            crop_grid(self.store, self.sets[set_name], image, self.methods, self.root / 'grids' / f'{set_name}_{image}.png',
                      crop=self.opt['grid'].get('crop') or 96)
        logger.info('benchmark %s: %d stored items -> %s', self.opt['name'], len(records), self.root / 'table.md')
        return records
