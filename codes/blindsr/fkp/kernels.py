"""FKP's anisotropic Gaussian kernels (training prior, test data) and the x2 -> x4 analytic kernel.

Convention (spec fkp.md, "Conventions"): k x k arrays indexed [row, col], centre of mass at
((k - sf) / 2, (k - sf) / 2), used by cross-correlation + top-left sub-sampling. The random
generators take a NumPy ``RandomState`` or ``Generator``; with ``np.random.RandomState(seed)`` the
draws are those of the authors' scripts seeded with ``np.random.seed(seed)``.
"""
import numpy as np
from scipy import ndimage

__all__ = ['kernel_shift', 'gen_kernel_fixed', 'gen_kernel_random', 'eigenvalue_range', 'fkp_normalization',
           'validation_grid', 'validation_kernels', 'analytic_kernel', 'kernelgan_x4_kernel']


def kernel_shift(kernel, scale):
    """Shift ``kernel`` (cubic spline, zero fill) so its centre of mass is at ((k - s) / 2, (k - s) / 2)."""
    current = np.array(ndimage.center_of_mass(kernel))
    wanted = (np.array(kernel.shape) - scale) / 2.
    return ndimage.shift(kernel, wanted - current)


def eigenvalue_range(scale):
    """Covariance eigenvalue range of FKP's kernels: [0.175 s, min(2.5 s, 10)]."""
    return 0.175 * scale, min(2.5 * scale, 10)


def gen_kernel_fixed(k_size, scale, lambda_1, lambda_2, theta, noise=0.):
    """Anisotropic Gaussian with covariance eigenvalues ``lambda_1/2`` (variances) rotated by ``theta``.

    Evaluated on the integer grid around mu = k//2 + (s - k%2)/2 (p = (col, row)), multiplied by
    ``1 + noise``, re-centred with ``kernel_shift`` and normalised to sum 1. Returns float64 (k, k).
    """
    k = int(k_size)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    inv_sigma = np.linalg.inv(rot @ np.diag([lambda_1, lambda_2]) @ rot.T)
    mu = k // 2 + 0.5 * (scale - k % 2)
    cols, rows = np.meshgrid(np.arange(k), np.arange(k))
    d = np.stack([cols - mu, rows - mu], -1)                       # (k, k, 2), p - mu
    quad = np.einsum('...i,ij,...j->...', d, inv_sigma, d)
    raw = np.exp(-0.5 * quad) * (1 + noise)
    centred = kernel_shift(raw, scale)
    return centred / np.sum(centred)


def gen_kernel_random(k_size, scale, min_var, max_var, noise_level=0., rng=None):
    """Random kernel: eigenvalues ~ U[min_var, max_var], theta ~ U[0, pi), pixel noise U[-n, n].

    Draw order (lambda_1, lambda_2, theta, noise map) matches the authors' ``gen_kernel_random``;
    the noise map is drawn even when ``noise_level`` is 0.
    """
    rng = np.random.default_rng() if rng is None else rng
    lambda_1 = min_var + rng.random() * (max_var - min_var)
    lambda_2 = min_var + rng.random() * (max_var - min_var)
    theta = rng.random() * np.pi
    noise = -noise_level + rng.random((int(k_size), int(k_size))) * noise_level * 2
    return gen_kernel_fixed(k_size, scale, lambda_1, lambda_2, theta, noise)


def fkp_normalization(scale, kernel_size=None):
    """Pixel normaliser of the flow's data space: max of the sharpest kernel (5 decimals) + 0.01."""
    k = kernel_size or min(4 * scale + 3, 21)
    low = eigenvalue_range(scale)[0]
    return round(float(gen_kernel_fixed(k, scale, low, low, 0.).max()), 5) + 0.01


def validation_grid(scale):
    """The authors' fixed validation parameters: (lambda_1, lambda_2, theta) triples.

    Eigenvalues on ``arange(0.175 s, min(2.5 s, 10) + 0.3, 0.3)``, theta on ``arange(0, pi, 0.2)``.
    """
    low, high = eigenvalue_range(scale)
    lambdas = np.arange(low, high + 0.3, 0.3)
    thetas = np.arange(0, np.pi, 0.2)
    return [(l1, l2, th) for l1 in lambdas for l2 in lambdas for th in thetas]


def validation_kernels(scale, kernel_size=None):
    """All validation kernels, float64 (n, k, k), in grid order."""
    k = kernel_size or min(4 * scale + 3, 21)
    return np.stack([gen_kernel_fixed(k, scale, l1, l2, th) for l1, l2, th in validation_grid(scale)])


def analytic_kernel(k2):
    """x4 kernel equivalent to applying the x2 kernel twice (KernelGAN): (3k-2)^2 canvas,
    cropped by k//2 on each side and normalised to sum 1 (21 x 21 for k = 11)."""
    k = k2.shape[0]
    big = np.zeros((3 * k - 2, 3 * k - 2))
    for r in range(k):
        for c in range(k):
            big[2 * r:2 * r + k, 2 * c:2 * c + k] += k2[r, c] * k2
    crop = k // 2
    big = big[crop:-crop, crop:-crop]
    return big / big.sum()


def kernelgan_x4_kernel(k2):
    """x4 kernel of the KernelGAN-FKP protocol: analytic kernel, then re-centred for x4.

    Not renormalised after the shift (sum ~0.996), as in the authors' code.
    """
    return kernel_shift(analytic_kernel(k2), 4)
