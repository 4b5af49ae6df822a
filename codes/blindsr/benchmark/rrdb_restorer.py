"""MANet's stage-2 RRDB-SFT as a restorer: non-blind SR fed a kernel or a whole field (PCA codes
per LR pixel), in MANet's 21x21 convention."""
from .kernel_conventions import MANET
from .parts import RESTORERS, Restorer
from .saved_models import check_checkpoint, load_blind_model, run_blind_model


@RESTORERS.register('rrdb_sft')
class RRDBSFTRestorer(Restorer):
    name = 'rrdb_sft'
    takes_field = True
    defaults = {'weights': 'pretrained_models/MANet_s2_x4_SunHays80.pth', 'opt': None, 'tile': 256,
                'tile_overlap': 32}

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.model = None

    def check(self, test_set):
        check_checkpoint(self, test_set.scale)

    def prepare(self):
        if self.model is None:
            self.model = load_blind_model(self.settings['weights'], self.device, self.scale, self.settings['opt'])

    def restore(self, sample, estimate):
        self.prepare()
        kernel = estimate.to(MANET, self.scale, MANET.size(self.scale))
        out = run_blind_model(self.model, sample.lr, self.settings['tile'], self.settings['tile_overlap'], kernel=kernel)
        return out['sr']
