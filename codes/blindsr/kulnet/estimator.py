"""The kernel estimator: a 64-channel U-Net at LR resolution whose last features are a Gaussian
latent (mean, log std), sampled and mapped to a per-pixel kernel map, averaged to one kernel."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def _conv(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1)


class ResBlock(nn.Module):
    """Pre-activation residual block; ``body.1``/``body.3`` are the authors' conv names."""

    def __init__(self, ch):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), _conv(ch, ch), nn.ReLU(), _conv(ch, ch))

    def forward(self, x):
        return x + self.body(x)


class EncodingBlock(nn.Module):
    """Conv, two residual blocks, ReLU (the skip), then a stride-2 conv (the output)."""

    def __init__(self, cin, ch=64):
        super().__init__()
        self.Conv_head = _conv(cin, ch)
        self.ResBlock1 = ResBlock(ch)
        self.ResBlock2 = ResBlock(ch)
        self.downsample = _conv(ch, ch, stride=2)

    def forward(self, x):
        skip = F.relu(self.ResBlock2(self.ResBlock1(self.Conv_head(x))))
        return self.downsample(skip), skip


class DecodingBlock(nn.Module):
    """Transposed conv up to the skip's size (odd sizes too), concat [up, skip], conv, two residual blocks, ReLU."""

    def __init__(self, ch=64):
        super().__init__()
        self.Conv_t = nn.ConvTranspose2d(ch, ch, 3, 2, 1)
        self.Conv_head = _conv(2 * ch, ch)
        self.ResBlock1 = ResBlock(ch)
        self.ResBlock2 = ResBlock(ch)

    def forward(self, x, skip):
        up = self.Conv_t(x, output_size=skip.shape)
        return F.relu(self.ResBlock2(self.ResBlock1(self.Conv_head(torch.cat([up, skip], 1)))))


class MidBlock(nn.Module):
    def __init__(self, ch=64, n=5):
        super().__init__()
        layers = []
        for _ in range(n):
            layers += [_conv(ch, ch), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class UncertaintyHead(nn.Module):
    """Latent mean (ReLU, so non-negative) and log std; a sample of the latent -> softmax kernel map.

    ``log_var`` keeps the authors' name but holds log sigma: the sample is ``mean + eps * exp(log_var)``.
    """

    def __init__(self, ch=64, kernel_size=21):
        super().__init__()
        self.mean = nn.Sequential(_conv(ch, ch), nn.ReLU())
        self.log_var = nn.Sequential(_conv(ch, ch))
        self.Conv_end = _conv(ch, kernel_size ** 2)

    def forward(self, h, sample=True, eps=None):
        mean = self.mean(h)
        log_std = self.log_var(h)
        if sample:
            if eps is None:
                # drawn on the CPU generator, then moved, as the authors did: the same seed gives the same draw on any device
                eps = torch.randn(mean.shape)
            z = mean + eps.to(mean.device, mean.dtype) * torch.exp(log_std)
        else:
            z = mean
        kernel_map = torch.softmax(self.Conv_end(z), dim=1)
        return kernel_map, mean, log_std


class KernelEstimator(nn.Module):
    """LR image (B, 3, h, w) -> (kernel (B, l, l), latent mean, latent log std (B, 64, h, w)).

    The kernel is the spatial mean of the per-pixel softmax map, so it is non-negative and sums to 1.
    """

    def __init__(self, in_nc=3, ch=64, kernel_size=21):
        super().__init__()
        self.kernel_size = kernel_size
        self.Encoding_Block1 = EncodingBlock(in_nc, ch)
        self.Encoding_Block2 = EncodingBlock(ch, ch)
        self.Conv_mid = MidBlock(ch)
        self.Decoding_Block1 = DecodingBlock(ch)
        self.Decoding_Block2 = DecodingBlock(ch)
        self.Conv_tail = UncertaintyHead(ch, kernel_size)

    def forward(self, x, sample=True, eps=None):
        h1, skip1 = self.Encoding_Block1(x)
        h2, skip2 = self.Encoding_Block2(h1)
        h = self.Decoding_Block1(self.Conv_mid(h2), skip2)
        h = self.Decoding_Block2(h, skip1)
        kernel_map, mean, log_std = self.Conv_tail(h, sample, eps)
        kernel = kernel_map.mean((2, 3)).view(x.shape[0], self.kernel_size, self.kernel_size)
        return kernel, mean, log_std
