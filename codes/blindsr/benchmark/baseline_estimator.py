"""The two reference estimators: the true kernel (each restorer's upper bound) and the mean
training kernel (its no-estimation baseline)."""
from ..archs.baselines_arch import mean_training_kernel
from .kernel_conventions import MANET
from .parts import ESTIMATORS, Estimator, KernelEstimate, PartError


@ESTIMATORS.register('true')
class TrueKernel(Estimator):
    """The set's stored true kernel or field, in the set's own convention (MANet ``.npz`` or FKP ``.mat``)."""
    name = 'true'
    gives_field = None

    def check(self, test_set):
        if not test_set.has_kernels:
            raise PartError(f"estimator 'true' needs true kernels, but set {test_set.name} has none "
                            f'(no kernels_* or *_gt_k_x* folder beside {test_set.dataroot_LQ})')

    def gives_field_on(self, test_set):
        return test_set.kernel_is_field

    def estimate(self, sample, seed=0):
        return KernelEstimate(sample.kernel, sample.kernel_convention)


@ESTIMATORS.register('mean')
class MeanTrainingKernel(Estimator):
    """The mean of MANet's random training kernels (``archs.baselines_arch``): the best fixed guess
    in L2 for that distribution, the same kernel for every image."""
    name = 'mean'
    defaults = {'rate_iso': 0.0, 'train_sv_rate': 0.0}

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.kernel = None

    def prepare(self):
        if self.kernel is None:
            self.kernel = mean_training_kernel(self.scale, MANET.size(self.scale), rate_iso=self.settings['rate_iso'],
                                               train_sv_rate=self.settings['train_sv_rate']).to(self.device)

    def estimate(self, sample, seed=0):
        self.prepare()
        return KernelEstimate(self.kernel, MANET)
