"""MANet kernel estimator: a one-level MAConv U-Net predicting one blur kernel per LR pixel."""
import torch.nn.functional as F
from torch import nn

from blindsr.archs.kernel_field import kernel_field_from_logits
from blindsr.archs.maconv_arch import MABlock
from blindsr.registry import ARCHS

#: Inputs are replicate-padded (bottom/right) to a multiple of this, as the authors do.
PAD_MULTIPLE = 8



def _sequential(*modules):
    """nn.Sequential, except that a single module is returned bare.

    The authors built their layers with this helper (from KAIR), so with ``nb=1`` the
    checkpoint keys read ``m_body.res...`` rather than ``m_body.0.res...``.
    """
    return modules[0] if len(modules) == 1 else nn.Sequential(*modules)


@ARCHS.register()
class MANet(nn.Module):
    """Spatially variant kernel estimator (Liang et al., ICCV 2021), authors' layer names.

    ``m_head`` 3x3 conv -> ``m_down1`` (nb MABlocks + 2x2 stride-2 conv) -> ``m_body``
    (nb MABlocks) -> ``m_up1`` (2x2 stride-2 transposed conv + nb MABlocks) -> ``m_tail``
    3x3 conv to l*l channels, with additive skips around body and up-sampling, then a softmax
    over the l*l taps of every pixel.

    Args:
        in_nc (int): image channels. Default: 3.
        kernel_size (int): side l of the estimated kernels. Default: 21.
        nc (sequence of 2 ints): widths at full and half resolution. Default: (128, 256).
        nb (int): MABlocks per level. Default: 1.
        split (int): MAConv channel groups. Default: 2.
    """

    def __init__(self, in_nc=3, kernel_size=21, nc=(128, 256), nb=1, split=2):
        super().__init__()
        if len(nc) != 2:
            raise ValueError(f'nc must hold two widths (full, half resolution), got {nc}')
        if nb < 1:
            raise ValueError(f'nb must be >= 1, got {nb}')
        c1, c2 = nc
        self.kernel_size = kernel_size
        self.nb = nb
        # Built in the authors' order so that a seeded initialisation matches theirs.
        self.m_head = nn.Conv2d(in_nc, c1, 3, 1, 1, bias=True)
        self.m_down1 = nn.Sequential(*[MABlock(c1, split=split) for _ in range(nb)],
                                     nn.Conv2d(c1, c2, 2, 2, 0, bias=True))
        self.m_body = _sequential(*[MABlock(c2, split=split) for _ in range(nb)])
        self.m_up1 = nn.Sequential(nn.ConvTranspose2d(c2, c1, 2, 2, 0, bias=True),
                                   *[MABlock(c1, split=split) for _ in range(nb)])
        self.m_tail = nn.Conv2d(c1, kernel_size ** 2, 3, 1, 1, bias=True)

    @property
    def receptive_radius(self):
        """Max distance (LR pixels) from an output pixel to an input pixel it depends on.

        3x3 head and tail (1 each), 2*nb 3x3 convs at full resolution (up and down side),
        2*nb at half resolution (2 pixels each) and the stride-2 grid (1): 8*nb + 3, i.e. 11
        and a 22 x 22 receptive field for nb=1 (as measured on the authors' code).
        """
        return 8 * self.nb + 3

    def logits(self, lr):
        """(B, in_nc, h, w) -> pre-softmax kernel taps (B, l*l, h, w)."""
        h, w = lr.shape[-2:]
        pad_b = -h % PAD_MULTIPLE
        pad_r = -w % PAD_MULTIPLE
        if pad_b or pad_r:
            lr = F.pad(lr, (0, pad_r, 0, pad_b), mode='replicate')
        x1 = self.m_head(lr)
        x2 = self.m_down1(x1)
        x = self.m_up1(self.m_body(x2) + x2)
        x = self.m_tail(x + x1)
        return x[..., :h, :w]

    def forward(self, lr):
        """Estimate the kernel field.

        Args:
            lr (Tensor): (B, in_nc, h, w), any h, w.

        Returns:
            Tensor: (B, h, w, l, l), every kernel sums to 1.
        """
        return kernel_field_from_logits(self.logits(lr), self.kernel_size)
