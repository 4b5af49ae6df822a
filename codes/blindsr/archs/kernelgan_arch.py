"""KernelGAN-FKP networks: a generator that is just an FKP kernel (a latent is its only weight)
and a small fully convolutional patch discriminator (Liang et al., CVPR 2021, after KernelGAN).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from blindsr.registry import ARCHS

__all__ = ['KernelGANFKPGenerator', 'KernelGANFKPDiscriminator']


class KernelGANFKPGenerator(nn.Module):
    """Downscales image crops with the kernel ``FKP(z)``: valid correlation, then ``[0::s, 0::s]``.

    Args:
        kernel_prior (KernelPrior): trained flow; frozen and kept in eval mode.
        latent (Tensor): initial latent (1, 1, d); default a standard-normal draw.
        scale (int): downscaling factor of the generator (KernelGAN-FKP: 2).

    ``forward(x)`` with x (N, C, H, W) returns ``(downscaled, kernel)``, kernel (k, k).
    """

    def __init__(self, kernel_prior, latent=None, scale=2):
        super().__init__()
        self.prior = kernel_prior.eval()
        for p in self.prior.parameters():
            p.requires_grad_(False)
        if latent is None:
            latent = torch.randn(1, 1, kernel_prior.input_size)
        self.kernel_code = nn.Parameter(latent.clone())
        self.scale = int(scale)

    def train(self, mode=True):
        super().train(mode)
        self.prior.eval()        # the flow's BatchNorm must keep its running statistics
        return self

    def kernel(self):
        return self.prior.kernel_from_latent(self.kernel_code).squeeze(0).squeeze(0)

    def forward(self, x):
        k = self.kernel()
        c = x.shape[1]
        # valid (unpadded) correlation of every channel, then top-left s-fold sampling
        out = F.conv2d(x, k.reshape(1, 1, *k.shape).expand(c, 1, -1, -1), groups=c)
        return out[:, :, ::self.scale, ::self.scale], k

    def output_size(self, crop):
        return (crop - self.prior.k) // self.scale + 1


class _ConvBlock(nn.Sequential):
    def __init__(self, cin, cout, kernel_size):
        super().__init__()
        self.add_module('conv', nn.Conv2d(cin, cout, kernel_size, 1, 0))
        self.add_module('norm', nn.BatchNorm2d(cout))
        self.add_module('LeakyRelu', nn.LeakyReLU(0.2, inplace=True))


@ARCHS.register()
class KernelGANFKPDiscriminator(nn.Module):
    """Patch critic: maps a (N, 3, 27, 27) crop to a (N, 1, 17, 17) score map (no activation).

    Args:
        in_channels (int): image channels. Default 3.
        channels (int): hidden width. Default 32.
        n_layers (int): conv layers including head and tail (body = n_layers - 2). Default 5.
        kernel_size (int): all convs, unpadded. Default 3.

    Inputs in [0, 1] are mapped to [-1, 1] first. Weights follow the authors' init:
    conv weights N(0, 0.02) (biases keep PyTorch's default), BatchNorm weight N(1, 0.02), bias 0.
    """

    def __init__(self, in_channels=3, channels=32, n_layers=5, kernel_size=3):
        super().__init__()
        self.head = _ConvBlock(in_channels, channels, kernel_size)
        self.body = nn.Sequential()
        for i in range(n_layers - 2):
            self.body.add_module(f'block{i + 1}', _ConvBlock(channels, channels, kernel_size))
        self.tail = nn.Conv2d(channels, 1, kernel_size, 1, 0)
        self.apply(_init_weights)

    def forward(self, x):
        return self.tail(self.body(self.head(x * 2 - 1)))

    def output_size(self, size):
        return size - (len(self.body) + 2) * (self.tail.kernel_size[0] - 1)


def _init_weights(m):
    if isinstance(m, nn.Conv2d):
        m.weight.data.normal_(0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)
