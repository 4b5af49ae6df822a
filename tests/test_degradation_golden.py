"""Every array of shared/golden/manet/degradation.npz reproduced by blindsr.degradation.

Tolerances: kernels 1e-6, images 1e-5 (the issue's); most match far tighter.
"""
import functools
import math

import numpy as np
import pytest
import torch

from blindsr.degradation import blur as B
from blindsr.degradation import kernels as K
from blindsr.degradation import pca as P
from blindsr.degradation import sv_fields as S
from blindsr.degradation.pipeline import Degradation

GOLDEN = 'golden/manet/degradation.npz'
ANISO = {'aniso_6_1_0': (6, 1, 0), 'aniso_6_1_pi4': (6, 1, math.pi / 4), 'aniso_3_3_0': (3, 3, 0),
         'aniso_4_1.5_pi3': (4, 1.5, math.pi / 3)}
H, W = 40, 48


@functools.lru_cache(maxsize=1)
def _load(path):
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


@pytest.fixture
def gold(shared):
    return _load(str(shared(GOLDEN)))


def test_every_golden_key_is_covered(gold):
    covered = {f'{p}_x{s}_{n}{suf}' for s in (2, 3, 4) for n in list(ANISO) + ['iso_1.6']
               for p, suf in (('k', ''), ('k', '_raw'), ('sigma', ''))}
    covered |= {f'{p}_mode{m}_div{d}' for m in range(1, 7) for d in (40, 8)
                for p in ('sv_kernels', 'sv_sigmas', 'sv_blur', 'sv_lr')}
    covered |= {f'srmd_sv_mode{m}_lr' for m in range(1, 7)}
    covered |= {'k_l21_noshift_aniso_6_1_pi4', 'hr', 'si_kernel_6_1_pi4_x4', 'si_blur_6_1_pi4_x4',
                'si_lr_6_1_pi4_x4', 'srmd_si_6_1_pi4_x4_lr', 'srmd_si_6_1_pi4_x4_sigma', 'pca_matrix_x4',
                'pca_kernel_names', 'pca_codes_x4', 'pca_recon_x4'}
    assert set(gold) == covered


@pytest.mark.parametrize('scale', [2, 3, 4])
@pytest.mark.parametrize('name', list(ANISO) + ['iso_1.6'])
def test_shifted_kernels(gold, scale, name):
    if name == 'iso_1.6':
        k64, k32 = (K.isotropic_kernels(1.6, scale, dtype=dt)[0] for dt in (torch.float64, torch.float32))
        sigma = (1.6, 1.6, 0.0)
    else:
        sigma = ANISO[name]
        k64, k32 = (K.anisotropic_kernels(*sigma, scale, dtype=dt)[0] for dt in (torch.float64, torch.float32))
    ref = gold[f'k_x{scale}_{name}']
    g = 21 - scale + 1
    np.testing.assert_allclose(k64.numpy(), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(k32.numpy(), ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(k64[:g, :g].numpy(), gold[f'k_x{scale}_{name}_raw'], rtol=0, atol=1e-12)
    assert k64[g:].abs().max() == 0 and k64[:, g:].abs().max() == 0
    np.testing.assert_allclose(gold[f'sigma_x{scale}_{name}'], sigma, atol=1e-12)
    # the authors' alignment: centroid (l - s) / 2 for symmetric kernels
    if name in ('aniso_6_1_0', 'aniso_3_3_0', 'iso_1.6'):
        idx = torch.arange(21, dtype=torch.float64)
        assert float((k64.sum(1) * idx).sum()) == pytest.approx((21 - scale) / 2, abs=1e-9)


def test_unshifted_kernel(gold):
    k = K.anisotropic_kernels(6, 1, math.pi / 4, scale=1, dtype=torch.float64)[0]
    np.testing.assert_allclose(k.numpy(), gold['k_l21_noshift_aniso_6_1_pi4'], rtol=0, atol=1e-12)


def test_fixed_kernels_give_the_golden_kernels(gold):
    k, sigma = K.fixed_kernels(1, 4, sig1=6, sig2=1, theta=math.pi / 4, rate_iso=0)
    np.testing.assert_allclose(k.numpy(), gold['si_kernel_6_1_pi4_x4'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(sigma.numpy(), gold['srmd_si_6_1_pi4_x4_sigma'], rtol=0, atol=1e-6)
    iso, iso_sigma = K.fixed_kernels(2, 3, sig=1.6, rate_iso=1)
    np.testing.assert_allclose(iso.numpy(), np.stack([gold['k_x3_iso_1.6']] * 2), rtol=0, atol=1e-6)
    np.testing.assert_allclose(iso_sigma.numpy(), [[1.6, 1.6, 0]] * 2, atol=1e-6)


def test_si_blur_and_lr(gold):
    hr = torch.from_numpy(gold['hr'])
    k = torch.from_numpy(gold['si_kernel_6_1_pi4_x4'])
    np.testing.assert_allclose(B.blur(hr, k).numpy(), gold['si_blur_6_1_pi4_x4'], rtol=0, atol=1e-5)
    np.testing.assert_allclose(B.blur_subsample(hr, k, 4).numpy(), gold['si_lr_6_1_pi4_x4'], rtol=0, atol=1e-5)
    np.testing.assert_allclose(B.subsample(B.blur(hr, k), 4).numpy(), gold['si_lr_6_1_pi4_x4'], rtol=0, atol=1e-5)


@pytest.mark.parametrize('mode', range(1, 7))
@pytest.mark.parametrize('div', [40, 8])
def test_sv_fields(gold, mode, div):
    # mode 5 is random: numpy_rng=RandomState(0) replays the authors' np.random.seed(0) stream
    field_hr, sigma_hr = S.sv_kernel_field(mode, (H, W), 4, block_size=div, stride=1,
                                           numpy_rng=np.random.RandomState(0))
    ref_k = gold[f'sv_kernels_mode{mode}_div{div}'].reshape(1, H, W, 21, 21)
    ref_s = gold[f'sv_sigmas_mode{mode}_div{div}'].reshape(1, H, W, 3)
    np.testing.assert_allclose(field_hr.numpy(), ref_k, rtol=0, atol=1e-6)
    np.testing.assert_allclose(sigma_hr.numpy(), ref_s, rtol=0, atol=1e-6)
    # the LR field is the HR field at the pixels kept by [::4, ::4]
    field_lr, sigma_lr = S.sv_kernel_field(mode, (H, W), 4, block_size=div, numpy_rng=np.random.RandomState(0))
    assert field_lr.shape == (1, 10, 12, 21, 21) and sigma_lr.shape == (1, 10, 12, 3)
    np.testing.assert_allclose(field_lr.numpy(), ref_k[:, ::4, ::4], rtol=0, atol=1e-6)


@pytest.mark.parametrize('mode', range(1, 7))
@pytest.mark.parametrize('div', [40, 8])
def test_sv_blur_and_lr(gold, mode, div):
    hr = torch.from_numpy(gold['hr'])
    ref_k = torch.from_numpy(gold[f'sv_kernels_mode{mode}_div{div}']).view(1, H, W, 21, 21)
    np.testing.assert_allclose(B.blur_sv(hr, ref_k).numpy(), gold[f'sv_blur_mode{mode}_div{div}'],
                               rtol=0, atol=1e-5)
    lr = B.blur_sv_subsample(hr, ref_k[:, ::4, ::4], 4)
    np.testing.assert_allclose(lr.numpy(), gold[f'sv_lr_mode{mode}_div{div}'], rtol=0, atol=1e-5)


@pytest.mark.parametrize('mode', range(1, 7))
def test_srmd_sv_pipeline(gold, mode):
    hr = torch.from_numpy(gold['hr'])
    deg = Degradation(scale=4, random=False, sv_mode=mode, sig1=6, sig2=1, theta=0, rate_iso=0)
    out = deg(hr, numpy_rng=np.random.RandomState(0))
    np.testing.assert_allclose(out.lr.numpy(), gold[f'srmd_sv_mode{mode}_lr'], rtol=0, atol=1e-5)
    assert torch.equal(out.lr, out.lr_clean)
    assert out.kernel is None and out.kernel_field.shape == (1, 10, 12, 21, 21)
    np.testing.assert_allclose(out.kernel_field.numpy(),
                               gold[f'sv_kernels_mode{mode}_div40'].reshape(1, H, W, 21, 21)[:, ::4, ::4],
                               rtol=0, atol=1e-6)


def test_srmd_si_pipeline(gold):
    hr = torch.from_numpy(gold['hr'])
    out = Degradation(scale=4, random=False, sv_mode=0, sig1=6, sig2=1, theta=math.pi / 4, rate_iso=0)(hr)
    np.testing.assert_allclose(out.lr.numpy(), gold['srmd_si_6_1_pi4_x4_lr'], rtol=0, atol=1e-5)
    np.testing.assert_allclose(out.sigma.numpy(), gold['srmd_si_6_1_pi4_x4_sigma'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.kernel.numpy(), gold['si_kernel_6_1_pi4_x4'], rtol=0, atol=1e-6)
    assert out.kernel_field is None and out.noise_level is None and out.jpeg_quality is None


def test_pca_matrix_codes_and_reconstruction(gold, shared):
    mat = P.load_pca_matrix(shared('pretrained_models/official/pca_matrix_aniso21_15_x4.pth'))
    np.testing.assert_array_equal(mat.numpy(), gold['pca_matrix_x4'])
    kernels = torch.from_numpy(np.stack([gold[n] for n in gold['pca_kernel_names']])).float()
    codes = P.pca_encode(kernels, mat)
    np.testing.assert_allclose(codes.numpy(), gold['pca_codes_x4'], rtol=0, atol=1e-6)
    recon = P.pca_decode(torch.from_numpy(gold['pca_codes_x4']), mat)
    np.testing.assert_allclose(recon.numpy(), gold['pca_recon_x4'], rtol=0, atol=1e-6)
    # a kernel field (B, h, w, l, l) -> (B, h, w, 15), each entry the single-kernel code
    field = kernels[torch.tensor([[0, 1, 2], [3, 4, 0]])].unsqueeze(0)  # (1, 2, 3, 21, 21)
    field_codes = P.pca_encode(field, mat)
    assert field_codes.shape == (1, 2, 3, 15)
    np.testing.assert_allclose(field_codes[0, 1, 1].numpy(), gold['pca_codes_x4'][4], rtol=0, atol=1e-6)
    assert P.pca_decode(field_codes, mat).shape == (1, 2, 3, 21, 21)
