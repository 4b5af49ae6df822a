"""The KL criterion of a latent Gaussian, registered as ``kl`` for ``train.losses`` entries
(``{type: kl, weight: 0.001, compares: latent}`` is KULNet's term)."""
from torch import nn

from blindsr.registry import LOSSES

from .losses import kl_loss


@LOSSES.register('kl')
class KLLoss(nn.Module):
    """``KLLoss()(mean, log_std)``: mean over elements of KL(N(mean, exp(log_std)^2) || N(0, 1)), unweighted."""

    def forward(self, mean, log_std):
        return kl_loss(mean, log_std, weight=1.0)
