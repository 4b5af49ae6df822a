"""KULNet's kernel estimator (``kernel_extra``) alone: one MANet-convention kernel per image."""
import torch

from .kernel_conventions import MANET
from .kulnet_parts import KULNetNetwork
from .parts import ESTIMATORS, Estimator, KernelEstimate


@ESTIMATORS.register('kulnet')
class KULNetEstimator(KULNetNetwork, Estimator):
    name = 'kulnet'

    @torch.no_grad()
    def estimate(self, sample, seed=0):
        kernel, _, _ = self.network.kernel_extra(sample.lr, sample=False)
        return KernelEstimate(kernel[0].float(), MANET)
