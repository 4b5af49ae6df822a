"""What every model recipe shares: device, networks, optimizers, schedulers, checkpoints."""
import logging
from pathlib import Path

import torch
import yaml
from torch.nn.parallel import DistributedDataParallel

from ..degradation.blur import blur_subsample, blur_sv_subsample
from ..degradation.noise import quantize
from ..utils.checkpoint_io import load_state_dict
from .contract import Capabilities
from ..utils.files import atomic_torch_save, atomic_write_text

logger = logging.getLogger(__name__)


NETWORK_RECORD_KEYS = ('model', 'scale', 'kernel_size', 'code_length', 'network_G')


def network_record(opt):
    """The options that define a saved network (the PCA matrix travels inside the weights)."""
    return {k: opt[k] for k in NETWORK_RECORD_KEYS}


class BaseModel:
    """A recipe: networks + losses + optimizers + schedulers for one method.

    The engine (``engine/trainer.py``, ``engine/validation.py``, ``engine/tester.py``,
    ``inference/runner.py``) talks to a model only through the methods of this class:

    * ``capabilities`` (a :class:`~blindsr.models.contract.Capabilities`): what it does;
    * ``feed_data(batch, generator, train)``, ``optimize_parameters(step) -> {loss name: value}``,
      ``test(tile, tile_overlap) -> TestOutput`` (see ``models/contract.py``): subclasses implement;
    * ``test_streamed(sinks, tile, tile_overlap)``: ``test`` with the SR and the kernel field handed to
      per-tile sinks (default: ``test``, then its outputs as one tile); ``set_precision``;
    * hooks with defaults: ``validate`` (the standard per-image validation), ``extra_metrics``
      (none), ``save_extra_outputs`` (nothing), ``reblur`` (the MANet degradation geometry),
      ``networks`` (none), ``training_state`` / ``resume_training`` (optimizers, schedulers, AMP).
    """

    capabilities = Capabilities()
    #: whether ``test`` runs under :meth:`inference_autocast` (so ``--precision`` applies)
    supports_precision = False

    def __init__(self, opt, device, dist=False):
        self.opt = opt
        self.device = device
        self.dist = dist
        self.is_train = opt['is_train']
        self.optimizers = []
        self.schedulers = []
        # mixed precision: fp16 autocast with a grad scaler on CUDA; on CPU bf16 autocast (no scaler) only
        # when asked for, as it is fast only on CPUs with AVX512-BF16 or AMX
        cpu_bf16 = device.type == 'cpu' and bool(opt['amp_cpu_bf16'])
        self.use_amp = bool(opt['amp']) and (device.type == 'cuda' or cpu_bf16)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.use_amp and device.type == 'cuda')
        self.precision = None      # None: the options' ``amp`` (fp16 autocast on CUDA); see set_precision
        self._val_data = None      # see validation_data

    def set_precision(self, precision):
        """Inference precision ``fp32``, ``bf16`` or ``fp16`` (``utils/precision.py``); ValueError if
        this model or device cannot run it."""
        from ..utils.precision import check_precision
        check_precision(precision, self.device)
        if precision != 'fp32' and not self.supports_precision:
            raise ValueError(f'{type(self).__name__} runs in fp32 only; --precision {precision} does not apply')
        self.precision = precision

    def inference_autocast(self):
        """The autocast context of ``test``: the chosen precision, else the options' ``amp``."""
        from ..utils.precision import autocast
        if self.precision is None:
            return torch.autocast(self.device.type, enabled=self.use_amp)
        return autocast(self.device, self.precision)

    # ------------------------------------------------------------------ what subclasses implement
    def feed_data(self, batch, generator=None, train=True):
        raise NotImplementedError(f'{type(self).__name__} does not take data')

    def optimize_parameters(self, step):
        raise NotImplementedError(f'{type(self).__name__} does not train')

    def test(self, tile=None, tile_overlap=0):
        raise NotImplementedError(f'{type(self).__name__} does not test')

    def test_streamed(self, sinks, tile=None, tile_overlap=0):
        """``test`` whose SR and kernel field go to ``sinks`` (``engine/tile_sinks.py``) tile by tile.

        Returns the :class:`TestOutput` without the per-tile keys a recipe streams (``sr``,
        ``est_field``). This default runs ``test`` and feeds its outputs as one tile: recipes whose
        whole outputs are small (one kernel per image) need nothing more.
        """
        from ..engine.tile_sinks import feed_whole
        out = self.test(tile=tile, tile_overlap=tile_overlap)
        feed_whole(sinks, out, self.opt['scale'])
        return out

    # ------------------------------------------------------------------ engine hooks (defaults)
    def true_kernel(self):
        """The fed batch's true kernel (B, l, l) or field (B, h, w, l, l), or None."""
        batch = getattr(self, 'batch', None) or {}
        return batch.get('kernel_field', batch.get('kernel'))

    def validation_data(self, opt):
        """The data of ``datasets.val``, built once (the trainer calls this at start, as a check)."""
        if self._val_data is None:
            from ..engine.validation import build_eval_loader
            self._val_data = build_eval_loader(opt['datasets']['val'])
        return self._val_data

    def validate(self, opt, it):
        """Rows of validation metrics at iteration ``it``: the standard per-image loop."""
        from ..engine.validation import validate
        return validate(self, opt, it, self.validation_data(opt))

    def kernel_basis(self):
        """The PCA basis (l*l, k) the network codes kernels with (for compact kernel files), or None."""
        return None

    def extra_metrics(self, out):
        """Method-specific metrics of one image's :class:`TestOutput`, beside the standard ones."""
        return {}

    def save_extra_outputs(self, out, folder, stem):
        """Method-specific files for one test image, under ``folder`` (the set's results folder)."""

    def reblur(self, hr, kernel, quantized=True):
        """Degrade ``hr`` again with given kernels: a field (B,h,w,l,l) or SI kernels (B,l,l).

        Used for the LR-consistency loss and metric; works in bounded memory for fields.
        """
        s = self.opt['scale']
        lr = blur_sv_subsample(hr, kernel, s) if kernel.dim() == 5 else blur_subsample(hr, kernel, s)
        return quantize(lr) if quantized else lr

    def networks(self):
        """Label -> network saved in checkpoints (``models/<iter>_<label>.pth``)."""
        return {}

    # ------------------------------------------------------------------ networks
    def wrap(self, net):
        """Move to the device and, in distributed runs, wrap in DDP."""
        net = net.to(self.device)
        if self.dist:
            ids = [self.device.index] if self.device.type == 'cuda' else None
            net = DistributedDataParallel(net, device_ids=ids, find_unused_parameters=True)
        return net

    @staticmethod
    def bare(net):
        return net.module if isinstance(net, DistributedDataParallel) else net

    def load_network(self, path, net, strict=True, prefix=None):
        """Load weights (authors' or ours) into ``net`` or into its submodule ``prefix``."""
        target = self.bare(net)
        if prefix:
            target = getattr(target, prefix)
        load_state_dict(target, path, strict=strict)

    def save_network(self, net, label, iter_label):
        """Weights as a plain state_dict (the authors' layout) plus ``<same>.yml`` describing them.

        The YAML beside the weights records what is needed to rebuild the network without the
        option file (``infer.py``): model, ``network_G`` and the top-level keys networks take.
        """
        path = Path(self.opt['path']['models']) / f'{iter_label}_{label}.pth'
        state = {k: v.detach().cpu() for k, v in self.bare(net).state_dict().items()}
        atomic_torch_save(state, path)
        atomic_write_text(yaml.safe_dump(network_record(self.opt), sort_keys=False), path.with_suffix('.yml'))
        return path

    # ------------------------------------------------------------------ learning rate
    def update_learning_rate(self):
        """Step every scheduler once (called at the start of each iteration, as the authors do)."""
        for s in self.schedulers:
            s.step()

    def get_current_learning_rate(self):
        return self.optimizers[0].param_groups[0]['lr']

    # ------------------------------------------------------------------ training state
    def training_state(self):
        return {
            'optimizers': [o.state_dict() for o in self.optimizers],
            'schedulers': [s.state_dict() for s in self.schedulers],
            'scaler': self.scaler.state_dict(),
        }

    def resume_training(self, state):
        if len(state['optimizers']) != len(self.optimizers) or len(state['schedulers']) != len(self.schedulers):
            raise ValueError('the training state does not match this model (optimizer/scheduler count differs)')
        for o, s in zip(self.optimizers, state['optimizers']):
            o.load_state_dict(s)
        for sch, s in zip(self.schedulers, state['schedulers']):
            sch.load_state_dict(s)
        self.scaler.load_state_dict(state['scaler'])
