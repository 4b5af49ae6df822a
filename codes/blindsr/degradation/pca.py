"""PCA codes of blur kernels (MANet's 15-number kernel descriptor).

The matrix P (l*l, k) holds the top-k principal directions of a large set of random
training kernels (mean-subtracted covariance, as the authors' ``util.PCA``), but the
encoding does *not* subtract the mean: ``code = k_flat @ P`` and ``k ~ code @ P.T``.
That is what the released networks were trained with, so it is kept.

Eigenvector signs are arbitrary; we fix them so that each column's entry of largest
magnitude is positive. The authors' released matrices
(``pca_matrix_aniso21_15_x{2,3,4}.pth``) should be loaded, not rebuilt, to reuse weights.
"""
import logging

import torch

from . import kernels as K

logger = logging.getLogger(__name__)


class _CovarianceAccumulator:
    """Streaming sum and Gram matrix in float64, so N kernels never sit in memory at once."""

    def __init__(self, dim, device):
        self.n = 0
        self.sum = torch.zeros(dim, dtype=torch.float64, device=device)
        self.gram = torch.zeros(dim, dim, dtype=torch.float64, device=device)

    def add(self, x):
        x = x.to(torch.float64)
        self.n += x.shape[0]
        self.sum += x.sum(0)
        self.gram += x.T @ x

    def covariance(self):
        mean = self.sum / self.n
        return self.gram - self.n * torch.outer(mean, mean)


def _top_eigenvectors(cov, code_length):
    _eigval, eigvec = torch.linalg.eigh(cov)  # ascending
    top = eigvec[:, -code_length:].flip(1)
    idx = top.abs().argmax(0)
    signs = torch.sign(top[idx, torch.arange(top.shape[1], device=top.device)])
    return top * signs


def pca_matrix(kernels, code_length=15):
    """PCA matrix (l*l, code_length) float32 from kernels (N, l, l) or (N, l*l)."""
    flat = kernels.reshape(kernels.shape[0], -1)
    acc = _CovarianceAccumulator(flat.shape[1], flat.device)
    acc.add(flat)
    return _top_eigenvectors(acc.covariance(), code_length).float()


def build_pca_matrix(num_kernels, scale, kernel_size=21, code_length=15, sig_min=None, sig_max=None,
                     rate_iso=0.0, generator=None, device='cpu', numpy_rng=None, chunk=10000):
    """Sample ``num_kernels`` random training kernels (in chunks) and return their PCA matrix.

    The authors used 150000 kernels with the training ranges (default
    0.175*scale .. 2.5*scale). ``numpy_rng`` replays their numpy stream.
    """
    sig_min = 0.175 * scale if sig_min is None else sig_min
    sig_max = 2.5 * scale if sig_max is None else sig_max
    acc = _CovarianceAccumulator(kernel_size * kernel_size, device)
    for start in range(0, num_kernels, chunk):
        n = min(chunk, num_kernels - start)
        ker, _ = K.random_kernels(n, scale, kernel_size, sig_min, sig_max, rate_iso, generator, device,
                                  torch.float64, numpy_rng)
        acc.add(ker.reshape(n, -1))
    logger.info('PCA matrix from %d kernels (x%d, sig %.3g..%.3g)', num_kernels, scale, sig_min, sig_max)
    return _top_eigenvectors(acc.covariance(), code_length).float()


def load_pca_matrix(path, device='cpu'):
    """Load an authors' ``pca_matrix_*.pth`` (a (l*l, k) tensor) onto ``device``."""
    mat = torch.load(path, map_location=device, weights_only=True)
    if mat.dim() != 2:
        mat = mat.reshape(mat.shape[1], mat.shape[2])  # accept the (1, l*l, k, 1, 1) network buffer
    return mat.float()


def pca_encode(kernels, matrix):
    """Codes (..., k) of kernels (..., l, l): ``k_flat @ P``, no mean subtraction.

    Works for a kernel batch (B, l, l) -> (B, k) and a field (B, h, w, l, l) -> (B, h, w, k);
    ``matrix`` may be (l*l, k) or any shape holding those values (the networks' (1, l*l, k, 1, 1) buffer).
    """
    taps = kernels.shape[-1] * kernels.shape[-2]
    matrix = matrix.reshape(taps, -1).to(device=kernels.device, dtype=kernels.dtype)
    return kernels.flatten(-2) @ matrix


def pca_decode(codes, matrix):
    """Kernels (..., l, l) back from codes (..., k): ``code @ P.T``."""
    matrix = matrix.to(device=codes.device, dtype=codes.dtype)
    side = round(matrix.shape[0] ** 0.5)
    return (codes @ matrix.T).unflatten(-1, (side, side))


def code_statistics(matrix, scale, kernel_size=21, num_kernels=20000, seed=0):
    """Mean and std (k,) of the codes of the authors' random training kernels at ``scale``.

    Raw codes are tiny and nearly alike across kernels (norm 0.03-0.4 beside features of
    order 1), so a conditioning branch barely sees them; these statistics let a network
    standardise its code map. The draw is seeded, so the statistics are reproducible.
    """
    gen = torch.Generator().manual_seed(seed)
    ker, _ = K.random_kernels(num_kernels, scale, kernel_size, 0.175 * scale, 2.5 * scale, 0.0, gen,
                              'cpu', torch.float64)
    codes = pca_encode(ker, matrix.to(torch.float64))
    return codes.mean(0).float(), codes.std(0).float()
