"""USRNet (the FKP authors' released ``usrnet_tiny.pth``) as a restorer: one kernel per image.

USRNet's data step is FKP's blur (``kernel_conventions``), so every estimate is converted to the
FKP convention first, at 21x21: FKP's blur and USRNet take any odd size, and 21 holds MANet's
kernels without cutting their tails (FKP's default 19 at x4 would).
"""
from ..archs.usrnet_arch import load_usrnet
from ..fkp.nonblind import usrnet_sr
from ..utils.paths import SHARED_DIR, resolve_path
from .kernel_conventions import FKP
from .parts import RESTORERS, PartError, Restorer

CONVERTED_SIZE = 21


@RESTORERS.register('usrnet')
class USRNetRestorer(Restorer):
    name = 'usrnet'
    defaults = {'weights': str(SHARED_DIR / 'pretrained_models' / 'official' / 'usrnet_tiny.pth'),
                'noise_level': 0.0}

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.net = None

    def check(self, test_set):
        if not resolve_path(self.settings['weights']).is_file():
            raise PartError(f"parts.usrnet.weights: {self.settings['weights']} not found")

    def prepare(self):
        if self.net is None:
            path = resolve_path(self.settings['weights'])
            if not path.is_file():
                raise FileNotFoundError(f'{path}: USRNet weights not found')
            self.net = load_usrnet(path, self.device)

    def restore(self, sample, estimate):
        self.prepare()
        kernel = estimate.to(FKP, self.scale, CONVERTED_SIZE)
        sr = usrnet_sr(self.net, sample.lr, kernel, self.scale, self.settings['noise_level'] / 255.)
        return sr.clamp(0, 1)
