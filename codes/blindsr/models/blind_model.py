"""The blind-SR recipe of MANet's three stages (``model: blind`` in the option files).

Stage 1 (``MANet_s1``) learns the kernel field; stage 2 (``MANet_s2``) learns SR given the
true kernel; stage 3 (``MANet_s3``) learns SR from the frozen estimator's field. Which
stage it is follows from the network: whether it estimates kernels and whether it
takes one.
"""
import inspect
import logging
import os

import torch

from ..archs.build import build_network
from ..degradation.blur import blur_sv_subsample, blur_subsample
from ..degradation.noise import quantize
from ..degradation.pipeline import Degradation
from ..losses.kernel_loss import KernelLoss
from ..losses.pixel_loss import build_loss
from ..registry import MODELS
from .base_model import BaseModel
from .lr_scheduler import build_scheduler

logger = logging.getLogger(__name__)


@MODELS.register('blind')
class BlindSRModel(BaseModel):
    def __init__(self, opt, device, dist=False):
        super().__init__(opt, device, dist)
        net = build_network(opt)
        self.takes_kernel = 'kernel' in inspect.signature(net.forward).parameters
        self.estimates_kernel = hasattr(net, 'kernel_estimation')
        self.makes_sr = getattr(net, 'makes_sr', True)
        self.scale = opt['scale']
        self._load_pretrained(net)
        if self.estimates_kernel and self.makes_sr:
            # stage 3: the estimator stays frozen (the authors pass it no gradient)
            for p in net.kernel_estimation.parameters():
                p.requires_grad_(False)
        self.net = self.wrap(net)
        # test files carry sig_min = sig_max = 0: only a training run needs random kernels
        self.degrade_train = (Degradation.from_options(opt, train=True, block_size=opt['sv_block_size'])
                              if self.is_train else None)
        self.degrade_test = Degradation.from_options(opt, train=False, block_size=opt['sv_block_size'])
        if self.is_train:
            self._setup_training(opt['train'])

    # ------------------------------------------------------------------ set-up
    def _load_pretrained(self, net):
        paths = self.opt['path']
        strict = paths['strict_load']
        for key in ('pretrain_model_K', 'pretrain_model_G'):
            if paths[key] and not os.path.isfile(paths[key]):
                raise FileNotFoundError(f"path.{key}: {paths[key]} not found; train that stage first or fix the path")
        if paths['pretrain_model_K']:
            # stage-1 weights (keys ``kernel_estimation.*``) into a stage-3 net
            logger.info('Loading kernel estimator from %s', paths['pretrain_model_K'])
            self.load_network(paths['pretrain_model_K'], net, strict=strict)
        if paths['pretrain_model_G']:
            logger.info('Loading network from %s', paths['pretrain_model_G'])
            self.load_network(paths['pretrain_model_G'], net, strict=strict)

    def _setup_training(self, t):
        self.losses = {}
        if t['kernel_criterion'] and t['kernel_weight'] and self.estimates_kernel and not self.makes_sr:
            self.losses['l_ker'] = (t['kernel_weight'], KernelLoss(self.scale, t['kernel_criterion']))
        if t['pixel_criterion'] and t['pixel_weight'] and self.makes_sr:
            self.losses['l_pix'] = (t['pixel_weight'], build_loss(t['pixel_criterion']).to(self.device))
        if t['pixel_criterion_lr'] and t['pixel_weight_lr'] and self.estimates_kernel:
            self.losses['l_pix_lr'] = (t['pixel_weight_lr'], build_loss(t['pixel_criterion_lr']).to(self.device))
        if not self.losses:
            raise ValueError(f"{self.opt['opt_path']}: no loss applies to {self.opt['network_G']['which_model_G']}: "
                             "set train.kernel_criterion/kernel_weight (stage 1) or "
                             "train.pixel_criterion/pixel_weight (stages 2, 3)")
        params = [p for p in self.net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=t['lr_G'], betas=(t['beta1'], t['beta2']),
                                          weight_decay=t['weight_decay_G'] or 0)
        self.optimizers.append(self.optimizer)
        self.schedulers.append(build_scheduler(self.optimizer, t))
        self.net.train()

    # ------------------------------------------------------------------ data
    def feed_data(self, batch, generator=None, train=True):
        """Take a batch; make its LR on this device when only the HR is given."""
        self.batch = {}
        hr = batch.get('GT')
        if hr is not None:
            hr = hr.to(self.device, non_blocking=True)
            self.batch['hr'] = hr
        if 'LQ' in batch:
            self.batch['lr'] = batch['LQ'].to(self.device, non_blocking=True)
            self.batch['lr_clean'] = self.batch['lr']
            for key in ('kernel', 'kernel_field'):
                if key in batch:
                    self.batch[key] = batch[key].to(self.device)
        else:
            deg = self.degrade_train if train else self.degrade_test
            out = deg(hr, generator=generator)
            self.batch.update(lr=out.lr, lr_clean=out.lr_clean)
            if out.kernel is not None:
                self.batch['kernel'] = out.kernel
            if out.kernel_field is not None:
                self.batch['kernel_field'] = out.kernel_field

    def true_kernel(self):
        return self.batch.get('kernel_field', self.batch.get('kernel'))

    def _run(self, net, lr):
        if self.takes_kernel:
            k = self.true_kernel()
            if k is None:
                raise ValueError(f"{self.opt['network_G']['which_model_G']} needs the true kernel, "
                                 'which LQ-only data does not have: use GT or GTLQ data with kernels')
            return net(lr, k)
        return net(lr)

    # ------------------------------------------------------------------ training
    def optimize_parameters(self, step):
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            sr, field = self._run(self.net, self.batch['lr'])
        sr, field = sr.float(), field.float() if field is not None else None
        logs, total = {}, 0
        for name, (weight, crit) in self.losses.items():
            if name == 'l_ker':
                value = crit(field, self.true_kernel())
            elif name == 'l_pix':
                value = crit(sr, self.batch['hr'])
            else:
                value = crit(self.reblur(self.batch['hr'], field, quantized=False), self.batch['lr_clean'])
            total = total + weight * value
            logs[name] = value.item()
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return logs

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def test(self, tile=None, tile_overlap=0):
        """Run on the fed batch; return SR (B,3,H,W) and the LR-resolution kernel field."""
        net = self.bare(self.net)
        was_training = net.training
        net.eval()
        lr = self.batch['lr']
        with torch.autocast(self.device.type, enabled=self.use_amp):
            if tile:
                from ..archs.tiling import tiled_forward
                kernel = self.true_kernel() if self.takes_kernel else None
                sr, field = tiled_forward(net, lr, tile, tile_overlap, self.scale, kernel=kernel)
            else:
                sr, field = self._run(net, lr)
        net.train(was_training)
        out = {'sr': sr.float().clamp(0, 1), 'lr': lr, 'lr_clean': self.batch['lr_clean']}
        if self.estimates_kernel:
            out['est_field'] = field.float()
        if not self.makes_sr:
            out.pop('sr')
        for key in ('hr', 'kernel', 'kernel_field'):
            if key in self.batch:
                out[key] = self.batch[key]
        return out

    def reblur(self, hr, kernel, quantized=True):
        """Degrade ``hr`` again with given kernels: a field (B,h,w,l,l) or SI kernels (B,l,l).

        Used for the LR-consistency loss and metric; works in bounded memory for fields.
        """
        lr = blur_sv_subsample(hr, kernel, self.scale) if kernel.dim() == 5 else blur_subsample(hr, kernel, self.scale)
        return quantize(lr) if quantized else lr

    def networks(self):
        return {'G': self.net}
