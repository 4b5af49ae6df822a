"""An epoch-seeded sampler that can start mid-epoch: exact resume, single or multi-process."""
import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler):
    """Indices of one epoch: a permutation seeded by ``(seed, epoch)``, split over ranks.

    ``set_epoch(epoch, start=k)`` skips the first ``k`` indices of this rank, so a resumed
    run sees exactly the batches an uninterrupted one would, without loading the skipped ones.
    """

    def __init__(self, length, seed=0, shuffle=True, rank=0, world_size=1):
        self.length, self.seed, self.shuffle = length, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch, start=0):
        self.epoch, self.start = epoch, start

    def _indices(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        per_rank = self.length // self.world_size      # equal share per rank (drop the tail)
        return order[self.rank * per_rank:(self.rank + 1) * per_rank]

    def __iter__(self):
        return iter(self._indices()[self.start:])

    def __len__(self):
        return self.length // self.world_size - self.start


class SeededSamples(torch.utils.data.Dataset):
    """Wrap a dataset so each sample's random augmentation depends only on (seed, epoch, index).

    Python's, NumPy's and torch's global generators are seeded before every item, so worker
    count, worker order and resumption cannot change what a sample looks like.
    """

    def __init__(self, dataset, seed=0):
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        import random

        import numpy as np
        s = (self.seed * 1000003 + self.epoch * 7919 + index) % (2 ** 32)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
        return self.dataset[index]
