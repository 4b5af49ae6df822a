"""What every model recipe shares: device, networks, optimizers, schedulers, checkpoints."""
import logging
from pathlib import Path

import torch
import yaml
from torch.nn.parallel import DistributedDataParallel

from ..utils.checkpoint_io import load_state_dict
from ..utils.files import atomic_torch_save, atomic_write_text

logger = logging.getLogger(__name__)


NETWORK_RECORD_KEYS = ('model', 'scale', 'kernel_size', 'code_length', 'network_G')


def network_record(opt):
    """The options that define a saved network (the PCA matrix travels inside the weights)."""
    return {k: opt[k] for k in NETWORK_RECORD_KEYS}


class BaseModel:
    """A recipe: networks + losses + optimizers + schedulers for one method.

    Subclasses implement ``feed_data``, ``optimize_parameters`` and ``test``; the generic
    loop in ``engine/trainer.py`` and ``test.py`` only call those and the methods here.
    """

    def __init__(self, opt, device, dist=False):
        self.opt = opt
        self.device = device
        self.dist = dist
        self.is_train = opt['is_train']
        self.optimizers = []
        self.schedulers = []
        self.use_amp = bool(opt['amp']) and device.type == 'cuda'
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.use_amp)

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
