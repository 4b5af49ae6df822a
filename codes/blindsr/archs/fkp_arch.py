"""FKP: a RealNVP-style normalizing flow that serves as a prior over blur kernels.

The module tree (``net.<i>.s_net.<j>``, buffers ``mask``/``running_*``, top-level buffers
``kernel_size``/``alpha``/``normalization``) mirrors the authors' checkpoints so that the released
``FKP_x{2,3,4}.pt`` load with ``strict=True``.

Reference: Liang et al., "Flow-based Kernel Prior with Application to Blind Super-Resolution",
CVPR 2021.
"""
import copy
import math

import torch
import torch.nn as nn

from blindsr.registry import ARCHS

__all__ = ['AffineCoupling', 'FlowBatchNorm', 'FlowSequential', 'KernelPrior',
           'fkp_kernel_size', 'fkp_hidden_size', 'load_kernel_prior']


def fkp_kernel_size(scale):
    """Kernel side used by FKP/DIP-FKP at ``scale``: 11/15/19/21 for x2/x3/x4/x8."""
    return min(4 * int(scale) + 3, 21)


def fkp_hidden_size(scale):
    """Coupling-MLP width of the released flows: 15/20/25 for x2/x3/x4."""
    return min(5 * int(scale) + 5, 25)


class AffineCoupling(nn.Module):
    """Masked affine coupling: the masked half conditions a scale and a shift of the other half.

    ``s_net`` (Tanh) and ``t_net`` (ReLU) are MLPs ``d -> h -> (h -> h) * n_hidden -> d``;
    ``t_net`` starts as an exact copy of ``s_net`` (as in the authors' code, so that building a
    prior consumes the global RNG exactly as theirs does, which DIP-FKP's seeded latent relies on).
    """

    def __init__(self, input_size, hidden_size, n_hidden, mask):
        super().__init__()
        self.register_buffer('mask', mask.clone().float())
        layers = [nn.Linear(input_size, hidden_size)]
        for _ in range(n_hidden):
            layers += [nn.Tanh(), nn.Linear(hidden_size, hidden_size)]
        layers += [nn.Tanh(), nn.Linear(hidden_size, input_size)]
        self.s_net = nn.Sequential(*layers)
        self.t_net = copy.deepcopy(self.s_net)
        for i, layer in enumerate(self.t_net):
            if not isinstance(layer, nn.Linear):
                self.t_net[i] = nn.ReLU()

    def forward(self, x):
        """Data -> latent. Returns ``(u, log|det du/dx|)`` summed over dim 1."""
        masked = x * self.mask
        log_s = self.s_net(masked)
        t = self.t_net(masked)
        u = masked + (1 - self.mask) * (x - t) * torch.exp(-log_s)
        return u, (-(1 - self.mask) * log_s).sum(1)

    def inverse(self, u):
        """Latent -> data. Returns ``(x, log|det dx/du|)`` summed over dim 1."""
        masked = u * self.mask
        log_s = self.s_net(masked)
        t = self.t_net(masked)
        x = masked + (1 - self.mask) * (u * log_s.exp() + t)
        return x, ((1 - self.mask) * log_s).sum(1)


class FlowBatchNorm(nn.Module):
    """Invertible batch normalisation with a log-determinant (not ``nn.BatchNorm1d``).

    Training mode normalises with the batch mean and the *unbiased* batch variance and updates
    the running statistics with ``running <- momentum * running + (1 - momentum) * batch``.
    """

    def __init__(self, input_size, momentum=0.9, eps=1e-5):
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.log_gamma = nn.Parameter(torch.zeros(input_size))
        self.beta = nn.Parameter(torch.zeros(input_size))
        self.register_buffer('running_mean', torch.zeros(input_size))
        self.register_buffer('running_var', torch.ones(input_size))
        self._batch_stats = None

    def _stats(self, x=None):
        if not self.training:
            return self.running_mean, self.running_var
        if x is None:
            if self._batch_stats is None:
                raise RuntimeError('FlowBatchNorm.inverse in training mode needs a preceding forward')
            return self._batch_stats
        mean, var = x.mean(0), x.var(0)
        with torch.no_grad():
            self.running_mean.mul_(self.momentum).add_(mean.detach() * (1 - self.momentum))
            self.running_var.mul_(self.momentum).add_(var.detach() * (1 - self.momentum))
        self._batch_stats = (mean, var)
        return mean, var

    def forward(self, x):
        mean, var = self._stats(x)
        y = self.log_gamma.exp() * ((x - mean) / torch.sqrt(var + self.eps)) + self.beta
        return y, (self.log_gamma - 0.5 * torch.log(var + self.eps)).sum()

    def inverse(self, y):
        mean, var = self._stats()
        x = (y - self.beta) * torch.exp(-self.log_gamma) * torch.sqrt(var + self.eps) + mean
        return x, (0.5 * torch.log(var + self.eps) - self.log_gamma).sum()


class FlowSequential(nn.Sequential):
    """Chain of flow layers; log-determinants add up."""

    def forward(self, x):
        total = 0
        for module in self:
            x, logdet = module(x)
            total = total + logdet
        return x, total

    def inverse(self, u):
        total = 0
        for module in reversed(self):
            u, logdet = module.inverse(u)
            total = total + logdet
        return u, total


@ARCHS.register()
class KernelPrior(nn.Module):
    """Flow-based kernel prior (FKP): a bijection between kernels (in logit space) and N(0, I).

    Args:
        n_blocks (int): coupling layers (each followed by a FlowBatchNorm). Default 5.
        input_size (int): ``d = k * k``. Default 121 (x2).
        hidden_size (int): coupling-MLP width. Default 15 (x2).
        n_hidden (int): hidden ``h -> h`` layers per MLP. Default 1.
        kernel_size (int): ``k``; stored as a buffer (the checkpoints fill it). Default 0.
        alpha (float): logit squeeze ``v = alpha + (1 - 2 alpha) * value``. Default 0 (checkpoint).
        normalization (float): pixel scale (max of the sharpest training kernel + 0.01).
        batch_norm (bool): interleave FlowBatchNorm layers. Default True.

    Shapes: flow inputs/outputs are ``(..., d)``; kernels are ``(B, 1, k, k)``.
    """

    def __init__(self, n_blocks=5, input_size=121, hidden_size=15, n_hidden=1, kernel_size=0, alpha=0.,
                 normalization=0., batch_norm=True):
        super().__init__()
        self.register_buffer('kernel_size', torch.ones(1) * kernel_size)
        self.register_buffer('alpha', torch.ones(1) * alpha)
        self.register_buffer('normalization', torch.ones(1) * normalization)
        self.register_buffer('base_dist_mean', torch.zeros(input_size))
        self.register_buffer('base_dist_var', torch.ones(input_size))

        modules = []
        mask = torch.arange(input_size).float() % 2
        for _ in range(n_blocks):
            modules.append(AffineCoupling(input_size, hidden_size, n_hidden, mask))
            mask = 1 - mask
            if batch_norm:
                modules.append(FlowBatchNorm(input_size))
        self.net = FlowSequential(*modules)
        self.input_size = input_size
        self.arch_kwargs = dict(n_blocks=n_blocks, input_size=input_size, hidden_size=hidden_size,
                                n_hidden=n_hidden, batch_norm=batch_norm)

    @classmethod
    def for_scale(cls, scale, **kwargs):
        """The architecture of the released ``FKP_x<scale>.pt`` (buffers still to be loaded)."""
        k = fkp_kernel_size(scale)
        return cls(n_blocks=5, input_size=k * k, hidden_size=fkp_hidden_size(scale), n_hidden=1, **kwargs)

    @property
    def k(self):
        return int(round(float(self.kernel_size)))

    def forward(self, x):
        """Data -> latent: ``(u, sum log|det|)``."""
        return self.net(x)

    def inverse(self, u):
        """Latent -> data (logit space): ``(x, sum log|det|)``."""
        return self.net.inverse(u)

    def log_prob(self, x):
        """``(log p(x), u)`` for flow-space data ``x`` of shape (B, d)."""
        u, logdet = self.forward(x)
        base = -0.5 * (u - self.base_dist_mean).pow(2) / self.base_dist_var.pow(2) - torch.log(self.base_dist_var) \
            - 0.5 * math.log(2 * math.pi)
        return base.sum(1) + logdet, u

    def post_process(self, x):
        """Flow output -> kernel (B, 1, k, k): inverse logit, un-squeeze, un-normalise.

        Not clamped or renormalised: the authors use this kernel as is (sums of 0.99-1.06).
        """
        k = self.k
        x = x.reshape(x.shape[0], 1, k, k)
        return (torch.sigmoid(x) - self.alpha) / (1 - 2 * self.alpha) * self.normalization

    def pre_process(self, kernel, dequant_noise=None):
        """Kernel (B, [1,] k, k) -> flow data (B, d): clamp, normalise, [+ noise], squeeze, logit.

        ``dequant_noise`` (same shape as the normalised kernel, e.g. U[0,1)/720) is added only
        for training/validation, as in the authors' data loader.
        """
        x = torch.clamp(kernel, min=0) / self.normalization
        if dequant_noise is not None:
            x = x + dequant_noise
        v = self.alpha + (1 - 2 * self.alpha) * x
        return torch.log(v / (1 - v)).reshape(kernel.shape[0], -1).float()

    def kernel_from_latent(self, z):
        """``post_process(inverse(z))`` for a latent of shape (..., d) -> (B, 1, k, k)."""
        x, _ = self.inverse(z)
        return self.post_process(x)


def load_kernel_prior(path, scale=None, device='cpu', freeze=True):
    """Build a ``KernelPrior`` and load a (released or own) checkpoint with strict key matching.

    Accepts ``{'model_state': state_dict}`` (the authors' files) or a bare state dict. The
    architecture is inferred from the tensors, so ``scale`` is only a cross-check.
    Returns the prior in eval mode; with ``freeze`` its parameters do not require grad.
    """
    state = torch.load(path, map_location=device, weights_only=True)   # the files hold CUDA tensors
    if 'model_state' in state:
        state = state['model_state']
    d = state['base_dist_mean'].numel()
    hidden = state['net.0.s_net.0.weight'].shape[0]
    n_blocks = len({key.split('.')[1] for key in state if key.startswith('net.') and key.endswith('.mask')})
    n_hidden = len([key for key in state if key.startswith('net.0.s_net.') and key.endswith('.weight')]) - 2
    batch_norm = 'net.1.log_gamma' in state
    if scale is not None and fkp_kernel_size(scale) ** 2 != d:
        raise ValueError(f'{path}: kernel of {d} pixels does not match scale x{scale} '
                         f'(expected {fkp_kernel_size(scale)}^2)')
    prior = KernelPrior(n_blocks=n_blocks, input_size=d, hidden_size=hidden, n_hidden=n_hidden,
                        batch_norm=batch_norm)
    prior.load_state_dict(state, strict=True)
    prior.to(device).eval()
    if freeze:
        for p in prior.parameters():
            p.requires_grad_(False)
    return prior
