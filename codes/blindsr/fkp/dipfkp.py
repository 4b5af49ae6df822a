"""DIP-FKP: per-image blind SR by jointly fitting a deep-image-prior generator and an FKP latent.

The HR estimate ``sr = DIP(noise)`` and the kernel ``k = FKP(z)`` are optimised so that
``blur_downsample(sr, k, s)`` reproduces the LR image. The latent lives on a sphere and is
frozen for the first iterations, so that the DIP first learns a meaningful image. All schedule
constants default to the authors' values (spec ``fkp.md`` (c)).
"""
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from blindsr.archs.dip_arch import DIPSkip
from blindsr.archs.fkp_arch import KernelPrior, fkp_kernel_size
from blindsr.fkp.early_stopping import EarlyStopper
from blindsr.fkp.ops import blur_downsample
from blindsr.fkp.optim import SphericalAdam
from blindsr.fkp.ssim import SSIMToTarget

logger = logging.getLogger(__name__)

__all__ = ['DIPFKP', 'DIPFKPResult', 'seeded_latent', 'seeded_dip']


def seeded_latent(prior, seed, shape=(1, 1)):
    """The authors' initial latent for ``seed``: drawn right after building a fresh random prior.

    Their code seeds the global RNG, constructs the (randomly initialised) flow, loads the
    checkpoint and then samples, so the draw depends on the flow's initialisation; we replay that
    on a forked CPU RNG (the global RNG state is left untouched).
    """
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)   # CPU only: no side effect on CUDA RNGs
        KernelPrior(**prior.arch_kwargs)
        return torch.randn(*shape, prior.input_size)


def seeded_dip(channels, height, width, seed, noise_scale=0.1, **dip_kwargs):
    """``(noise, net)`` as the authors build them: U[0,1) * 0.1 after ``manual_seed``, then the net."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)   # CPU only: no side effect on CUDA RNGs
        noise = torch.zeros(1, channels, height, width).uniform_() * noise_scale
        net = DIPSkip(in_channels=channels, out_channels=3, **dip_kwargs)
    return noise, net


@dataclass
class DIPFKPResult:
    """Outcome of one DIP-FKP run.

    ``kernel`` (k, k) float32 and ``sr`` (1, 3, sH, sW) come from the last forward pass (before
    the last update), as in the authors' code. ``history`` holds per-iteration ``loss`` and
    ``lr_mse`` (and ``latent`` if recorded).
    """
    kernel: np.ndarray
    sr: torch.Tensor
    history: dict = field(default_factory=dict)
    iterations: int = 0
    stopped_early: bool = False


class DIPFKP:
    """DIP-FKP kernel estimation for one LR image.

    Args:
        scale (int): SR factor (2, 3, 4); the prior must model ``fkp_kernel_size(scale)`` kernels.
        kernel_prior (KernelPrior): the trained flow; ``run`` puts it in eval mode with frozen weights.
        max_iters (int): iterations. Default 1000.
        dip_lr (float): Adam learning rate of the DIP. Default 5e-3.
        kp_lr (float): Adam learning rate of the latent. Default 0.5.
        latent_radius (float): sphere radius of the latent; default ``k - 1``.
        freeze_latent_iters (int): the latent gets no gradient for iterations ``1..this``
            (authors: 76, it moves from iteration 77 on). Default 76.
        ssim_iters (int): ``1 - SSIM`` loss up to this iteration, MSE afterwards. Default 80.
        dip_seed (int): seed of the DIP input noise and initial weights. Default 1.
        latent_seed (int): seed of the initial latent. Default 5.
        early_stop_patience (int or None): stop once the LR reconstruction MSE has not improved by
            more than ``early_stop_min_delta`` (relative) for this many iterations, counted only
            after ``early_stop_start`` (default: once the loss is MSE and the latent moves).
            ``None`` (default) = always run ``max_iters``.
        record_latents (bool): keep the latent after every step in ``history['latent']``.
        progress (bool): show a tqdm bar.
        device: torch device; default that of ``kernel_prior``.
        dip_kwargs (dict): extra ``DIPSkip`` arguments.
        fast (bool): channels-last activations and a fused Adam for the DIP (about 20% faster on
            CPU). Same algorithm, different float rounding; False replays the reference arithmetic.
    """

    def __init__(self, scale, kernel_prior, *, max_iters=1000, dip_lr=5e-3, kp_lr=5e-1, latent_radius=None,
                 freeze_latent_iters=76, ssim_iters=80, dip_seed=1, latent_seed=5, early_stop_patience=None,
                 early_stop_min_delta=1e-3, early_stop_start=None, record_latents=False, progress=False,
                 device=None, dip_kwargs=None, fast=True):
        self.scale = int(scale)
        self.k = fkp_kernel_size(self.scale)
        if kernel_prior.k != self.k:
            raise ValueError(f'x{self.scale} needs a {self.k}x{self.k} prior, got {kernel_prior.k}x{kernel_prior.k}')
        if early_stop_patience is not None and early_stop_patience < 1:
            raise ValueError('early_stop_patience must be None or >= 1')
        if max_iters < 1:
            raise ValueError(f'max_iters must be >= 1, got {max_iters}')
        self.prior = kernel_prior
        self.max_iters = int(max_iters)
        self.dip_lr = dip_lr
        self.kp_lr = kp_lr
        self.latent_radius = float(self.k - 1 if latent_radius is None else latent_radius)
        self.freeze_latent_iters = freeze_latent_iters
        self.ssim_iters = ssim_iters
        self.dip_seed = dip_seed
        self.latent_seed = latent_seed
        self.early_stop_patience = early_stop_patience
        self.early_stop_min_delta = early_stop_min_delta
        self.early_stop_start = (max(freeze_latent_iters, ssim_iters) + 1 if early_stop_start is None
                                 else early_stop_start)
        self.record_latents = record_latents
        self.progress = progress
        self.device = torch.device(device) if device is not None else kernel_prior.normalization.device
        self.dip_kwargs = dict(dip_kwargs or {})
        self.fast = fast

    def run(self, lr_image, callback=None):
        """Estimate kernel and HR image for ``lr_image`` (1, 3, h, w) in [0, 1].

        ``callback(iteration, info)`` (optional) is called after every iteration with a dict of
        ``loss``, ``lr_mse``, ``kernel`` (detached) and ``sr`` (detached).
        """
        if lr_image.ndim != 4 or lr_image.shape[0] != 1:
            raise ValueError(f'lr_image must be (1, C, h, w), got {tuple(lr_image.shape)}')
        dev = self.device
        lr = lr_image.to(dev, torch.float32)
        _, c, h, w = lr.shape
        noise, net = seeded_dip(c, h * self.scale, w * self.scale, self.dip_seed, **self.dip_kwargs)
        noise, net = noise.to(dev), net.to(dev).train()
        if self.fast:
            noise = noise.contiguous(memory_format=torch.channels_last)
            net = net.to(memory_format=torch.channels_last)
        prior = self.prior.to(dev).eval()
        for p in prior.parameters():
            p.requires_grad_(False)
        z = seeded_latent(prior, self.latent_seed).to(dev)

        opt_dip = _adam(net.parameters(), self.dip_lr, fused=self.fast)
        opt_z = SphericalAdam([z], radius=self.latent_radius, lr=self.kp_lr)
        ssim = SSIMToTarget(lr)

        history = {'loss': [], 'lr_mse': []}
        if self.record_latents:
            history['latent'] = []
        stopper = (EarlyStopper(self.early_stop_patience, self.early_stop_min_delta, self.early_stop_start)
                   if self.early_stop_patience is not None else None)
        stopped = False
        frozen_kernel, frozen_version = None, None

        iterator = range(1, self.max_iters + 1)
        if self.progress:
            from tqdm import tqdm
            iterator = tqdm(iterator, desc='DIP-FKP', ncols=80)
        for t in iterator:
            opt_dip.zero_grad(set_to_none=True)
            opt_z.zero_grad()
            train_z = t > self.freeze_latent_iters
            z.requires_grad_(train_z)
            sr = net(noise)
            if train_z:
                kernel = prior.kernel_from_latent(z)
            else:
                # frozen latent: it only changes by its projection after step 1, so the flow runs
                # twice in the whole frozen phase, without a graph
                if frozen_kernel is None or frozen_version != z._version:
                    with torch.no_grad():
                        frozen_kernel = prior.kernel_from_latent(z)
                    frozen_version = z._version
                kernel = frozen_kernel
            out = blur_downsample(sr, kernel, self.scale)
            loss = 1 - ssim(out) if t <= self.ssim_iters else F.mse_loss(out, lr)
            loss.backward()
            opt_dip.step()
            opt_z.step()

            lr_mse = F.mse_loss(out.detach(), lr).item()
            history['loss'].append(loss.item())
            history['lr_mse'].append(lr_mse)
            if self.record_latents:
                history['latent'].append(z.detach().cpu().clone())
            if callback is not None:
                callback(t, {'loss': history['loss'][-1], 'lr_mse': lr_mse, 'kernel': kernel.detach(),
                             'sr': sr.detach()})
            if stopper is not None and stopper.update(t, lr_mse):
                stopped = True
                logger.info('DIP-FKP: LR reconstruction stalled since iteration %d, stopped at %d',
                            stopper.best_iteration, t)
                break
        logger.info('DIP-FKP: %d iterations, final loss %.5f, LR MSE %.3g', t, history['loss'][-1], lr_mse)
        return DIPFKPResult(kernel=kernel.detach().squeeze().cpu().float().numpy(), sr=sr.detach().contiguous(),
                            history=history, iterations=t, stopped_early=stopped)


def _adam(params, lr, fused):
    """Adam; the fused kernel does one pass over each tensor instead of ~6 (where supported)."""
    params = list(params)
    if fused:
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError):
            pass
    return torch.optim.Adam(params, lr=lr)
