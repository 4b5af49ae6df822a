"""Training an FKP kernel prior (``model: fkp``): a normalizing flow fitted by maximum likelihood.

Data come from ``mode: kernels`` (FKP's random kernels, in flow space); the loss is the mean
negative log-likelihood; validation is the mean log-likelihood of the fixed validation grid
(eval mode, running BatchNorm statistics), and the best-scoring weights are kept as
``models/best_G.pth`` because the authors pick their checkpoint that way. Saved weights are the
flow's plain state dict: they load strictly into ``KernelPrior`` (``load_kernel_prior``) and
serve as ``path.pretrain_model_K`` of DIP-FKP / KernelGAN-FKP.
"""
import logging
import math

import torch

from ..archs.fkp_arch import KernelPrior, fkp_hidden_size, fkp_kernel_size
from ..data.kernels_dataset import KernelDataset
from ..fkp.kernels import fkp_normalization
from ..fkp.prior_training import ALPHA, build_prior_optimizer, nll_loss, validation_log_likelihood
from ..options.schema import Key, register_section
from ..registry import MODELS
from .base_model import BaseModel
from .lr_scheduler import build_scheduler

logger = logging.getLogger(__name__)

register_section('fkp', {
    'val_limit': Key(int, min=1, help='validation: evenly spaced subset of the grid (null: all of it; x4: 16,384 kernels)'),
    'save_best': Key(bool, True, help='keep the weights of the best validation log-likelihood as models/best_G.pth'),
})

# the flow's architecture keys an option file may set; the rest follows from the scale
_ARCH_KEYS = {'n_blocks': 5, 'n_hidden': 1, 'batch_norm': True}
_DERIVED_KEYS = ('input_size', 'kernel_size', 'alpha', 'normalization')


def check_fkp_kernel_size(opt, k, what):
    """FKP's kernel sizes are fixed by the scale; make the option file say the same."""
    if opt['kernel_size'] != k:
        raise ValueError(f"kernel_size is {opt['kernel_size']}, but {what} at x{opt['scale']} are {k}x{k}: "
                         f'set kernel_size: {k}')


def build_kernel_prior(opt):
    """An untrained ``KernelPrior`` for ``opt['scale']``: the released sizes unless ``network_G`` says
    otherwise (``n_blocks``, ``hidden_size``, ``n_hidden``, ``batch_norm``)."""
    net = opt['network_G']
    if net['which_model_G'] != 'KernelPrior':
        raise ValueError(f"model fkp trains a KernelPrior; network_G.which_model_G is {net['which_model_G']!r}")
    fixed = [key for key in _DERIVED_KEYS if net.get(key) is not None]
    if fixed:
        raise ValueError(f'network_G.{fixed[0]} follows from the scale in FKP; remove it')
    scale = opt['scale']
    k = fkp_kernel_size(scale)
    kwargs = {key: net[key] if net.get(key) is not None else default for key, default in _ARCH_KEYS.items()}
    hidden = net.get('hidden_size') or fkp_hidden_size(scale)
    return KernelPrior(input_size=k * k, hidden_size=hidden, kernel_size=k, alpha=ALPHA,
                       normalization=fkp_normalization(scale), **kwargs)


@MODELS.register('fkp')
class FKPPriorModel(BaseModel):
    def __init__(self, opt, device, dist=False):
        super().__init__(opt, device, dist)
        if dist:
            raise ValueError('model fkp trains in one process (a 0.2M-parameter flow); run it without --launcher')
        self.scale = opt['scale']
        check_fkp_kernel_size(opt, fkp_kernel_size(self.scale), 'FKP kernels')
        self.prior = build_kernel_prior(opt).to(device)
        path = opt['path']['pretrain_model_G']
        if path:
            logger.info('Loading kernel prior from %s', path)
            state = torch.load(path, map_location=device, weights_only=True)
            self.prior.load_state_dict(state.get('model_state', state), strict=opt['path']['strict_load'])
        self.best = -math.inf
        if self.is_train:
            for phase in ('train', 'val'):
                mode = opt['datasets'].get(phase, {}).get('mode', 'kernels')
                if mode != 'kernels':
                    raise ValueError(f"model fkp learns from kernels: set datasets.{phase}.mode: kernels (got {mode})")
            t = opt['train']
            self.optimizer = build_prior_optimizer(self.prior, lr=t['lr_G'], weight_decay=t['weight_decay_G'] or 0)
            self.optimizers.append(self.optimizer)
            self.schedulers.append(build_scheduler(self.optimizer, t))
            self.prior.train()

    # ------------------------------------------------------------------ training
    def feed_data(self, batch, generator=None, train=True):
        self.x = batch['flow_data'].to(self.device, torch.float32)

    def optimize_parameters(self, step):
        self.prior.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = nll_loss(self.prior, self.x)
        if not torch.isfinite(loss):
            raise ValueError(f'the negative log-likelihood is not finite at iteration {step}; lower train.lr_G')
        loss.backward()
        self.optimizer.step()
        return {'nll': loss.item()}

    # ------------------------------------------------------------------ validation
    def validation_data(self, opt):
        """The validation grid of ``datasets.val`` (built once; ``fkp.val_limit`` subsets it)."""
        if self._val_data is None:
            ds = KernelDataset(opt['datasets']['val'], val_limit=opt['fkp']['val_limit'], val_seed=opt['manual_seed'])
            self._val_data = ds.data
        return self._val_data

    def validate(self, opt, it):
        """Mean log-likelihood of the validation grid; keeps ``best_G.pth`` when it improves."""
        ll = validation_log_likelihood(self.prior, self.validation_data(opt))
        if ll > self.best:
            self.best = ll
            if opt['fkp']['save_best']:
                self.save_network(self.prior, 'G', 'best')
                logger.info('best validation log-likelihood so far (%.2f at iteration %d): models/best_G.pth', ll, it)
        return [{'log_likelihood': ll}]

    def test(self, tile=None, tile_overlap=0):
        raise ValueError('model fkp only trains a kernel prior; test it through model dipfkp or kernelganfkp')

    # ------------------------------------------------------------------ checkpoints
    def networks(self):
        return {'G': self.prior}

    def training_state(self):
        return dict(super().training_state(), best_log_likelihood=self.best)

    def resume_training(self, state):
        super().resume_training(state)
        self.best = state.get('best_log_likelihood', -math.inf)
