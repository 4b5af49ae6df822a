"""KULNet end to end: its estimator and its unfolded network in one forward (the ``blind`` recipe)."""
from .kernel_conventions import MANET
from .kulnet_parts import KULNetNetwork
from .parts import METHODS, EndToEnd, KernelEstimate


@METHODS.register('kulnet')
class KULNetEndToEnd(KULNetNetwork, EndToEnd):
    name = 'kulnet'

    def run(self, sample, seed=0):
        out = self.run_model(sample.lr)
        return out['sr'], KernelEstimate(out['est_kernel'][0], MANET)
