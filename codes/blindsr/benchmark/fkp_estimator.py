"""FKP's per-image kernel estimators (DIP-FKP, KernelGAN-FKP), one run per seed.

Both start from random weights and a random latent, so one run says little: the FKP and
KernelGAN authors report means of several runs. Seed 0 is the authors' own setting (DIP-FKP:
DIP seed 1, latent seed 5; KernelGAN-FKP: seed 1); seed ``n`` shifts each of those by ``n``.
Kernels come out in FKP's convention (centred; 19x19 at x4 for DIP-FKP, KernelGAN-FKP's x4 one is
21x21) and are converted by whoever uses them.
"""
import torch

from ..archs.fkp_arch import load_kernel_prior
from ..fkp.dipfkp import DIPFKP
from ..fkp.kernelgan_fkp import KernelGANFKP
from ..utils.paths import SHARED_DIR, resolve_path
from .kernel_conventions import FKP
from .parts import ESTIMATORS, Estimator, KernelEstimate, PartError

OFFICIAL = SHARED_DIR / 'pretrained_models' / 'official'


def _check_prior(part, default):
    path = resolve_path(part.settings['prior'] or default)
    if not path.is_file():
        raise PartError(f'parts.{part.name}.prior: {path} not found (an FKP prior, e.g. the released FKP_x<s>.pt)')


def _prior(path, scale, device):
    path = resolve_path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: FKP prior not found')
    return load_kernel_prior(path, scale=scale, device=device)


@ESTIMATORS.register('dipfkp')
class DIPFKPEstimator(Estimator):
    """DIP-FKP (``fkp.dipfkp``): a deep image prior and an FKP latent fitted to each LR image."""
    name = 'dipfkp'
    seeded = True
    defaults = {'prior': None, 'max_iters': 1000, 'dip_lr': 5e-3, 'kp_lr': 0.5, 'freeze_latent_iters': 76,
                'ssim_iters': 80, 'fast': True}

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        if self.scale not in (2, 3, 4):
            raise PartError(f'parts.dipfkp: DIP-FKP works at x2, x3, x4, not x{self.scale}')
        self.prior = None

    def check(self, test_set):
        _check_prior(self, OFFICIAL / f'FKP_x{self.scale}.pt')

    def prepare(self):
        if self.prior is None:
            self.prior = _prior(self.settings['prior'] or OFFICIAL / f'FKP_x{self.scale}.pt', self.scale, self.device)

    def estimate(self, sample, seed=0):
        s = self.settings
        self.prepare()
        runner = DIPFKP(self.scale, self.prior, max_iters=s['max_iters'], dip_lr=s['dip_lr'], kp_lr=s['kp_lr'],
                        freeze_latent_iters=s['freeze_latent_iters'], ssim_iters=s['ssim_iters'],
                        dip_seed=1 + seed, latent_seed=5 + seed, device=self.device, fast=s['fast'])
        result = runner.run(sample.lr)
        return KernelEstimate(torch.from_numpy(result.kernel).to(self.device), FKP)


@ESTIMATORS.register('kernelganfkp')
class KernelGANFKPEstimator(Estimator):
    """KernelGAN-FKP (``fkp.kernelgan_fkp``): a WGAN-GP over LR crops whose generator is the x2 FKP
    prior; at x4 the analytic x4 kernel of the x2 estimate."""
    name = 'kernelganfkp'
    seeded = True
    defaults = {'prior': None, 'iterations': None, 'batch_size': 64, 'g_crop': 64, 'shave': 10}

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        if self.scale not in (2, 4):
            raise PartError(f'parts.kernelganfkp: KernelGAN-FKP works at x2 and x4, not x{self.scale}')
        self.prior = None

    def check(self, test_set):
        _check_prior(self, OFFICIAL / 'FKP_x2.pt')

    def prepare(self):
        if self.prior is None:
            self.prior = _prior(self.settings['prior'] or OFFICIAL / 'FKP_x2.pt', 2, self.device)

    def estimate(self, sample, seed=0):
        s = self.settings
        h, w = sample.lr.shape[-2:]
        if min(h, w) - 2 * s['shave'] < s['g_crop']:
            raise ValueError(f'{h}x{w} LR pixels leave less than the {s["g_crop"]}px crops KernelGAN-FKP learns from '
                             f'after shaving {s["shave"]} per border (lower parts.kernelganfkp.g_crop / shave)')
        self.prepare()
        runner = KernelGANFKP(self.prior, scale=self.scale, iterations=s['iterations'], batch_size=s['batch_size'],
                              g_crop=s['g_crop'], shave=s['shave'], seed=1 + seed, device=self.device)
        result = runner.run(sample.lr)
        return KernelEstimate(torch.from_numpy(result.kernel.astype('float32')).to(self.device), FKP)
