"""The three MANet training stages as networks, with the authors' state_dict layout.

* ``MANet_s1``: kernel estimator alone (stage 1 trains it with a kernel loss).
* ``MANet_s2``: RRDB-SFT SR network fed the PCA code of a *given* kernel (stage 2).
* ``MANet_s3``: frozen estimator + RRDB-SFT fed the codes of the *estimated* kernels (stage 3).

All kernel outputs are LR-resolution fields (B, h, w, l, l); the authors' HR layout is
available from :func:`blindsr.archs.kernel_field.hr_kernel_field` when needed.

Constructor keywords mirror the authors' option keys. ``define_G`` in their code passed the
same keys to every stage, so keys a stage does not use (``nf`` for stage 1, ``manet_nf`` for
stage 2, ``upscale``...) are accepted and ignored; ``None`` means the default, as a null in an
option file does.
"""
import logging

import torch
import torch.nn.functional as F

from blindsr.degradation.pca import code_statistics, pca_encode
from blindsr.degradation.pca import load_pca_matrix as read_pca_matrix
from blindsr.models.contract import Capabilities
from blindsr.archs.manet_arch import MANet
from blindsr.archs.rrdb_sft_arch import SFTSRBody
from blindsr.registry import ARCHS
from blindsr.utils.paths import resolve_path

logger = logging.getLogger(__name__)


def _or(value, default):
    return default if value is None else value


def load_pca_matrix(pca_path=None, pca_matrix=None, kernel_size=21, code_length=15):
    """The PCA buffer (1, l*l, code_length, 1, 1), in the authors' buffer shape.

    Source, in order: ``pca_matrix`` (tensor or array holding l*l*code_length values), the
    authors' ``.pth`` file at ``pca_path`` (a (l*l, code_length) tensor, loaded on CPU), or
    zeros when both are None -- a placeholder meant to be filled by a checkpoint (the buffer
    is saved in, and loaded from, every MANet_s2/s3 state_dict).
    """
    shape = (1, kernel_size ** 2, code_length, 1, 1)
    if pca_matrix is None and pca_path is not None:
        pca_matrix = read_pca_matrix(resolve_path(pca_path, must_exist=True))
    if pca_matrix is None:
        logger.info('no pca_path given: pca_matrix starts as zeros until a checkpoint fills it')
        return torch.zeros(shape)
    pca_matrix = torch.as_tensor(pca_matrix, dtype=torch.float32)
    if pca_matrix.numel() != kernel_size ** 2 * code_length:
        raise ValueError(f'PCA matrix of shape {tuple(pca_matrix.shape)} does not fit '
                         f'kernel_size={kernel_size}, code_length={code_length} '
                         f'(expected ({kernel_size ** 2}, {code_length}))')
    return pca_matrix.reshape(shape).clone()


def _code_map(kernel, pca, size):
    """PCA code map (B, c, h, w) of a kernel (B, l, l) or a kernel field (B, h, w, l, l)."""
    code = pca_encode(kernel, pca)
    if kernel.dim() == 3:
        return code[:, :, None, None].expand(-1, -1, *size)
    if kernel.dim() == 5 and tuple(kernel.shape[1:3]) == tuple(size):
        return code.permute(0, 3, 1, 2)
    raise ValueError(f'kernel must be (B, l, l) or a (B, h, w, l, l) field with (h, w) = {tuple(size)}, '
                     f'got {tuple(kernel.shape)}')


def _fill_code_statistics(net, kernel_size):
    """With ``code_norm``, set the code mean/std from the PCA matrix (a checkpoint may overwrite them)."""
    if net.code_norm and bool(net.pca_matrix.abs().sum()):
        net.code_mean, net.code_std = code_statistics(net.pca_matrix, net.scale, kernel_size)


@ARCHS.register()
class MANet_s1(torch.nn.Module):
    """Stage 1: the kernel estimator alone, as ``kernel_estimation``.

    Args:
        in_nc (int): image channels. Default: 3.
        scale (int): SR factor, only used for the placeholder output. Default: 4.
        kernel_size (int): kernel side l. Default: 21.
        manet_nf (int): estimator width (half resolution uses 2x). Default: 128.
        manet_nb (int): MABlocks per level. Default: 1.
        split (int): MAConv channel groups. Default: 2.
        out_nc, nf, nb, gc, code_length, pca_path, upscale: accepted for option-file
            compatibility, unused.
    """

    capabilities = Capabilities(estimates_kernel=True, makes_sr=False)   # the SR output is a placeholder

    def __init__(self, in_nc=3, scale=4, kernel_size=21, manet_nf=128, manet_nb=1, split=2,
                 out_nc=None, nf=None, nb=None, gc=None, code_length=None, pca_path=None, upscale=None):
        super().__init__()
        self.scale = int(_or(scale, 4))
        self.kernel_size = _or(kernel_size, 21)
        manet_nf = _or(manet_nf, 128)
        self.kernel_estimation = MANet(in_nc=_or(in_nc, 3), kernel_size=self.kernel_size,
                                       nc=(manet_nf, 2 * manet_nf), nb=_or(manet_nb, 1), split=_or(split, 2))

    @property
    def receptive_radius(self):
        return self.kernel_estimation.receptive_radius

    def forward(self, lr):
        """(B, C, h, w) -> (placeholder SR (B, C, h*s, w*s), kernel field (B, h, w, l, l)).

        The "SR" is a nearest upsampling of the input, as in the authors' code: it only keeps
        the (sr, kernel) interface of the other stages and means nothing.
        """
        field = self.kernel_estimation(lr)
        return F.interpolate(lr, scale_factor=self.scale, mode='nearest'), field


@ARCHS.register()
class MANet_s2(SFTSRBody):
    """Stage 2: non-blind RRDB-SFT fed the PCA code of a known kernel (or kernel field).

    Args:
        in_nc, out_nc (int): image channels. Default: 3, 3.
        nf, nb, gc (int): RRDB width, blocks, growth. Default: 64, 10, 32.
        scale (int): SR factor. Default: 4.
        pca_path (str): authors' PCA ``.pth`` ((l*l, code_length) tensor). Default: None.
        pca_matrix (Tensor): the PCA matrix itself, instead of ``pca_path``. Default: None.
            With neither, the ``pca_matrix`` buffer is zeros until a checkpoint fills it.
        code_length (int): PCA code length. Default: 15.
        kernel_size (int): kernel side l. Default: 21.
        code_norm (bool): standardise the code map with the code mean/std of the authors' random
            training kernels (ours; buffers ``code_mean``/``code_std``). Default: False, the
            authors' network.
        manet_nf, manet_nb, split, upscale: accepted for option-file compatibility, unused.
    """

    capabilities = Capabilities(takes_kernel=True, outputs=('sr', 'given_kernel'))

    def __init__(self, in_nc=3, out_nc=3, nf=64, nb=10, gc=32, scale=4, pca_path=None, code_length=15,
                 kernel_size=21, pca_matrix=None, code_norm=False, manet_nf=None, manet_nb=None, split=None,
                 upscale=None):
        super().__init__()
        self.kernel_size = _or(kernel_size, 21)
        code_length = _or(code_length, 15)
        self.register_buffer('pca_matrix', load_pca_matrix(pca_path, pca_matrix, self.kernel_size, code_length))
        self.build_sr_body(_or(in_nc, 3), _or(out_nc, 3), _or(nf, 64), _or(nb, 10), _or(gc, 32),
                           _or(scale, 4), code_length, bool(code_norm))
        _fill_code_statistics(self, self.kernel_size)

    def forward(self, lr, kernel):
        """Super-resolve with a known blur.

        Args:
            lr (Tensor): (B, in_nc, h, w).
            kernel (Tensor): (B, l, l) spatially invariant kernel, or a (B, h, w, l, l) field.

        Returns:
            tuple: SR (B, out_nc, h*s, w*s) and ``kernel`` unchanged.
        """
        return self.restore(lr, _code_map(kernel, self.pca_matrix, lr.shape[-2:])), kernel


@ARCHS.register()
class MANet_s3(SFTSRBody):
    """Stage 3 / inference: frozen estimator + RRDB-SFT fed the estimated kernels' codes.

    The estimator runs under ``no_grad`` (the authors' stage 3 never updates it; its
    parameters still appear in ``parameters()`` but never receive a gradient).

    Args: those of :class:`MANet_s2` (except ``upscale``) plus ``manet_nf`` (128),
    ``manet_nb`` (1) and ``split`` (2) of the estimator.
    """

    # the authors pass the estimator no gradient in stage 3
    capabilities = Capabilities(estimates_kernel=True, frozen=('kernel_estimation',))

    def __init__(self, in_nc=3, out_nc=3, nf=64, nb=10, gc=32, scale=4, pca_path=None, code_length=15,
                 kernel_size=21, manet_nf=128, manet_nb=1, split=2, pca_matrix=None, code_norm=False,
                 upscale=None):
        super().__init__()
        self.kernel_size = _or(kernel_size, 21)
        code_length = _or(code_length, 15)
        manet_nf = _or(manet_nf, 128)
        # Estimator first: the authors' construction (and so seeded init) order.
        self.kernel_estimation = MANet(in_nc=_or(in_nc, 3), kernel_size=self.kernel_size,
                                       nc=(manet_nf, 2 * manet_nf), nb=_or(manet_nb, 1), split=_or(split, 2))
        self.register_buffer('pca_matrix', load_pca_matrix(pca_path, pca_matrix, self.kernel_size, code_length))
        self.build_sr_body(_or(in_nc, 3), _or(out_nc, 3), _or(nf, 64), _or(nb, 10), _or(gc, 32),
                           _or(scale, 4), code_length, bool(code_norm))
        _fill_code_statistics(self, self.kernel_size)

    @property
    def receptive_radius(self):
        """The SR trunk reads codes that themselves depend on the estimator's neighbourhood."""
        return self.kernel_estimation.receptive_radius + super().receptive_radius

    def forward(self, lr):
        """(B, in_nc, h, w) -> (SR (B, out_nc, h*s, w*s), kernel field (B, h, w, l, l))."""
        with torch.no_grad():
            field = self.kernel_estimation(lr)
            code_map = _code_map(field, self.pca_matrix, lr.shape[-2:])
        return self.restore(lr, code_map), field
