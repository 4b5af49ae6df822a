"""Mutual affine convolution (MAConv) and the residual block built from it.

MAConv lets each channel group be modulated (scaled and shifted) by the other groups before
its own convolution, which is how MANet gains cross-channel context cheaply. Submodule
names (``fc{i}.0``, ``fc{i}.2``, ``conv{i}``, ``res.0``, ``res.2``) are the MANet authors',
so their checkpoints load unchanged.
"""
import torch
from torch import nn


def split_sizes(channels, split):
    """Channel group sizes: ``round(channels / split)`` each, the last group takes the rest.

    ``channels * (1 / split)`` (not ``channels / split``) keeps the authors' float rounding, so
    group sizes (and thus checkpoint shapes) agree for every ``split``.
    """
    sizes = [round(channels * (1 / split)) for _ in range(split - 1)]
    sizes.append(channels - sum(sizes))
    if min(sizes) < 1:
        raise ValueError(f'cannot split {channels} channels into {split} non-empty groups: {sizes}')
    return sizes


class MAConv(nn.Module):
    """Mutual affine convolution.

    The input is split into ``split`` channel groups. For group ``i`` a small 1x1 network
    ``fc{i}`` reads the *other* groups and predicts a scale and a translation for group ``i``;
    group ``i`` becomes ``conv{i}(x_i * sigmoid(scale) + translation)``. Outputs are
    concatenated in group order.

    Unlike the authors' code, the output groups are sized from ``out_channels`` (theirs used
    ``in_channels`` for the last group, so in != out gave wrong widths or crashed). With
    in == out, as everywhere in MANet, layers and results are identical to theirs.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): spatial size of the group convolutions. Default: 3.
        stride (int): stride of the group convolutions. Default: 1.
        padding (int): zero padding of the group convolutions. Default: 1.
        bias (bool): bias in the group convolutions. Default: True.
        split (int): number of channel groups, >= 2. Default: 2.
        reduction (int): channel reduction inside each ``fc{i}``. Default: 2.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=True,
                 split=2, reduction=2):
        super().__init__()
        if split < 2:
            raise ValueError(f'MAConv needs split >= 2 (got {split})')
        self.split = split
        self.in_split = split_sizes(in_channels, split)
        self.out_split = split_sizes(out_channels, split)
        # Created in the authors' order (fc0, conv0, fc1, conv1, ...) so that a seeded
        # default initialisation draws the same numbers as theirs.
        for i, (c_in, c_out) in enumerate(zip(self.in_split, self.out_split)):
            c_rest = in_channels - c_in
            hidden = c_rest // reduction
            setattr(self, f'fc{i}', nn.Sequential(
                nn.Conv2d(c_rest, hidden, 1, 1, 0, bias=True),
                nn.ReLU(inplace=True),
                nn.Conv2d(hidden, 2 * c_in, 1, 1, 0, bias=True),
            ))
            setattr(self, f'conv{i}', nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=bias))

    def forward(self, x):
        """(B, in_channels, H, W) -> (B, out_channels, H', W')."""
        parts = torch.split(x, self.in_split, dim=1)
        out = []
        for i, part in enumerate(parts):
            rest = parts[:i] + parts[i + 1:]
            others = rest[0] if len(rest) == 1 else torch.cat(rest, dim=1)
            scale, shift = torch.split(getattr(self, f'fc{i}')(others), part.shape[1], dim=1)
            out.append(getattr(self, f'conv{i}')(part * torch.sigmoid(scale) + shift))
        return torch.cat(out, dim=1)


class MABlock(nn.Module):
    """Residual block ``x + MAConv(ReLU(MAConv(x)))`` (channel count preserved).

    Args:
        channels (int): input and output channels.
        kernel_size, stride, padding, bias, split, reduction: passed to both MAConvs.
    """

    def __init__(self, channels, kernel_size=3, stride=1, padding=1, bias=True, split=2, reduction=2):
        super().__init__()
        self.res = nn.Sequential(
            MAConv(channels, channels, kernel_size, stride, padding, bias, split, reduction),
            nn.ReLU(inplace=True),
            MAConv(channels, channels, kernel_size, stride, padding, bias, split, reduction),
        )

    def forward(self, x):
        return x + self.res(x)
