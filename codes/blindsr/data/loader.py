"""Build datasets from their option dicts and wrap them in DataLoaders, reproducibly.

Seeding: the loader's ``torch.Generator`` is seeded with ``seed + rank``; PyTorch derives each
worker's torch seed from it (a new one per epoch: workers are not persistent, so a
dataset's ``set_epoch`` set in the main process reaches them), and
:func:`seed_worker` copies that seed to ``random`` and ``numpy``, which the datasets use for
crops and flips. So a run is reproducible from ``seed`` for a fixed ``n_workers``, and epochs
do not repeat the same augmentations. With ``n_workers: 0`` augmentations use the main
process' global generators, which the training script seeds.

Batch size: as in the authors' code, ``batch_size`` is the *total* batch; with
``world_size`` processes each loads ``batch_size // world_size`` (it must divide evenly).
"""
import logging
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from blindsr.data.errors import DatasetError
from blindsr.registry import DATASETS

logger = logging.getLogger(__name__)


def build_dataset(opt):
    """The dataset class registered under ``opt['mode']`` (GT | LQ | GTLQ), built from ``opt``."""
    try:
        cls = DATASETS.get(opt.get('mode'))
    except KeyError as e:
        raise DatasetError(f"datasets.{opt.get('name')}: {e.args[0]}") from e
    return cls(opt)


def seed_worker(worker_id):
    """Seed ``random`` and ``numpy`` in a DataLoader worker from its torch seed."""
    seed = torch.initial_seed() % 2 ** 32
    random.seed(seed)
    np.random.seed(seed)


def build_dataloader(dataset, opt, phase, seed, distributed=False, rank=0, world_size=1, sampler=None):
    """DataLoader for ``dataset`` with the ``datasets.<phase>`` options ``opt``.

    Training: shuffled (``use_shuffle``, default on), ``batch_size`` split over processes,
    ``n_workers`` per process, incomplete batches dropped, a ``DistributedSampler`` when
    ``distributed`` (call ``loader.sampler.set_epoch(epoch)`` every epoch). A ``sampler``
    given by the caller (e.g. a resumable one) replaces the shuffling/distribution here.
    Validation/test: batch 1, in order, at most one worker, never distributed.
    """
    pin = torch.cuda.is_available()
    n_workers = int(opt.get('n_workers') or 0)
    if phase != 'train':
        return DataLoader(dataset, batch_size=1, shuffle=False, num_workers=min(n_workers, 1),
                          pin_memory=pin, worker_init_fn=seed_worker)

    name = opt.get('name')
    total = 1 if opt.get('batch_size') is None else int(opt['batch_size'])   # 0 is refused at option load
    world_size = world_size if distributed else 1
    if total % world_size:
        raise DatasetError(f'datasets.{name}: batch_size {total} is not divisible by the '
                           f'{world_size} processes')
    batch = total // world_size
    per_process = len(dataset) // world_size
    if per_process < batch:
        raise DatasetError(f'datasets.{name}: {len(dataset)} images give no full batch of {batch} '
                           f'per process ({world_size} process(es)); lower batch_size or add images')
    shuffle = opt.get('use_shuffle')
    shuffle = True if shuffle is None else bool(shuffle)
    generator = torch.Generator()
    generator.manual_seed(int(seed) + int(rank))
    if sampler is None and distributed:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle,
                                     seed=int(seed), drop_last=True)
    logger.info('train loader %s: %d images, batch %d per process x %d, %d workers',
                name, len(dataset), batch, world_size, n_workers)
    return DataLoader(dataset, batch_size=batch, shuffle=shuffle if sampler is None else False,
                      sampler=sampler, num_workers=n_workers, drop_last=True, pin_memory=pin,
                      worker_init_fn=seed_worker, generator=generator)
