"""End-to-end methods: MANet stage 3 (estimator + RRDB-SFT in one network), and bicubic upsampling."""
from ..archs.baselines_arch import Bicubic
from .kernel_conventions import MANET
from .parts import METHODS, EndToEnd, KernelEstimate
from .saved_models import check_checkpoint, load_blind_model, run_blind_model


@METHODS.register('manet_s3')
class MANetStage3(EndToEnd):
    """MANet + RRDB-SFT (stage 3): SR and the LR-resolution kernel field it used."""
    name = 'manet_s3'
    defaults = {'weights': 'pretrained_models/MANet_s3_x4_SunHays80.pth', 'opt': None, 'tile': 256,
                'tile_overlap': 32}

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.model = None

    def check(self, test_set):
        check_checkpoint(self, test_set.scale)

    def prepare(self):
        if self.model is None:
            self.model = load_blind_model(self.settings['weights'], self.device, self.scale, self.settings['opt'])

    def run(self, sample, seed=0):
        self.prepare()
        out = run_blind_model(self.model, sample.lr, self.settings['tile'], self.settings['tile_overlap'])
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
