"""Kernels without images, for training an FKP prior (``mode: kernels``).

The training phase is FKP's endless stream of random kernels cut into nominal epochs of
50,000 (the authors' epoch), so the generic trainer's epoch-seeded sampler and exact resume
apply unchanged: item ``i`` is drawn from NumPy's global generator, which ``SeededSamples``
seeds from (seed, epoch, i) — a kernel depends on nothing else. Other phases are the fixed
validation grid. Items are flow-space vectors (clamped, normalised, dequantised, logit).
"""
import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from blindsr.data.errors import DatasetError
from blindsr.fkp.prior_training import RandomKernelDataset, preprocess_kernels, validation_data
from blindsr.registry import DATASETS

logger = logging.getLogger(__name__)

EPOCH_KERNELS = 50_000        # FKP's "epoch": 500 steps of 100 kernels


@DATASETS.register('kernels')
class KernelDataset(Dataset):
    """FKP kernels at ``scale`` (k = min(4s + 3, 21)) as flow data: ``{'flow_data': (k*k,) float32}``.

    Args:
        opt (dict): a validated ``datasets.<phase>`` section (uses ``scale``, ``phase``, ``name``).
        val_limit (int or None): other phases: evenly spaced subset of the validation grid.
        val_seed (int): other phases: seed of the grid's (fixed) dequantisation noise.
    """

    def __init__(self, opt, val_limit=None, val_seed=0):
        super().__init__()
        self.name = opt.get('name') or 'kernels'
        self.scale = int(opt.get('scale') or 0)
        if self.scale not in (2, 3, 4, 8):
            raise DatasetError(f'datasets.{self.name}: FKP kernels exist for x2, x3, x4 and x8, not x{self.scale}')
        self.train = opt.get('phase') == 'train'
        self.stream = RandomKernelDataset(self.scale, batch_size=1)
        if self.train:
            self.data = None
        else:
            self.data = validation_data(self.scale, seed=val_seed, limit=val_limit)
            logger.info('dataset %s (kernels): %d validation kernels, x%d', self.name, len(self.data), self.scale)

    def __len__(self):
        return EPOCH_KERNELS if self.train else len(self.data)

    def __getitem__(self, index):
        if not self.train:
            return {'flow_data': self.data[index]}
        # the global generator is seeded per (seed, epoch, index) by SeededSamples
        rng = np.random.default_rng(np.random.randint(0, 2 ** 31))
        kernel = self.stream.sample_kernels(1, rng)
        x = preprocess_kernels(kernel, self.stream.normalization, rng=rng)[0]
        return {'flow_data': torch.as_tensor(x)}
