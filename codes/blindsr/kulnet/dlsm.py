"""DLSM: the 4-stage unfolded MAP SR network. Each stage takes a unit gradient step on the data
term, then a proximal step of a Laplacian scale mixture prior whose threshold and mean maps come
from a U-Net shared by all stages, fed densely fused features of the estimates so far."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .operators import blur_down, lsm_proximal, up_blur_t


def _double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1), nn.ReLU())


def _head(ch, out_nc):
    return nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(), nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(),
                         nn.Conv2d(ch, out_nc, 1))


class Encoding(nn.Module):
    """Five levels, 2x average pooling between them; returns every level (the skips)."""

    def __init__(self, ch=32):
        super().__init__()
        self.E1 = _double_conv(ch, ch)
        self.E2 = _double_conv(ch, 2 * ch)
        self.E3 = _double_conv(2 * ch, 2 * ch)
        self.E4 = _double_conv(2 * ch, 4 * ch)
        self.E5 = _double_conv(4 * ch, 4 * ch)

    def forward(self, x):
        e1 = self.E1(x)
        e2 = self.E2(F.avg_pool2d(e1, 2))
        e3 = self.E3(F.avg_pool2d(e2, 2))
        e4 = self.E4(F.avg_pool2d(e3, 2))
        e5 = self.E5(F.avg_pool2d(e4, 2))
        return e1, e2, e3, e4, e5


class Decoding(nn.Module):
    """Bilinear 2x up, concat [skip, up], double conv; then the threshold (W) and mean (U) heads."""

    def __init__(self, ch=32, out_nc=3):
        super().__init__()
        self.D1 = _double_conv(8 * ch, 4 * ch)
        self.D2 = _double_conv(6 * ch, 2 * ch)
        self.D3 = _double_conv(4 * ch, 2 * ch)
        self.D4 = _double_conv(3 * ch, ch)
        self.w_generator = _head(ch, out_nc)
        self.u_generator = _head(ch, out_nc)

    @staticmethod
    def _up_cat(skip, x):
        return torch.cat([skip, F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)], 1)

    def forward(self, feats):
        e1, e2, e3, e4, e5 = feats
        d = self.D1(self._up_cat(e4, e5))
        d = self.D2(self._up_cat(e3, d))
        d = self.D3(self._up_cat(e2, d))
        d = self.D4(self._up_cat(e1, d))
        return self.w_generator(d), self.u_generator(d)


class DLSM(nn.Module):
    """(LR (B, 3, h, w), kernel (B, l, l)) -> SR (B, 3, s*h, s*w); no clamp, no global residual.

    Args:
        scale (int): SR factor.
        stages (int): unfolded iterations. Default: 4.
        ch (int): feature channels. Default: 32.
    """

    def __init__(self, scale, stages=4, ch=32, in_nc=3):
        super().__init__()
        self.scale = scale
        self.stages = stages
        for i in range(stages):
            self.register_parameter(f'delta_{i}', nn.Parameter(torch.empty(1)))
        self.Encoding = Encoding(ch)
        self.Decoding = Decoding(ch, in_nc)
        self.conv = nn.Conv2d(in_nc, ch, 3, 1, 1)
        for i in range(stages):
            setattr(self, f'Den_con{i + 1}', nn.Conv2d(ch * (i + 1), ch, 1))
        self.reset_parameters()

    def reset_parameters(self):
        """The authors' init: xavier-normal convs with zero bias; each delta ~ N(0.1, 0.01)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
        for i in range(self.stages):
            nn.init.normal_(getattr(self, f'delta_{i}'), 0.1, 0.01)

    def prior_maps(self, feat):
        """W and U at the feature size: reflect-pad right/bottom to a multiple of 16 for the U-Net, then crop."""
        h, w = feat.shape[-2:]
        ph, pw = -h % 16, -w % 16
        if ph or pw:
            feat = F.pad(feat, (0, pw, 0, ph), mode='reflect')
        wmap, umap = self.Decoding(self.Encoding(feat))
        return wmap[..., :h, :w], umap[..., :h, :w]

    def forward(self, y, kernel, trace=None):
        """``trace``: a dict to fill with the starting estimate ``x0`` and, per stage i, the data-step
        output ``res_i``, the raw threshold ``w_i``, the mean ``u_i`` and the estimate ``xt_i``."""
        s = self.scale
        x = up_blur_t(y, kernel, s)
        if trace is not None:
            trace['x0'] = x
        feats = []
        for i in range(self.stages):
            r = x + up_blur_t(y - blur_down(x, kernel, s), kernel, s)
            feats.append(self.conv(x))
            fused = getattr(self, f'Den_con{i + 1}')(torch.cat(feats, 1))
            wmap, umap = self.prior_maps(fused)
            x = lsm_proximal(r, wmap * getattr(self, f'delta_{i}'), umap)
            if trace is not None:
                trace.update({f'res_{i}': r, f'w_{i}': wmap, f'u_{i}': umap, f'xt_{i}': x})
        return x
