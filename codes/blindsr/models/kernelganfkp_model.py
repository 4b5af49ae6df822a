"""KernelGAN-FKP through ``codes/test.py`` (``model: kernelganfkp``): per LR image, a WGAN-GP whose
generator is an FKP kernel learns the image's x2 kernel (x4: its analytic x4 kernel); USRNet then
super-resolves the LR with it. The prior is always the x2 flow (``FKP_x2.pt``), also at x4, as the
authors do; defaults are theirs (spec fkp.md (d)). Writes ``kernels/<img>.mat`` (the kernel for
the scale: 11x11 at x2, 21x21 at x4).
"""
import logging
import sys

import torch

from ..fkp.kernelgan_fkp import KernelGANFKP
from ..options.schema import Key, register_section
from ..registry import MODELS
from .fkp_per_image import PerImageKernelModel

logger = logging.getLogger(__name__)

register_section('kernelganfkp', {
    'iterations': Key(int, min=1, help='iterations per image (null: the authors\' 1000 at x2, 4000 at x4)'),
    'g_lr': Key(float, 5e-4, gt=0, help='Adam learning rate of the latent (spherical)'),
    'd_lr': Key(float, 5e-4, gt=0, help='Adam learning rate of the critic'),
    'beta1': Key(float, 0.5, min=0, max=1, help='Adam beta1 of both'),
    'batch_size': Key(int, 64, min=1, help='crop pairs per iteration'),
    'g_crop': Key(int, 64, min=1, help="side of the generator's crops (the critic's follow)"),
    'd_steps': Key(int, 3, min=1, help='critic updates per iteration'),
    'g_steps': Key(int, 3, min=1, help='generator updates per iteration'),
    'gp_weight': Key(float, 0.1, min=0, help='gradient-penalty weight'),
    'seed': Key(int, 1, help='seed of the latent, the critic and the crops'),
    'shave': Key(int, 10, min=0, help='pixels cut from every border first (10 for synthetic data, 0 for real photos)'),
    'usrnet': Key(bool, True, help='SR by USRNet with the estimated kernel (false: kernels only)'),
    'usrnet_noise': Key(float, 0.0, min=0, max=255, help="USRNet's noise level, 0..255 (authors: 0; 10 for real images)"),
})


@MODELS.register('kernelganfkp')
class KernelGANFKPModel(PerImageKernelModel):
    name = 'KernelGAN-FKP'
    section = 'kernelganfkp'

    def __init__(self, opt, device, dist=False):
        if opt['scale'] not in (2, 4):
            raise ValueError(f"KernelGAN-FKP works at x2 and x4 (x4 through the analytic kernel), not x{opt['scale']}")
        super().__init__(opt, device, dist)

    def prior_scale(self):
        return 2

    def kernel_side(self):
        return 21 if self.scale == 4 else 11

    def estimate(self, lr):
        s = self.settings
        h, w = lr.shape[-2:]
        side = min(h, w) - 2 * s['shave']
        if side < s['g_crop']:
            raise ValueError(f"{self.batch['path']}: {h}x{w} LR pixels leave {side} after shaving {s['shave']} per "
                             f"border, less than the {s['g_crop']}px crops KernelGAN-FKP learns from; use larger "
                             f'images (or lower {self.section}.shave / g_crop)')
        runner = KernelGANFKP(self.prior, scale=self.scale, iterations=s['iterations'], g_lr=s['g_lr'], d_lr=s['d_lr'],
                              beta1=s['beta1'], batch_size=s['batch_size'], g_crop=s['g_crop'], d_steps=s['d_steps'],
                              g_steps=s['g_steps'], gp_weight=s['gp_weight'], seed=s['seed'], shave=s['shave'],
                              device=self.device, progress=sys.stderr.isatty())
        every = self.opt['logger']['print_freq'] or 0

        def log_losses(t, losses):
            if every and t % every == 0:
                logger.info('%s %s: iteration %d, D real %.4f fake %.4f GP %.4f, G %.4f', self.name, self.batch['path'],
                            t, losses['d_real'], losses['d_fake'], losses['gp'], losses['g'])

        res = runner.run(lr, callback=log_losses)
        return torch.from_numpy(res.kernel.astype('float32')), {}
