"""What KULNet's three benchmark parts share: one network from a saved checkpoint, latent at its mean.

KULNet (``blindsr.kulnet``) estimates one kernel per image and restores with an unfolded MAP network
(DLSM) given that kernel; the benchmark uses the two halves apart (``kulnet`` estimator,
``kulnet`` restorer) and together (``kulnet`` end to end). Its kernels are in MANet's convention
(21x21, ``kernel_conventions``). The latent is the mean, not a sample (``network_G.sample_latent:
false``), so a row is one deterministic number. The default weights are the shipped CPU-trained
``pretrained_models/KULNet_x4_SunHays80_cpu.pth``; ``parts.kulnet.weights`` names another checkpoint
saved by ``train.py`` (with its ``.yml`` record).
"""
from .saved_models import SavedBlindModelPart

DEFAULTS = {'weights': 'pretrained_models/KULNet_x4_SunHays80_cpu.pth', 'opt': None}
NO_WEIGHTS = ('; give a KULNet checkpoint saved by train.py (the shipped one: '
              'pretrained_models/KULNet_x4_SunHays80_cpu.pth)')


class KULNetNetwork(SavedBlindModelPart):
    """Mixin: the saved KULNet with its latent at the mean, and ``network``, the bare net."""
    defaults = DEFAULTS
    missing_hint = NO_WEIGHTS
    overrides = ('network_G.sample_latent=false',)

    @property
    def network(self):
        self.prepare()
        return self.model.bare(self.model.net).eval()
