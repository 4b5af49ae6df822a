"""What the FKP test-time recipes (DIP-FKP, KernelGAN-FKP) share: per-image kernel estimation
with a frozen FKP prior, then non-blind SR by USRNet with the estimated kernel.

Nothing is trained across images, so these models only run through ``codes/test.py``. The prior
is ``path.pretrain_model_K`` (a released ``FKP_x<s>.pt`` or our ``models/*_G.pth``), USRNet is
``network_G`` with weights ``path.pretrain_model_G``. One kernel per image: ``est_field`` is that
kernel expanded (a view) over the LR pixels, so the engine's kernel PSNR equals FKP's single-
kernel PSNR, and ``reblur`` uses FKP's degradation geometry (circular correlation, top-left
sampling), under which its kernels are defined.
"""
import logging
import os

import torch

from ..archs.build import build_network
from ..archs.fkp_arch import load_kernel_prior
from ..fkp.io import save_kernel_mat
from ..fkp.nonblind import usrnet_sr
from ..fkp.ops import blur_downsample
from ..utils.checkpoint_io import load_state_dict
from .base_model import BaseModel
from .contract import Capabilities

logger = logging.getLogger(__name__)


class PerImageKernelModel(BaseModel):
    """Base of ``dipfkp`` / ``kernelganfkp``. Subclasses set ``name``, ``section``, ``prior_scale()``,
    ``kernel_side()`` and implement ``estimate(lr) -> (kernel (k, k) tensor, extra outputs)``."""

    name = ''        # e.g. 'DIP-FKP', for messages
    section = ''     # the model's option section
    makes_own_sr = False   # an HR estimate of its own, the SR when USRNet is off

    def __init__(self, opt, device, dist=False):
        super().__init__(opt, device, dist)
        if self.is_train:
            raise ValueError(f"model {opt['model']} estimates each image's kernel at test time; run it with "
                             'codes/test.py (train a prior with model fkp)')
        self.scale = opt['scale']
        self.settings = opt[self.section]
        k = self.kernel_side()
        if opt['kernel_size'] != k:
            raise ValueError(f"kernel_size is {opt['kernel_size']}, but {self.name} at x{self.scale} estimates "
                             f'{k}x{k} kernels: set kernel_size: {k}')
        self.prior = self._load_prior()
        self.usrnet = self._load_usrnet() if self.settings['usrnet'] else None
        self.capabilities = Capabilities(estimates_kernel=True, outputs=('sr', 'est_kernel'),
                                         makes_sr=self.usrnet is not None or self.makes_own_sr)
        if opt['tile']:
            logger.warning('%s optimises whole images: tile=%s is ignored', self.name, opt['tile'])

    # ------------------------------------------------------------------ set-up
    def prior_scale(self):
        return self.scale

    def kernel_side(self):
        raise NotImplementedError

    def _load_prior(self):
        path = self.opt['path']['pretrain_model_K']
        if not path:
            raise ValueError(f'path.pretrain_model_K: {self.name} needs an FKP prior (FKP_x{self.prior_scale()}.pt)')
        if not os.path.isfile(path):
            raise FileNotFoundError(f'path.pretrain_model_K: {path} not found')
        try:
            prior = load_kernel_prior(path, scale=self.prior_scale(), device=self.device)
        except (RuntimeError, KeyError) as e:
            raise ValueError(f'path.pretrain_model_K: {path} is not an FKP prior checkpoint '
                             f'({str(e).splitlines()[0]})') from None
        logger.info('%s: kernel prior %s (%dx%d kernels)', self.name, path, prior.k, prior.k)
        return prior

    def _load_usrnet(self):
        if self.opt['network_G']['which_model_G'] != 'USRNet':
            raise ValueError(f"network_G.which_model_G must be USRNet for {self.name}'s non-blind step "
                             f"(or set {self.section}.usrnet: false)")
        path = self.opt['path']['pretrain_model_G']
        if not path:
            raise ValueError(f'path.pretrain_model_G: USRNet weights (usrnet_tiny.pth) are needed, or set '
                             f'{self.section}.usrnet: false')
        if not os.path.isfile(path):
            raise FileNotFoundError(f'path.pretrain_model_G: {path} not found')
        net = build_network(self.opt).to(self.device)
        load_state_dict(net, path, strict=self.opt['path']['strict_load'])
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    # ------------------------------------------------------------------ data
    def feed_data(self, batch, generator=None, train=False):
        """LR images (LQ/GTLQ datasets), with the HR and the true kernel when the dataset has them."""
        if 'LQ' not in batch:
            raise ValueError(f'{self.name} estimates the kernels of given LR images: use dataset mode LQ or GTLQ '
                             f'(prepare_testset.py --protocol {self.section} makes them from HR images)')
        lr = batch['LQ'].to(self.device)
        self.batch = {'lr': lr, 'lr_clean': lr, 'path': batch['LQ_path'][0]}
        if 'GT' in batch:
            self.batch['hr'] = batch['GT'].to(self.device)
        for key in ('kernel', 'kernel_field'):
            if key in batch:
                self.batch[key] = batch[key].to(self.device, torch.float32)

    # ------------------------------------------------------------------ inference
    def estimate(self, lr):
        """``(kernel (k, k), TestOutput with extras, and sr when the method makes its own)``."""
        raise NotImplementedError

    def test(self, tile=None, tile_overlap=0):
        """Estimate the kernel of the fed LR image, then super-resolve it with USRNet."""
        lr = self.batch['lr']
        if lr.shape[0] != 1:
            raise ValueError(f'{self.name} runs one image at a time, got a batch of {lr.shape[0]}')
        k = self.kernel_side()
        true = self.batch.get('kernel_field', self.batch.get('kernel'))
        if true is not None and tuple(true.shape[-2:]) != (k, k):
            raise ValueError(f"{self.batch['path']}: the true kernel is {true.shape[-1]}x{true.shape[-2]} but "
                             f'{self.name} at x{self.scale} estimates {k}x{k}; prepare the data with '
                             f'prepare_testset.py --protocol {self.section}')
        kernel, out = self.estimate(lr)
        out.setdefault('extras', {})
        kernel = kernel.to(self.device, torch.float32)
        if self.usrnet is not None:
            out['sr'] = usrnet_sr(self.usrnet, lr, kernel, self.scale,
                                  self.settings['usrnet_noise'] / 255.).clamp(0, 1)
        h, w = lr.shape[-2:]
        out.update(lr=lr, lr_clean=lr, est_kernel=kernel[None],
                   est_field=kernel[None, None, None].expand(1, h, w, k, k))
        for key in ('hr', 'kernel', 'kernel_field'):
            if key in self.batch:
                out[key] = self.batch[key]
        return out

    def reblur(self, hr, kernel):
        """``hr`` degraded with the estimated kernel (B, l, l) or its expanded field, FKP geometry."""
        k = kernel[:, 0, 0] if kernel.dim() == 5 else kernel
        return blur_downsample(hr, k[:, None].to(hr.dtype), self.scale).clamp(0, 1)

    def save_extra_outputs(self, out, folder, stem):
        """``kernels/<img>.mat`` (FKP's format) beside the engine's kernel picture."""
        save_kernel_mat(folder / 'kernels' / f'{stem}.mat', out['est_kernel'][0].cpu().numpy().astype('float32'))

    def networks(self):
        return {}
