"""Bicubic upsampling as a restorer: it ignores the kernel, so every estimator gives the same SR
(the floor any kernel-aware restorer must beat)."""
from ..archs.baselines_arch import Bicubic
from .parts import RESTORERS, Restorer


@RESTORERS.register('bicubic')
class BicubicRestorer(Restorer):
    name = 'bicubic'
    takes_field = True
    uses_kernel = False

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.net = Bicubic(scale=self.scale)

    def restore(self, sample, estimate):
        return self.net(sample.lr)
