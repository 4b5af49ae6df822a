"""RRDB super-resolution trunk conditioned on a per-pixel code map through SFT layers.

This is MANet's non-blind SR network: every RRDB block first modulates its features with a
spatial feature transform (SFT) of the kernel's PCA code, so the restoration adapts to the
(possibly spatially variant) blur. Layer names follow the MANet authors (``conv_first``,
``RRDB_trunk.{i}.SFT``, ``RRDB_trunk.{i}.RDB{1,2,3}.conv{1..5}``, ``trunk_conv``,
``upsampler.0``) so their checkpoints load unchanged.
"""
import torch
from torch import nn
from torch.nn import init

from blindsr.registry import ARCHS


class SFTLayer(nn.Module):
    """``features * sigmoid(mul(cat)) + add(cat)`` with ``cat = [features, code_map]``.

    Args:
        nf (int): feature channels.
        code_length (int): code-map channels.
        hidden (int): width of the two small conv nets. Default: 32.
    """

    def __init__(self, nf=64, code_length=15, hidden=32):
        super().__init__()
        self.mul_conv1 = nn.Conv2d(nf + code_length, hidden, 3, 1, 1)
        self.mul_conv2 = nn.Conv2d(hidden, nf, 3, 1, 1)
        self.add_conv1 = nn.Conv2d(nf + code_length, hidden, 3, 1, 1)
        self.add_conv2 = nn.Conv2d(hidden, nf, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, features, code_map):
        cat = torch.cat((features, code_map), dim=1)
        mul = torch.sigmoid(self.mul_conv2(self.act(self.mul_conv1(cat))))
        add = self.add_conv2(self.act(self.add_conv1(cat)))
        return features * mul + add


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs (growth ``gc``), output ``x + 0.2 * conv5(...)``.

    The convs start from kaiming-normal (fan_in) x 0.1 with zero bias: the small residual
    branch keeps a deep RRDB stack stable at the start of training (ESRGAN's recipe).
    """

    def __init__(self, nf=64, gc=32):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            init.kaiming_normal_(conv.weight, a=0, mode='fan_in')
            conv.weight.data.mul_(0.1)
            conv.bias.data.zero_()

    def forward(self, x):
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(self.act(conv(torch.cat(feats, dim=1))))
        return x + 0.2 * self.conv5(torch.cat(feats, dim=1))


class RRDBSFTBlock(nn.Module):
    """SFT modulation then three residual dense blocks; output ``x + 0.2 * RDBs(SFT(x, code))``."""

    def __init__(self, nf=64, gc=32, code_length=15):
        super().__init__()
        self.SFT = SFTLayer(nf, code_length)
        self.RDB1 = ResidualDenseBlock(nf, gc)
        self.RDB2 = ResidualDenseBlock(nf, gc)
        self.RDB3 = ResidualDenseBlock(nf, gc)

    def forward(self, x, code_map):
        out = self.RDB3(self.RDB2(self.RDB1(self.SFT(x, code_map))))
        return x + 0.2 * out


class SFTSRBody(nn.Module):
    """Base class adding the SR layers as *direct* children, where the authors' keys put them.

    MANet_s2/s3 hold ``conv_first``, ``RRDB_trunk``... at the top level of their state dict
    (next to ``kernel_estimation`` and ``pca_matrix``), so the layers are attached by
    :meth:`build_sr_body` rather than wrapped in a child module; subclasses choose when to
    call it (MANet_s3 builds its estimator first, as the authors do, so seeded
    initialisations agree).
    """

    def build_sr_body(self, in_nc=3, out_nc=3, nf=64, nb=10, gc=32, scale=4, code_length=15, code_norm=False):
        if int(scale) != scale or scale < 1:
            raise ValueError(f'scale must be a positive integer, got {scale}')
        self.scale = int(scale)
        self.code_length = code_length
        self.code_norm = bool(code_norm)
        if self.code_norm:
            # standardisation of the code map (ours); absent from the authors' state dicts
            self.register_buffer('code_mean', torch.zeros(code_length))
            self.register_buffer('code_std', torch.ones(code_length))
        self.conv_first = nn.Conv2d(in_nc, nf, 3, 1, 1, bias=True)
        self.RRDB_trunk = nn.ModuleList([RRDBSFTBlock(nf, gc, code_length) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.upsampler = nn.Sequential(nn.Conv2d(nf, out_nc * self.scale ** 2, 3, 1, 1, bias=True),
                                       nn.PixelShuffle(self.scale))

    @property
    def receptive_radius(self):
        """Max distance (LR pixels) from an SR pixel's LR position to an input it depends on.

        conv_first, trunk_conv and the upsampler conv (1 each) plus 17 3x3 convs per block
        (2 in the SFT branch, 5 in each of 3 dense blocks): 173 for nb=10.
        """
        return 3 + 17 * len(self.RRDB_trunk)

    def restore(self, lr, code_map):
        """Super-resolve ``lr`` (B, in_nc, h, w) given ``code_map`` (B, code_length, h, w)."""
        if code_map.shape[-2:] != lr.shape[-2:] or code_map.shape[1] != self.code_length:
            raise ValueError(f'code map {tuple(code_map.shape)} does not fit LR {tuple(lr.shape)} '
                             f'with code_length {self.code_length}')
        if self.code_norm:
            code_map = (code_map - self.code_mean[:, None, None]) / self.code_std[:, None, None]
        lr_fea = self.conv_first(lr)
        fea = lr_fea
        for block in self.RRDB_trunk:
            fea = block(fea, code_map)
        return self.upsampler(lr_fea + self.trunk_conv(fea))


@ARCHS.register('RRDB_SFT')
class RRDBSFTNet(SFTSRBody):
    """Non-blind SR network of MANet: RRDB-SFT trunk fed a per-pixel code map.

    Args:
        in_nc (int): input channels. Default: 3.
        out_nc (int): output channels. Default: 3.
        nf (int): feature channels. Default: 64.
        nb (int): RRDB-SFT blocks. Default: 10.
        gc (int): growth channels of the dense blocks. Default: 32.
        scale (int): upscaling factor (one PixelShuffle). Default: 4.
        code_length (int): channels of the code map. Default: 15.
    """

    def __init__(self, in_nc=3, out_nc=3, nf=64, nb=10, gc=32, scale=4, code_length=15):
        super().__init__()
        self.build_sr_body(in_nc, out_nc, nf, nb, gc, scale, code_length)

    def forward(self, lr, code_map):
        """(B, in_nc, h, w), (B, code_length, h, w) -> SR (B, out_nc, h*s, w*s)."""
        return self.restore(lr, code_map)
