"""KernelGAN-FKP: estimate the x2 kernel of one LR image with a WGAN-GP whose generator is an FKP
kernel, so that LR crops downscaled by it look like crops of the LR image itself.

Defaults follow the authors' code (spec fkp.md (d)): x2 prior (11x11) for both x2 and x4 (x4
uses the analytic x2 -> x4 kernel), Adam lr 5e-4 with beta1 0.5 for the latent (spherical,
radius 10) and the critic, 3 critic steps then 3 generator steps per iteration, GP weight 0.1.
"""
import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from blindsr.archs.fkp_arch import KernelPrior
from blindsr.archs.kernelgan_arch import KernelGANFKPDiscriminator, KernelGANFKPGenerator
from blindsr.fkp.crops import CropSampler
from blindsr.fkp.kernels import kernelgan_x4_kernel
from blindsr.fkp.optim import SphericalAdam

logger = logging.getLogger(__name__)

__all__ = ['KernelGANFKP', 'KernelGANFKPResult', 'gradient_penalty', 'prepare_kernelgan_input']


def gradient_penalty(critic, real, fake, weight):
    """WGAN-GP term as the authors compute it: ONE mixing scalar a ~ U(0, 1) for the whole batch,
    and the gradient norm taken over the channel axis only, averaged over (batch, y, x)."""
    a = torch.rand(1, 1).to(real.device)
    mixed = (a * real + (1 - a) * fake).detach().requires_grad_(True)
    out = critic(mixed)
    grad, = torch.autograd.grad(out, mixed, grad_outputs=torch.ones_like(out), create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean() * weight


def prepare_kernelgan_input(image, shave=10, scale=2):
    """LR image -> float64 (H, W, 3) in [0, 1]: ``shave`` px off every border (synthetic inputs,
    against boundary effects of the data generation), then cropped to a multiple of ``scale``."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().squeeze(0).permute(1, 2, 0).double().numpy()
    image = np.asarray(image)
    image = image / 255. if image.dtype == np.uint8 else image.astype(np.float64)
    if shave:
        image = image[shave:-shave, shave:-shave]
    h, w = image.shape[:2]
    return image[:h - h % scale, :w - w % scale]


@dataclass
class KernelGANFKPResult:
    """``kernel``: the estimate for the requested scale (11x11 for x2, 21x21 for x4);
    ``kernel_x2``: the generator's x2 kernel; ``history``: per-iteration losses."""
    kernel: np.ndarray
    kernel_x2: np.ndarray
    latent: torch.Tensor
    history: dict = field(default_factory=dict)


class KernelGANFKP:
    """KernelGAN-FKP for one image.

    Args:
        kernel_prior (KernelPrior): the x2 flow (11x11 kernels).
        scale (int): 2 or 4 (x4 = analytic kernel of the x2 estimate). Default 2.
        iterations (int): default 1000 for x2, 4000 for x4.
        g_lr, d_lr (float): Adam learning rates. Default 5e-4.
        beta1 (float): Adam beta1 for both. Default 0.5.
        batch_size (int): crop pairs per iteration. Default 64.
        g_crop (int): generator crop side (its output side is D's crop side). Default 64.
        d_steps, g_steps (int): critic / generator updates per iteration. Default 3 / 3.
        gp_weight (float): gradient-penalty weight. Default 0.1.
        latent_radius (float): sphere radius of the latent; default k - 1 = 10.
        seed (int): seeds the latent, the critic's init and the crop/penalty draws. Default 1.
        shave (int): pixels removed at each border before cropping (0 for real images). Default 10.
        progress (bool): tqdm bar. device: torch device (default: the prior's).
    """

    def __init__(self, kernel_prior, *, scale=2, iterations=None, g_lr=5e-4, d_lr=5e-4, beta1=0.5, batch_size=64,
                 g_crop=64, d_steps=3, g_steps=3, gp_weight=0.1, latent_radius=None, seed=1, shave=10,
                 d_channels=32, d_layers=5, progress=False, device=None):
        if scale not in (2, 4):
            raise ValueError(f'KernelGAN-FKP supports x2 and x4, got x{scale}')
        self.prior = kernel_prior
        self.scale = scale
        self.iterations = int(iterations if iterations is not None else (4000 if scale == 4 else 1000))
        self.g_lr, self.d_lr, self.beta1 = g_lr, d_lr, beta1
        self.batch_size, self.g_crop = batch_size, g_crop
        self.d_steps, self.g_steps, self.gp_weight = d_steps, g_steps, gp_weight
        self.latent_radius = float(kernel_prior.k - 1 if latent_radius is None else latent_radius)
        self.seed, self.shave = seed, shave
        self.d_channels, self.d_layers = d_channels, d_layers
        self.progress = progress
        self.device = torch.device(device) if device is not None else kernel_prior.normalization.device

    def _build(self):
        """Generator latent and critic drawn as the authors' seeded constructors draw them."""
        torch.default_generator.manual_seed(self.seed)
        KernelPrior(**self.prior.arch_kwargs)            # replays the RNG use of their G constructor
        latent = torch.randn(1, 1, self.prior.input_size)
        gen = KernelGANFKPGenerator(self.prior, latent, scale=2)
        d_crop = gen.output_size(self.g_crop)
        critic = KernelGANFKPDiscriminator(3, self.d_channels, self.d_layers)
        return gen.to(self.device), critic.to(self.device), d_crop

    def run(self, lr_image, callback=None):
        """Estimate the kernel of ``lr_image`` ((H, W, 3) uint8/float array or (1, 3, H, W) tensor).

        ``callback(iteration, losses)`` (optional) is called after every iteration (1-based) with
        that iteration's losses ``{'d_real', 'd_fake', 'gp', 'g'}``.
        """
        image = prepare_kernelgan_input(lr_image, self.shave, 2)
        dev = self.device
        with torch.random.fork_rng(devices=[]):         # leave the caller's global RNG untouched
            gen, critic, d_crop = self._build()
            sampler = CropSampler(image, self.g_crop, d_crop, 2, np.random.RandomState(self.seed))
            opt_g = SphericalAdam([gen.kernel_code], radius=self.latent_radius, lr=self.g_lr,
                                  betas=(self.beta1, 0.999))
            opt_d = torch.optim.Adam(critic.parameters(), lr=self.d_lr, betas=(self.beta1, 0.999))
            history = {key: [] for key in ('d_real', 'd_fake', 'gp', 'g')}
            iterator = range(self.iterations)
            if self.progress:
                from tqdm import tqdm
                iterator = tqdm(iterator, desc='KernelGAN-FKP', ncols=80)
            kernel = None
            for t in iterator:
                g_np, d_np = sampler.sample(self.batch_size)
                g_in, real = torch.from_numpy(g_np).to(dev), torch.from_numpy(d_np).to(dev)
                # the latent does not change during the critic steps: one generator pass serves
                # all of them and the generator step (the authors recompute the same values)
                fake, kernel = gen(g_in)
                fake_d = fake.detach()
                for _ in range(self.d_steps):
                    opt_d.zero_grad(set_to_none=True)
                    d_real = -critic(real).mean()
                    d_fake = critic(fake_d).mean()
                    gp = gradient_penalty(critic, real, fake_d, self.gp_weight)
                    (d_real + d_fake + gp).backward()
                    opt_d.step()
                # the authors' 3 generator steps reuse one fake and one critic: identical
                # gradients, so one backward (w.r.t. the latent only) feeds all the Adam steps
                g_loss = -critic(fake).mean()
                opt_g.zero_grad()
                gen.kernel_code.grad, = torch.autograd.grad(g_loss, [gen.kernel_code])
                for _ in range(self.g_steps):
                    opt_g.step()
                history['d_real'].append(d_real.item())
                history['d_fake'].append(d_fake.item())
                history['gp'].append(gp.item())
                history['g'].append(g_loss.item())
                if callback is not None:
                    callback(t + 1, {key: values[-1] for key, values in history.items()})
        logger.info('KernelGAN-FKP: %d iterations, last losses D real %.4f fake %.4f GP %.4f G %.4f', self.iterations,
                    history['d_real'][-1], history['d_fake'][-1], history['gp'][-1], history['g'][-1])
        k2 = kernel.detach().cpu().float().numpy()     # from the last critic update, as the authors
        k = kernelgan_x4_kernel(k2.astype(np.float64)) if self.scale == 4 else k2
        return KernelGANFKPResult(kernel=k, kernel_x2=k2, latent=gen.kernel_code.detach().cpu().clone(),
                                  history=history)
