"""The KL criterion of a latent Gaussian, registered as ``kl`` for ``train.losses`` entries
(``{type: kl, weight: 0.001, compares: latent}`` is KULNet's term)."""
import torch
from torch import nn

from blindsr.registry import LOSSES


@LOSSES.register('kl')
class KLLoss(nn.Module):
    """``KLLoss()(mean, log_std)``: mean over elements of KL(N(mean, exp(log_std)^2) || N(0, 1)), unweighted."""

    def forward(self, mean, log_std):
        return torch.mean(-0.5 * (1 + 2 * log_std - mean ** 2 - torch.exp(2 * log_std)))
