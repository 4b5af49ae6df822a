"""Pieces to train an FKP prior (wired into the training loop elsewhere).

Data: an endless stream of random anisotropic Gaussian kernels from FKP's training distribution,
mapped to the flow's data space (clamp, normalise, dequantisation noise U[0,1)/720, logit).
Objective: mean negative log-likelihood. Model selection: mean log-likelihood on the fixed
validation grid. Authors' recipe: Adam(1e-4, weight decay 1e-6), batch 100, 500 steps per
"epoch", 100 epochs, learning rate halved after epochs 40, 50, ..., 90.

These kernels are FKP-specific (eigenvalues are variances, scipy-shift centring, circular
geometry), which is why they are generated here and not by ``blindsr.degradation``.
"""
import math

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from blindsr.archs.fkp_arch import KernelPrior, fkp_kernel_size
from blindsr.fkp.kernels import (
    eigenvalue_range,
    fkp_normalization,
    gen_kernel_fixed,
    gen_kernel_random,
    validation_grid,
)

__all__ = ['ALPHA', 'DEQUANT_SCALE', 'new_kernel_prior', 'preprocess_kernels', 'RandomKernelDataset',
           'validation_data', 'nll_loss', 'validation_log_likelihood', 'build_prior_optimizer',
           'build_prior_scheduler', 'STEPS_PER_EPOCH']

ALPHA = 1e-6
DEQUANT_SCALE = 1 / 720.          # empirical dequantisation noise of the authors
STEPS_PER_EPOCH = 500             # 50,000 kernels / batch 100


def new_kernel_prior(scale, **kwargs):
    """An untrained prior for ``scale`` with the authors' sizes, alpha and normalisation buffers."""
    k = fkp_kernel_size(scale)
    return KernelPrior.for_scale(scale, kernel_size=k, alpha=ALPHA, normalization=fkp_normalization(scale),
                                 **kwargs)


def preprocess_kernels(kernels, normalization, alpha=ALPHA, rng=None, dequant_scale=DEQUANT_SCALE):
    """Kernels (B, k, k) -> flow data float32 (B, k*k): clamp >= 0, / normalization, + U[0,1) *
    ``dequant_scale`` (skipped if ``rng`` is None), squeeze into (alpha, 1 - alpha), logit."""
    x = np.clip(np.asarray(kernels, dtype=np.float64), 0, None) / normalization
    if rng is not None:
        x = x + rng.random(x.shape) * dequant_scale
    v = alpha + (1 - 2 * alpha) * x
    return torch.from_numpy(np.log(v / (1 - v)).reshape(len(x), -1).astype(np.float32))


class RandomKernelDataset(IterableDataset):
    """Endless (or ``length``-long) stream of preprocessed random kernels, batched.

    Yields float32 tensors (batch_size, k*k). Each DataLoader worker gets its own stream derived
    from ``seed`` (without a seed: fresh entropy).

    Args:
        scale (int): 2, 3, 4 (8): kernel size and eigenvalue range follow FKP.
        batch_size (int): kernels per item. Default 100.
        length (int or None): number of batches, None = endless. Default None.
        noise_level (float): multiplicative kernel noise U[-n, n] (FKP: 0).
        seed (int or None): stream seed.
    """

    def __init__(self, scale, batch_size=100, length=None, noise_level=0., seed=None):
        super().__init__()
        self.scale = scale
        self.k = fkp_kernel_size(scale)
        self.var_range = eigenvalue_range(scale)
        self.normalization = fkp_normalization(scale)
        self.batch_size = batch_size
        self.length = length
        self.noise_level = noise_level
        self.seed = seed

    def sample_kernels(self, n, rng):
        """Raw kernels float64 (n, k, k) of the training distribution."""
        return np.stack([gen_kernel_random(self.k, self.scale, *self.var_range, self.noise_level, rng)
                         for _ in range(n)])

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info is not None else 0
        seq = np.random.SeedSequence(self.seed, spawn_key=(worker,)) if self.seed is not None else None
        rng = np.random.default_rng(seq)
        produced = 0
        while self.length is None or produced < self.length:
            yield preprocess_kernels(self.sample_kernels(self.batch_size, rng), self.normalization, rng=rng)
            produced += 1


def validation_data(scale, seed=0, limit=None):
    """The fixed validation grid, preprocessed, float32 (N, k*k).

    The authors redraw the dequantisation noise at every evaluation; a fixed ``seed`` makes the
    score comparable between evaluations. ``limit`` keeps an evenly spaced subset (quick checks).
    """
    grid = validation_grid(scale)
    if limit is not None and limit < len(grid):
        grid = [grid[i] for i in np.linspace(0, len(grid) - 1, limit).round().astype(int)]
    k = fkp_kernel_size(scale)
    kernels = np.stack([gen_kernel_fixed(k, scale, l1, l2, th) for l1, l2, th in grid])
    return preprocess_kernels(kernels, fkp_normalization(scale), rng=np.random.default_rng(seed))


def nll_loss(prior, x):
    """Mean negative log-likelihood of flow data ``x`` (B, d) — the training objective."""
    return -prior.log_prob(x)[0].mean()


@torch.no_grad()
def validation_log_likelihood(prior, data, batch_size=1000):
    """Mean log p(x) over ``data`` in eval mode (running BatchNorm statistics); restores the mode."""
    was_training = prior.training
    prior.eval()
    device = prior.base_dist_mean.device
    total = 0.
    for i in range(0, len(data), batch_size):
        chunk = data[i:i + batch_size].to(device)
        total += float(prior.log_prob(chunk)[0].double().sum())
    prior.train(was_training)
    mean = total / len(data)
    if not math.isfinite(mean):
        raise FloatingPointError('validation log-likelihood is not finite')
    return mean


def build_prior_optimizer(prior, lr=1e-4, weight_decay=1e-6):
    return torch.optim.Adam(prior.parameters(), lr=lr, weight_decay=weight_decay)


def build_prior_scheduler(optimizer, milestones=(40, 50, 60, 70, 80, 90), gamma=0.5):
    """Per-epoch schedule (call ``step()`` once every ``STEPS_PER_EPOCH`` iterations)."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)
