"""The blind-SR recipe (``model: blind`` in the option files): one network, trained on LR
images made on the fly (or given), with the loss terms its capabilities admit.

The network declares what it does (``capabilities``, see ``models/contract.py``): MANet's
stage 1 (``MANet_s1``) estimates kernel fields; stage 2 (``MANet_s2``) takes the true kernel
and makes SR; stage 3 (``MANet_s3``) makes SR from an estimator it declares frozen; KULNet's
``BlindNet`` estimates a kernel and makes SR, both trained.
"""
import logging
import os

import torch

from ..archs.build import build_network
from ..degradation.pipeline import Degradation
from ..losses.terms import build_loss_terms, estimated_field, term_inputs
from ..registry import MODELS
from .base_model import BaseModel
from .contract import capabilities_of
from .lr_scheduler import build_scheduler

logger = logging.getLogger(__name__)


@MODELS.register('blind')
class BlindSRModel(BaseModel):
    def __init__(self, opt, device, dist=False):
        super().__init__(opt, device, dist)
        net = build_network(opt)
        self.capabilities = capabilities_of(net)
        self.scale = opt['scale']
        self._load_pretrained(net)
        for name in self.capabilities.frozen:
            for p in net.get_submodule(name).parameters():
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
        self.loss_terms = build_loss_terms(t, self.capabilities, self.scale, f"{self.opt['opt_path']}: train")
        if not self.loss_terms:
            raise ValueError(f"{self.opt['opt_path']}: no loss applies to {self.opt['network_G']['which_model_G']}: "
                             "set train.kernel_criterion/kernel_weight (stage 1) or "
                             "train.pixel_criterion/pixel_weight (stages 2, 3), or train.losses")
        for term in self.loss_terms:
            term.criterion.to(self.device)
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

    def _named(self, result):
        """The forward's results by the names the network declares (``capabilities.outputs``)."""
        result = result if isinstance(result, tuple) else (result,)
        return dict(zip(self.capabilities.outputs, result))

    def _run(self, net, lr):
        """Forward on the fed batch; the results by name."""
        if self.capabilities.takes_kernel:
            k = self.true_kernel()
            if k is None:
                raise ValueError(f"{self.opt['network_G']['which_model_G']} needs the true kernel, "
                                 'which LQ-only data does not have: use GT or GTLQ data with kernels')
            return self._named(net(lr, k))
        return self._named(net(lr))

    # ------------------------------------------------------------------ training
    def optimize_parameters(self, step):
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            outputs = self._run(self.net, self.batch['lr'])
        outputs = {k: v.float() for k, v in outputs.items()}
        logs, total = {}, 0
        for term in self.loss_terms:
            value = term.criterion(*term_inputs(term, outputs, self.batch, self.reblur))
            total = total + term.weight * value
            logs[term.name] = value.item()
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return logs

    # ------------------------------------------------------------------ inference
    supports_precision = True

    def _streams(self):
        """Whether the network's outputs stream per tile: (sr, LR field) or SR alone."""
        outputs = self.capabilities.outputs
        if (self.opt['samples'] or 1) > 1:      # N draws are averaged over the whole image (``test``)
            return False
        return outputs[0] == 'sr' and (len(outputs) == 1 or outputs[1] in ('est_field', 'given_kernel'))

    def _finish(self, outputs):
        out = {'lr': self.batch['lr'], 'lr_clean': self.batch['lr_clean']}
        caps = self.capabilities
        if caps.makes_sr and 'sr' in outputs:
            out['sr'] = outputs['sr'].float().clamp(0, 1)
        if caps.estimates_kernel and outputs:
            out['est_field'] = estimated_field(outputs, self.batch['lr']).float()
            if 'est_kernel' in outputs:
                out['est_kernel'] = outputs['est_kernel'].float()
        for key in ('hr', 'kernel', 'kernel_field'):
            if key in self.batch:
                out[key] = self.batch[key]
        return out

    def _tile_net(self, net):
        """``net`` as :func:`~blindsr.archs.tiling.tiled_forward` wants it: (SR, kernel field of the tile)."""
        def forward(lr, *kernel):
            named = self._named(net(lr, *kernel))
            return named['sr'], (estimated_field(named, lr) if self.capabilities.estimates_kernel else None)
        return forward

    def _test_forward(self, net, lr, tile, tile_overlap):
        """One forward of the test input (in tiles when ``tile``): 'sr' and the kernel estimate by name."""
        with self.inference_autocast():
            if tile:
                from ..archs.tiling import tiled_forward
                kernel = self.true_kernel() if self.capabilities.takes_kernel else None
                sr, field = tiled_forward(self._tile_net(net), lr, tile, tile_overlap, self.scale, kernel=kernel)
                return {'sr': sr, 'est_field': field}
            return self._run(net, lr)

    def _draws(self, net, lr, tile, tile_overlap, n):
        """``n`` forwards: the mean SR (of the clamped draws), its per-pixel std (None for n = 1) and the
        mean kernel estimate. Deviations are taken from the first draw, so identical draws give a std of 0."""
        keep = ('sr', 'est_kernel', 'est_field')
        first = sums = sq = None
        for _ in range(n):
            outputs = self._test_forward(net, lr, tile, tile_overlap)
            if 'sr' in outputs:
                outputs['sr'] = outputs['sr'].float().clamp(0, 1)
            if 'est_kernel' in outputs:
                outputs.pop('est_field', None)    # one kernel per image: average it, expand afterwards
            outputs = {k: v.float() for k, v in outputs.items() if k in keep and v is not None}
            if n == 1:
                return outputs, None
            if first is None:
                first, sums = outputs, {k: torch.zeros_like(v) for k, v in outputs.items()}
                sq = torch.zeros_like(outputs['sr']) if 'sr' in outputs else None
            for k, v in outputs.items():
                sums[k] += v - first[k]
            if sq is not None:
                sq += (outputs['sr'] - first['sr']) ** 2
        mean = {k: first[k] + sums[k] / n for k in first}
        std = None
        if sq is not None:
            d = sums['sr'] / n
            std = (sq / n - d * d).clamp_min(0).sqrt()
            if not std.any() and not self._warned_identical:
                self._warned_identical = True
                logger.warning('samples = %d, but the draws are identical (the network does not sample at test, '
                               'e.g. network_G.sample_latent: false): the uncertainty map is 0', n)
        return mean, std

    _warned_identical = False

    @torch.no_grad()
    def test(self, tile=None, tile_overlap=0):
        """Run on the fed batch; a :class:`~blindsr.models.contract.TestOutput`.

        With the option ``samples`` = N > 1 the network runs N times (a network that samples at test,
        such as KULNet, gives N draws): ``sr`` is the mean of the N SR images, ``uncertainty`` their
        per-pixel standard deviation, and the kernel estimate the mean of the N estimates.
        """
        net = self.bare(self.net)
        was_training = net.training
        net.eval()
        lr = self.batch['lr']
        outputs, std = self._draws(net, lr, tile, tile_overlap, self.opt['samples'] or 1)
        net.train(was_training)
        out = self._finish(outputs)
        if std is not None and 'sr' in out:
            out['uncertainty'] = std
        return out

    @torch.no_grad()
    def test_streamed(self, sinks, tile=None, tile_overlap=0):
        """As ``test``, but each tile's SR and field go to ``sinks`` and are dropped: memory stays
        that of one tile whatever the image size. Returns the TestOutput without ``sr``/``est_field``."""
        if not self._streams():
            return super().test_streamed(sinks, tile, tile_overlap)
        from ..archs.tiling import iter_tiles
        net = self.bare(self.net)
        was_training = net.training
        net.eval()
        kernel = self.true_kernel() if self.capabilities.takes_kernel else None

        def forward(*args):         # only the network runs in the chosen precision, not the sinks
            with self.inference_autocast():
                return net(*args)

        try:
            for t in iter_tiles(forward, self.batch['lr'], tile, tile_overlap, self.scale, kernel=kernel):
                if t.field is not None and not self.capabilities.estimates_kernel:
                    t.field = None          # MANet_s2 returns its input kernel: not an estimate
                for sink in sinks:
                    sink.add(t)
                del t               # the tile's SR and field go before the next tile's forward
        finally:
            net.train(was_training)
        return self._finish({})

    def kernel_basis(self):
        pca = getattr(self.bare(self.net), 'pca_matrix', None)
        if pca is None or not bool(pca.abs().sum()):
            return None
        return pca.detach().reshape(pca.shape[1], pca.shape[2]).float().cpu().numpy()

    def networks(self):
        return {'G': self.net}
