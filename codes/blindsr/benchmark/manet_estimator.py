"""MANet's stage-1 kernel estimator: the LR-resolution kernel field, or its mean for restorers
that take one kernel per image."""
from .kernel_conventions import MANET
from .parts import ESTIMATORS, Estimator, KernelEstimate
from .saved_models import SavedBlindModelPart


@ESTIMATORS.register('manet')
class MANetField(SavedBlindModelPart, Estimator):
    """The kernel at every LR pixel, from a stage-1 (or stage-3) checkpoint's estimator."""
    name = 'manet'
    gives_field = True
    field_alternative = 'manet_mean'
    defaults = {'weights': 'pretrained_models/MANet_s1_x4_SunHays80.pth', 'opt': None, 'tile': 256,
                'tile_overlap': 32}

    def estimate(self, sample, seed=0):
        out = self.run_model(sample.lr)
        return KernelEstimate(out['est_field'][0], MANET)


@ESTIMATORS.register('manet_mean')
class MANetMean(MANetField):
    """The mean of MANet's field over the image: one kernel, for single-kernel restorers (USRNet)."""
    name = 'manet_mean'
    gives_field = False
    field_alternative = None

    def estimate(self, sample, seed=0):
        return super().estimate(sample, seed).single()
