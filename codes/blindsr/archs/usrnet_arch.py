"""USRNet: deep unfolding network for non-blind SR with a known kernel (Zhang et al., CVPR 2020).

Used by FKP as the non-blind step. Module names mirror the released ``usrnet_tiny.pth`` so it
loads with ``strict=True``. The closed-form data step uses native complex ``torch.fft`` (the
authors' file used the ``torch.rfft`` API removed in PyTorch 1.8).

The kernel argument is a *convolution* kernel: callers holding an FKP-convention (correlation)
kernel flip it first (see ``blindsr.fkp.nonblind.usrnet_sr``).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from blindsr.registry import ARCHS

__all__ = ['USRNet', 'ResUNet', 'HyPaNet', 'psf2otf', 'load_usrnet']


def psf2otf(psf, shape):
    """PSF (N, C, h, w) -> OTF (N, C, H, W) complex, centred so the PSF centre sits at (0, 0).

    Zero-pad to ``shape``, roll by ``-(size // 2)`` per axis, FFT; round-off imaginary parts are
    zeroed as in MATLAB's psf2otf.
    """
    otf = psf.new_zeros(psf.shape[:-2] + tuple(shape))
    otf[..., :psf.shape[-2], :psf.shape[-1]] = psf
    otf = torch.roll(otf, shifts=(-(psf.shape[-2] // 2), -(psf.shape[-1] // 2)), dims=(-2, -1))
    otf = torch.fft.fft2(otf)
    dims = torch.tensor(psf.shape, dtype=psf.dtype)
    n_ops = float(torch.sum(dims * torch.log2(dims)))
    imag = torch.where(otf.imag.abs() < n_ops * 2.22e-16, torch.zeros_like(otf.imag), otf.imag)
    return torch.complex(otf.real, imag)


def _zero_insert_upsample(x, sf):
    """s-fold upsampling by zero insertion; the sample sits at the top-left of each s x s cell."""
    z = x.new_zeros(x.shape[0], x.shape[1], x.shape[2] * sf, x.shape[3] * sf)
    z[..., ::sf, ::sf] = x
    return z


def _block_mean(a, sf):
    """Average of the s x s distinct blocks (each of size H/s x W/s) of a (N, C, H, W) array."""
    n, c, h, w = a.shape
    return a.reshape(n, c, sf, h // sf, sf, w // sf).mean(dim=(2, 4))


class DataStep(nn.Module):
    """Closed-form solution of ``min_x ||y - (x * k) down_s||^2 + alpha ||x - z||^2`` via FFT."""

    def forward(self, x, FB, FBC, F2B, FBFy, alpha, sf):
        FR = FBFy + torch.fft.fft2(alpha * x)
        x1 = FB * FR
        FBR = _block_mean(x1, sf)
        invW = _block_mean(F2B, sf)
        invWBR = FBR / (invW + alpha)
        FCBinvWBR = FBC * invWBR.repeat(1, 1, sf, sf)
        FX = (FR - FCBinvWBR) / alpha
        return torch.fft.ifft2(FX).real


class _ResBlock(nn.Module):
    def __init__(self, ch, bias=False):
        super().__init__()
        self.res = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=bias), nn.ReLU(inplace=True),
                                 nn.Conv2d(ch, ch, 3, 1, 1, bias=bias))

    def forward(self, x):
        return x + self.res(x)


class ResUNet(nn.Module):
    """The learned prior (denoiser) step: a 4-scale residual U-Net, input = image + noise map."""

    def __init__(self, in_nc=4, out_nc=3, nc=(64, 128, 256, 512), nb=2, bias=False):
        super().__init__()
        self.m_head = nn.Conv2d(in_nc, nc[0], 3, 1, 1, bias=bias)

        def down(cin, cout):
            return nn.Sequential(*[_ResBlock(cin, bias) for _ in range(nb)], nn.Conv2d(cin, cout, 2, 2, 0, bias=bias))

        def up(cin, cout):
            return nn.Sequential(nn.ConvTranspose2d(cin, cout, 2, 2, 0, bias=bias),
                                 *[_ResBlock(cout, bias) for _ in range(nb)])

        self.m_down1 = down(nc[0], nc[1])
        self.m_down2 = down(nc[1], nc[2])
        self.m_down3 = down(nc[2], nc[3])
        self.m_body = nn.Sequential(*[_ResBlock(nc[3], bias) for _ in range(nb)])
        self.m_up3 = up(nc[3], nc[2])
        self.m_up2 = up(nc[2], nc[1])
        self.m_up1 = up(nc[1], nc[0])
        self.m_tail = nn.Conv2d(nc[0], out_nc, 3, 1, 1, bias=bias)

    def forward(self, x):
        h, w = x.shape[-2:]
        # replicate-pad bottom/right to a multiple of 8 (three 2x downsamplings)
        x = F.pad(x, (0, (-w) % 8, 0, (-h) % 8), mode='replicate')
        x1 = self.m_head(x)
        x2 = self.m_down1(x1)
        x3 = self.m_down2(x2)
        x4 = self.m_down3(x3)
        x = self.m_body(x4)
        x = self.m_up3(x + x4)
        x = self.m_up2(x + x3)
        x = self.m_up1(x + x2)
        x = self.m_tail(x + x1)
        return x[..., :h, :w]


class HyPaNet(nn.Module):
    """Maps (noise level, scale) to the per-iteration weights alpha_i and beta_i (positive)."""

    def __init__(self, in_nc=2, out_nc=8, channel=64):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(in_nc, channel, 1), nn.ReLU(inplace=True), nn.Conv2d(channel, channel, 1),
                                 nn.ReLU(inplace=True), nn.Conv2d(channel, out_nc, 1), nn.Softplus())

    def forward(self, x):
        return self.mlp(x) + 1e-6


@ARCHS.register()
class USRNet(nn.Module):
    """Unfolded half-quadratic splitting: ``n_iter`` x (FFT data step, ResUNet prior step).

    Args:
        n_iter (int): unfolding iterations. Default 8 (``usrnet_tiny``: 6).
        h_nc (int): HyPaNet width. Default 64 (tiny: 32).
        in_nc, out_nc (int): ResUNet channels (image + noise map in). Defaults 4, 3.
        nc (sequence of int): ResUNet widths. Default (64, 128, 256, 512) (tiny: 16, 32, 64, 64).
        nb (int): residual blocks per scale. Default 2.

    ``forward(x, k, sf, sigma)``: LR (N, C, h, w) in [0, 1], convolution kernel (N, 1, kh, kw),
    integer scale, noise level (N, 1, 1, 1) -> SR (N, C, sf*h, sf*w).
    """

    def __init__(self, n_iter=8, h_nc=64, in_nc=4, out_nc=3, nc=(64, 128, 256, 512), nb=2):
        super().__init__()
        self.d = DataStep()
        self.p = ResUNet(in_nc=in_nc, out_nc=out_nc, nc=nc, nb=nb)
        self.h = HyPaNet(in_nc=2, out_nc=n_iter * 2, channel=h_nc)
        self.n = n_iter

    @classmethod
    def tiny(cls):
        """The configuration of the released ``usrnet_tiny.pth`` (590,332 parameters)."""
        return cls(n_iter=6, h_nc=32, in_nc=4, out_nc=3, nc=(16, 32, 64, 64), nb=2)

    def forward(self, x, k, sf, sigma):
        sf = int(sf)
        h, w = x.shape[-2:]
        FB = psf2otf(k, (h * sf, w * sf))
        FBC = torch.conj(FB)
        F2B = FB.real ** 2 + FB.imag ** 2
        STy = _zero_insert_upsample(x, sf)
        FBFy = FBC * torch.fft.fft2(STy)
        x = F.interpolate(x, scale_factor=sf, mode='nearest')

        ab = self.h(torch.cat((sigma, torch.full_like(sigma, float(sf))), dim=1))
        for i in range(self.n):
            x = self.d(x, FB, FBC, F2B, FBFy, ab[:, i:i + 1], sf)
            beta = ab[:, i + self.n:i + self.n + 1].expand(-1, -1, x.shape[2], x.shape[3])
            x = self.p(torch.cat((x, beta), dim=1))
        return x


def load_usrnet(path, device='cpu'):
    """``USRNet.tiny()`` with the released weights (strict), in eval mode, gradients off."""
    net = USRNet.tiny()
    net.load_state_dict(torch.load(path, map_location=device, weights_only=True), strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net.to(device)

