"""Deep-image-prior generator used by DIP-FKP: a U-Net-like "skip" network with non-local blocks.

Layers are created in the same order (hence with the same seeded default initialisation) as
``skip()`` in the authors' DIP-FKP code, so a given seed yields their exact initial network.
Reference: Ulyanov et al., "Deep Image Prior" (CVPR 2018); Liang et al., FKP (CVPR 2021).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from blindsr.registry import ARCHS

__all__ = ['DIPSkip', 'NonLocalBlock2D']


def _conv(in_ch, out_ch, kernel_size, stride=1, bias=True, pad='reflection'):
    """Conv with 'same' padding done by a reflection pad (or zero padding)."""
    to_pad = (kernel_size - 1) // 2
    if pad == 'reflection':
        if to_pad == 0:
            return nn.Conv2d(in_ch, out_ch, kernel_size, stride, bias=bias)
        return nn.Sequential(nn.ReflectionPad2d(to_pad), nn.Conv2d(in_ch, out_ch, kernel_size, stride, bias=bias))
    if pad == 'zero':
        return nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding=to_pad, bias=bias)
    raise ValueError(f'pad must be "reflection" or "zero", got {pad!r}')


def _conv_bn_act(in_ch, out_ch, kernel_size, stride=1, bias=True, pad='reflection'):
    return [_conv(in_ch, out_ch, kernel_size, stride, bias, pad), nn.BatchNorm2d(out_ch),
            nn.LeakyReLU(0.2, inplace=True)]


class NonLocalBlock2D(nn.Module):
    """Embedded dot-product non-local block with max-pooled key/value branches.

    The output projection ends in a BatchNorm initialised to zero, so the block starts as the
    identity (residual add) and learns how much global context to mix in.
    """

    def __init__(self, in_channels, inter_channels=None):
        super().__init__()
        self.inter_channels = inter_channels or max(in_channels // 2, 1)
        # creation order g, W, theta, phi = the authors' (seeded initialisation)
        self.g = nn.Sequential(nn.Conv2d(in_channels, self.inter_channels, 1), nn.MaxPool2d(2))
        self.W = nn.Sequential(nn.Conv2d(self.inter_channels, in_channels, 1), nn.BatchNorm2d(in_channels))
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)
        self.theta = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.phi = nn.Sequential(nn.Conv2d(in_channels, self.inter_channels, 1), nn.MaxPool2d(2))

    def forward(self, x):
        b, _, h, w = x.shape
        g_x = self.g(x).view(b, self.inter_channels, -1).permute(0, 2, 1)
        theta_x = self.theta(x).view(b, self.inter_channels, -1).permute(0, 2, 1)
        phi_x = self.phi(x).view(b, self.inter_channels, -1)
        f = torch.matmul(theta_x, phi_x)
        y = torch.matmul(f / f.size(-1), g_x)
        y = y.permute(0, 2, 1).contiguous().view(b, self.inter_channels, h, w)
        return self.W(y) + x


class _Level(nn.Module):
    """One scale: skip branch || (down, [non-local], conv, deeper levels, up) -> merge convs."""

    def __init__(self, in_ch, down_ch, up_ch, skip_ch, inner_up_ch, non_local, upsample_mode, bias, pad):
        super().__init__()
        self.skip = nn.Sequential(*_conv_bn_act(in_ch, skip_ch, 1, bias=bias, pad=pad)) if skip_ch else None
        down = _conv_bn_act(in_ch, down_ch, 3, 2, bias, pad)
        if non_local:
            down.append(NonLocalBlock2D(down_ch))
        down += _conv_bn_act(down_ch, down_ch, 3, 1, bias, pad)
        self.down = nn.Sequential(*down)
        self.inner = None      # the next level, attached by DIPSkip
        self.upsample_mode = upsample_mode
        merged = skip_ch + (inner_up_ch if inner_up_ch is not None else down_ch)
        self.merge_bn = nn.BatchNorm2d(merged)
        self.merge = nn.Sequential(*_conv_bn_act(merged, up_ch, 3, 1, bias, pad),
                                   *_conv_bn_act(up_ch, up_ch, 1, 1, bias, pad))

    def forward(self, x):
        deep = self.down(x)
        if self.inner is not None:
            deep = self.inner(deep)
        align = False if self.upsample_mode in ('bilinear', 'bicubic') else None
        deep = F.interpolate(deep, scale_factor=2, mode=self.upsample_mode, align_corners=align)
        if self.skip is None:
            return self.merge(self.merge_bn(deep))
        s = self.skip(x)
        if s.shape[-2:] != deep.shape[-2:]:   # odd sizes: centre-crop both to the smaller one
            h, w = min(s.shape[2], deep.shape[2]), min(s.shape[3], deep.shape[3])
            s = _centre_crop(s, h, w)
            deep = _centre_crop(deep, h, w)
        return self.merge(self.merge_bn(torch.cat([s, deep], 1)))


def _centre_crop(x, h, w):
    top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    return x[:, :, top:top + h, left:left + w]


@ARCHS.register()
class DIPSkip(nn.Module):
    """DIP-FKP's image generator (fixed noise in, image in [0, 1] out).

    Args:
        in_channels (int): input noise channels. Default 3.
        out_channels (int): output channels. Default 3.
        channels_down / channels_up / channels_skip (sequence of int): per-scale widths.
            Defaults: 5 scales of 128 / 128 / 16 (2,359,939 parameters).
        non_local_from (int): scales with index >= this get a non-local block. Default 2.
        upsample_mode (str): 'bilinear' (default) or 'nearest'.
        pad (str): 'reflection' (default) or 'zero'.
        need_sigmoid (bool): squash the output to [0, 1]. Default True.

    Input (1, C, H, W) with H, W divisible by 2**n_scales for exact shapes; output (1, out, H, W).
    BatchNorm layers are meant to stay in training mode (per-image statistics).
    """

    def __init__(self, in_channels=3, out_channels=3, channels_down=(128,) * 5, channels_up=(128,) * 5,
                 channels_skip=(16,) * 5, non_local_from=2, upsample_mode='bilinear', pad='reflection',
                 need_sigmoid=True, bias=True):
        super().__init__()
        if not len(channels_down) == len(channels_up) == len(channels_skip):
            raise ValueError('channels_down, channels_up and channels_skip must have the same length')
        n = len(channels_down)
        levels = []
        in_ch = in_channels
        for i in range(n):
            inner_up = channels_up[i + 1] if i < n - 1 else None
            levels.append(_Level(in_ch, channels_down[i], channels_up[i], channels_skip[i], inner_up,
                                 i >= non_local_from, upsample_mode, bias, pad))
            in_ch = channels_down[i]
        for outer, inner in zip(levels[:-1], levels[1:]):
            outer.inner = inner
        self.levels = levels[0]
        self.out = _conv(channels_up[0], out_channels, 1, bias=bias, pad=pad)
        self.need_sigmoid = need_sigmoid

    def forward(self, x):
        x = self.out(self.levels(x))
        return torch.sigmoid(x) if self.need_sigmoid else x
