"""Does a non-blind restorer listen to its kernel? PSNR_Y when fed the true kernel vs wrong ones.

Each HR image is blurred with a *true* kernel, subsampled and quantised (noise-free), then
restored by ``restorer(lr, kernel)`` fed, in turn, the true kernel and a set of wrong ones:
the same kernel rotated by 45 degrees, the same with four times the variances, fixed
isotropic and anisotropic kernels, and the mean training kernel. A restorer that uses its
kernel loses PSNR on every wrong one.
"""
import math
from dataclasses import dataclass, replace

import torch

from ..degradation.blur import blur_subsample
from ..degradation.kernels import anisotropic_kernels, isotropic_kernels
from ..degradation.noise import quantize
from ..metrics.psnr_ssim import psnr_y
from ..utils.image_io import tensor2img


@dataclass(frozen=True)
class KernelSpec:
    """A Gaussian blur: isotropic with standard deviation ``a``, or anisotropic with variances
    ``a``, ``b`` along directions ``theta`` and ``theta + pi/2`` (the MANet convention)."""
    label: str
    iso: bool
    a: float
    b: float = 0.0
    theta: float = 0.0

    def kernel(self, scale, kernel_size=21):
        if self.iso:
            return isotropic_kernels(self.a, scale, kernel_size)[0]
        return anisotropic_kernels(self.a, self.b, self.theta, scale, kernel_size)[0]

    def rotated(self, angle=math.pi / 4):
        return replace(self, label='rotated 45°', theta=self.theta + angle)

    def widened(self, factor=4.0):
        """``factor`` times the variances (an isotropic std grows by sqrt(factor))."""
        if self.iso:
            return replace(self, label=f'{factor:g}x variances', a=self.a * math.sqrt(factor))
        return replace(self, label=f'{factor:g}x variances', a=self.a * factor, b=self.b * factor)


def aniso(a, b, theta, label=None):
    return KernelSpec(label or f'aniso({a:g},{b:g},{theta:.2f})', False, a, b, theta)


def iso(std, label=None):
    return KernelSpec(label or f'iso {std:g}', True, std)


# The blurs of the audit that found a restorer ignoring its kernel.
TRUE_BLURS = (aniso(8, 2, math.pi / 4, 'aniso(8,2,pi/4)'), iso(0.7), iso(4))
FIXED_FEDS = (iso(0.7), iso(2.6), iso(4), aniso(2, 8, 0, 'aniso(2,8,0)'))


def fed_kernels(true, scale, mean_kernel, kernel_size=21):
    """Column label -> kernel (l, l) fed to the restorer for images blurred with ``true``."""
    feds = {'true': true.kernel(scale, kernel_size),
            'rotated 45°': true.rotated().kernel(scale, kernel_size),
            '4x variances': true.widened().kernel(scale, kernel_size)}
    for spec in FIXED_FEDS:
        feds[spec.label] = spec.kernel(scale, kernel_size)
    feds['mean kernel'] = mean_kernel
    return feds


@torch.no_grad()
def sensitivity_table(restorer, hr_images, scale, mean_kernel, true_blurs=TRUE_BLURS, kernel_size=21):
    """Mean PSNR_Y (dB, crop = scale) per (true blur label, fed kernel label).

    Args:
        restorer: callable ``(lr (1,3,h,w), kernel (1,l,l)) -> SR (1,3,sh,sw)``.
        hr_images (list[Tensor]): HR images (3, H, W) in [0, 1], sides multiples of ``scale``.
        mean_kernel (Tensor): (l, l), the restorer's no-estimation guess.
    """
    table = {}
    for true in true_blurs:
        feds = fed_kernels(true, scale, mean_kernel, kernel_size)
        sums = dict.fromkeys(feds, 0.0)
        k_true = true.kernel(scale, kernel_size)[None]
        for hr in hr_images:
            hr = hr[None]
            lr = quantize(blur_subsample(hr, k_true, scale))
            hr_img = tensor2img(hr[0])
            for label, k in feds.items():
                sr = restorer(lr, k[None].to(lr))
                sums[label] += psnr_y(tensor2img(sr[0]), hr_img, crop=scale)
        table[true.label] = {label: s / len(hr_images) for label, s in sums.items()}
    return table


def markdown(table, digits=2):
    """The table as Markdown rows: true blur, then each fed kernel (the true one in bold)."""
    cols = list(next(iter(table.values())))
    lines = ['| true blur | ' + ' | '.join(f'fed {c}' for c in cols) + ' | true minus mean | true minus worst |',
             '|---|' + '---|' * (len(cols) + 2)]
    for true, row in table.items():
        wrong = [v for c, v in row.items() if c != 'true']
        cells = [f'**{v:.{digits}f}**' if c == 'true' else f'{v:.{digits}f}' for c, v in row.items()]
        gains = f' | {row["true"] - row["mean kernel"]:+.{digits}f} | {row["true"] - min(wrong):+.{digits}f} |'
        lines.append(f'| {true} | ' + ' | '.join(cells) + gains)
    return '\n'.join(lines)
