"""MANet's stage-2 RRDB-SFT as a restorer: non-blind SR fed a kernel or a whole field (PCA codes
per LR pixel), in MANet's 21x21 convention."""
from .kernel_conventions import MANET
from .parts import RESTORERS, Restorer
from .saved_models import SavedBlindModelPart


@RESTORERS.register('rrdb_sft')
class RRDBSFTRestorer(SavedBlindModelPart, Restorer):
    name = 'rrdb_sft'
    takes_field = True
    defaults = {'weights': 'pretrained_models/MANet_s2_x4_SunHays80_codenorm.pth', 'opt': None, 'tile': 256,
                'tile_overlap': 32}

    def restore(self, sample, estimate):
        kernel = estimate.to(MANET, self.scale, MANET.size(self.scale))
        return self.run_model(sample.lr, kernel)['sr']
