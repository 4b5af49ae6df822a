"""MANet's stage-1 kernel estimator: the LR-resolution kernel field, or its mean for restorers
that take one kernel per image."""
from .kernel_conventions import MANET
from .parts import ESTIMATORS, Estimator, KernelEstimate
from .saved_models import check_checkpoint, load_blind_model, run_blind_model


@ESTIMATORS.register('manet')
class MANetField(Estimator):
    """The kernel at every LR pixel, from a stage-1 (or stage-3) checkpoint's estimator."""
    name = 'manet'
    gives_field = True
    field_alternative = 'manet_mean'
    defaults = {'weights': 'pretrained_models/MANet_s1_x4_SunHays80.pth', 'opt': None, 'tile': 256,
                'tile_overlap': 32}

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.model = None

    def check(self, test_set):
        check_checkpoint(self, test_set.scale)

    def prepare(self):
        if self.model is None:
            self.model = load_blind_model(self.settings['weights'], self.device, self.scale, self.settings['opt'])

    def estimate(self, sample, seed=0):
        self.prepare()
        out = run_blind_model(self.model, sample.lr, self.settings['tile'], self.settings['tile_overlap'])
        return KernelEstimate(out['est_field'][0], MANET)


@ESTIMATORS.register('manet_mean')
class MANetMean(MANetField):
    """The mean of MANet's field over the image: one kernel, for single-kernel restorers (USRNet)."""
    name = 'manet_mean'
    gives_field = False
    field_alternative = None

    def estimate(self, sample, seed=0):
        return super().estimate(sample, seed).single()
