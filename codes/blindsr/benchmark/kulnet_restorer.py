"""KULNet's unfolded network (DLSM, ``SR_net``) fed a given kernel: one kernel per image, MANet's 21x21."""
import torch

from .kernel_conventions import MANET
from .kulnet_parts import KULNetNetwork
from .parts import RESTORERS, Restorer


@RESTORERS.register('kulnet')
class KULNetRestorer(KULNetNetwork, Restorer):
    name = 'kulnet'

    @torch.no_grad()
    def restore(self, sample, estimate):
        kernel = estimate.to(MANET, self.scale, MANET.size(self.scale))
        return self.network.SR_net(sample.lr, kernel[None].to(sample.lr)).clamp(0, 1)
