"""Differentiable SSIM used as DIP-FKP's early reconstruction loss (fast convergence, per authors).

11x11 Gaussian window (sigma 1.5), zero padding, per channel, mean over the whole map; inputs in
[0, 1] (C1 = 0.01^2, C2 = 0.03^2). This is the pytorch-ssim variant, not MATLAB's 'valid' SSIM.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['SSIM', 'SSIMToTarget', 'gaussian_window']

_C1, _C2 = 0.01 ** 2, 0.03 ** 2


def gaussian_window(size=11, sigma=1.5, dtype=torch.float32):
    g = torch.tensor([math.exp(-(x - size // 2) ** 2 / float(2 * sigma ** 2)) for x in range(size)])
    g = (g / g.sum()).unsqueeze(1)
    return g.mm(g.t()).to(dtype)


def _filter(x, window):
    c = x.shape[1]
    # a contiguous (C, 1, k, k) weight, as the reference builds it (conv results depend on layout)
    w = window.expand(c, 1, -1, -1).contiguous().to(x.dtype)
    return F.conv2d(x, w, padding=window.shape[-1] // 2, groups=c)


def _ssim_map(mu1, mu2, e11, e22, e12):
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    sigma1_sq, sigma2_sq, sigma12 = e11 - mu1_sq, e22 - mu2_sq, e12 - mu1_mu2
    return ((2 * mu1_mu2 + _C1) * (2 * sigma12 + _C2)) / ((mu1_sq + mu2_sq + _C1) * (sigma1_sq + sigma2_sq + _C2))


class SSIM(nn.Module):
    """``SSIM()(a, b)`` -> scalar mean SSIM of two (N, C, H, W) images in [0, 1]."""

    def __init__(self, window_size=11, sigma=1.5):
        super().__init__()
        self.register_buffer('window', gaussian_window(window_size, sigma)[None, None], persistent=False)

    def forward(self, img1, img2):
        w = self.window
        return _ssim_map(_filter(img1, w), _filter(img2, w), _filter(img1 * img1, w), _filter(img2 * img2, w),
                         _filter(img1 * img2, w)).mean()


class SSIMToTarget(SSIM):
    """SSIM against a fixed target: the target's local means/energies are computed once.

    Same values as ``SSIM()(x, target)`` with two of the five window filters saved per call.
    """

    def __init__(self, target, window_size=11, sigma=1.5):
        super().__init__(window_size, sigma)
        with torch.no_grad():
            w = self.window.to(target.device)
            self.register_buffer('target', target.detach(), persistent=False)
            self.register_buffer('mu_t', _filter(target, w), persistent=False)
            self.register_buffer('e_tt', _filter(target * target, w), persistent=False)

    def forward(self, img):
        w = self.window
        return _ssim_map(_filter(img, w), self.mu_t, _filter(img * img, w), self.e_tt,
                         _filter(img * self.target, w)).mean()
