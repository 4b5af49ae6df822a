"""End-to-end methods: MANet stage 3 (estimator + RRDB-SFT in one network), and bicubic upsampling."""
from ..archs.baselines_arch import Bicubic
from .kernel_conventions import MANET
from .parts import METHODS, EndToEnd, KernelEstimate
from .saved_models import SavedBlindModelPart


@METHODS.register('manet_s3')
class MANetStage3(SavedBlindModelPart, EndToEnd):
    """MANet + RRDB-SFT (stage 3): SR and the LR-resolution kernel field it used."""
    name = 'manet_s3'
    defaults = {'weights': 'pretrained_models/MANet_s3_x4_SunHays80_codenorm.pth', 'opt': None, 'tile': 256,
                'tile_overlap': 32}

    def run(self, sample, seed=0):
        out = self.run_model(sample.lr)
        return out['sr'], KernelEstimate(out['est_field'][0], MANET)


@METHODS.register('bicubic')
class BicubicUpsampling(EndToEnd):
    """Bicubic upsampling: no kernel at all (the table's floor)."""
    name = 'bicubic'

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.net = Bicubic(scale=self.scale)

    def run(self, sample, seed=0):
        return self.net(sample.lr), None
