"""DIP-FKP through ``codes/test.py`` (``model: dipfkp``): per LR image, a deep image prior and an FKP
latent are fitted so that the HR estimate, blurred by the flow's kernel, reproduces the LR; USRNet
then super-resolves the LR with that kernel. Defaults are the authors' (spec fkp.md (c)).

Outputs per image besides the engine's: ``kernels/<img>.mat`` (the kernel, key ``Kernel``) and
``dip/<img>.png`` (the DIP's own HR estimate), ``dip/<img>_history.csv`` (loss, LR MSE and, with a
true kernel, kernel PSNR after every iteration: runs are deterministic, so where any early-stopping
rule would have stopped is read off one full run). Extra CSV columns: ``psnr_y_dip``/``ssim_y_dip``
(that estimate against the HR) and ``iterations`` (fewer than ``max_iters`` when stopped early).
"""
import csv
import io
import logging
import sys

import torch

from ..fkp.dipfkp import DIPFKP
from ..metrics.kernel_metrics import kernel_psnr
from ..metrics.psnr_ssim import psnr_y, ssim_y
from ..options.schema import Key, register_section
from ..registry import MODELS
from ..utils.files import atomic_write_text
from ..utils.image_io import tensor2img, write_image
from .fkp_per_image import PerImageKernelModel

logger = logging.getLogger(__name__)

register_section('dipfkp', {
    'max_iters': Key(int, 1000, min=1, help='iterations per image'),
    'dip_lr': Key(float, 5e-3, gt=0, help='Adam learning rate of the DIP'),
    'kp_lr': Key(float, 0.5, gt=0, help='Adam learning rate of the FKP latent (spherical)'),
    'freeze_latent_iters': Key(int, 76, min=0, help='the latent is frozen for iterations 1..this'),
    'ssim_iters': Key(int, 80, min=0, help='1 - SSIM loss up to this iteration, MSE after'),
    'dip_seed': Key(int, 1, help='seed of the DIP input noise and weights'),
    'latent_seed': Key(int, 5, help='seed of the initial latent'),
    'early_stop_patience': Key(int, min=1, help='stop once the LR MSE has not improved for this many iterations '
                                         '(null: always max_iters, as the authors)'),
    'early_stop_min_delta': Key(float, 1e-3, min=0, help='relative improvement that counts for early stopping'),
    'early_stop_start': Key(int, min=1, help='first iteration early stopping watches (null: once the latent moves '
                                      'and the loss is MSE)'),
    'fast': Key(bool, True, help='channels-last + fused Adam (same algorithm, other float rounding)'),
    'usrnet': Key(bool, True, help='SR by USRNet with the estimated kernel (false: the DIP image is the SR)'),
    'usrnet_noise': Key(float, 0.0, min=0, max=255, help="USRNet's noise level, 0..255 (authors: 0; 10 for real images)"),
    'save_dip': Key(bool, True, help="write dip/<img>.png, the DIP's own HR estimate, when USRNet makes the SR"),
})


@MODELS.register('dipfkp')
class DIPFKPModel(PerImageKernelModel):
    name = 'DIP-FKP'
    section = 'dipfkp'
    makes_own_sr = True

    def kernel_side(self):
        from ..archs.fkp_arch import fkp_kernel_size
        return fkp_kernel_size(self.scale)

    def estimate(self, lr):
        s = self.settings
        every = self.opt['logger']['print_freq'] or 0
        true = self.batch.get('kernel')
        true = true.squeeze().cpu().numpy() if true is not None else None
        kernel_psnrs = []

        def progress(t, info):
            if true is not None:
                kernel_psnrs.append(kernel_psnr(info['kernel'].squeeze().cpu().numpy(), true))
            if every and t % every == 0:
                logger.info('%s %s: iteration %d, loss %.5f, LR MSE %.3g', self.name, self.batch['path'],
                            t, info['loss'], info['lr_mse'])

        runner = DIPFKP(self.scale, self.prior, max_iters=s['max_iters'], dip_lr=s['dip_lr'], kp_lr=s['kp_lr'],
                        freeze_latent_iters=s['freeze_latent_iters'], ssim_iters=s['ssim_iters'],
                        dip_seed=s['dip_seed'], latent_seed=s['latent_seed'],
                        early_stop_patience=s['early_stop_patience'], early_stop_min_delta=s['early_stop_min_delta'],
                        early_stop_start=s['early_stop_start'], device=self.device, fast=s['fast'],
                        progress=sys.stderr.isatty())
        res = runner.run(lr, callback=progress)
        dip = res.sr.float().clamp(0, 1)
        history = {'loss': res.history['loss'], 'lr_mse': res.history['lr_mse']}
        if true is not None:
            history['psnr_k'] = kernel_psnrs
        out = {'extras': {'dip_sr': dip, 'iterations': res.iterations, 'history': history}}
        if self.usrnet is None:
            out['sr'] = dip
        return torch.from_numpy(res.kernel), out

    def extra_metrics(self, out):
        """The DIP's own HR estimate against the HR (when USRNet makes the SR), and the iterations run."""
        extras = out['extras']
        m = {'iterations': extras['iterations']}
        if 'hr' in out and self.usrnet is not None:
            crop = self.scale if self.opt['crop_border'] is None else self.opt['crop_border']
            m['psnr_y_dip'] = psnr_y(extras['dip_sr'][0], out['hr'][0], crop=crop)
            m['ssim_y_dip'] = ssim_y(extras['dip_sr'][0], out['hr'][0], crop=crop)
        return m

    def save_extra_outputs(self, out, folder, stem):
        super().save_extra_outputs(out, folder, stem)
        if self.usrnet is not None and self.settings['save_dip']:
            write_image(folder / 'dip' / f'{stem}.png', tensor2img(out['extras']['dip_sr'][0]), channel_order='bgr')
        history = out['extras']['history']
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(['iteration', *history])
        for i, row in enumerate(zip(*history.values()), 1):
            writer.writerow([i, *(f'{v:.6g}' for v in row)])
        atomic_write_text(buf.getvalue(), folder / 'dip' / f'{stem}_history.csv')
