"""Kernel conventions: a converted kernel gives the same LR in the other method's own blur."""
import math

import numpy as np
import pytest
import torch

from blindsr.archs.usrnet_arch import psf2otf
from blindsr.benchmark.kernel_conventions import (FKP, MANET, REFERENCE, KernelDoesNotFit, convert, cut_mass,
                                                  degrade, kernel_psnr, to_reference)
from blindsr.degradation.kernels import anisotropic_kernels, random_kernels
from blindsr.fkp.kernels import eigenvalue_range, gen_kernel_random, kernelgan_x4_kernel
from blindsr.fkp.ops import blur_downsample
from blindsr.metrics.kernel_metrics import kernel_psnr as plain_kernel_psnr

SCALES = (2, 3, 4)
HR_SIDE = 60  # a multiple of 2, 3 and 4, large enough for an interior at x2 with 21x21 kernels


def manet_kernels(scale, batch=3, seed=0, var_max=None):
    """MANet's random anisotropic training kernels (float64), variances up to ``var_max``."""
    low, high = 0.175 * scale, 2.5 * scale
    g = torch.Generator().manual_seed(seed)
    k, _ = random_kernels(batch, scale, 21, low, var_max or high, generator=g, dtype=torch.float64)
    return k


def fkp_kernels(scale, batch=3, seed=0):
    """FKP's random anisotropic kernels at FKP's own size (float64)."""
    rng = np.random.RandomState(seed)
    low, high = eigenvalue_range(scale)
    return torch.from_numpy(np.stack([gen_kernel_random(FKP.size(scale), scale, low, high, 0., rng)
                                      for _ in range(batch)]))


def hr_images(batch=3, seed=1):
    return torch.rand(batch, 3, HR_SIDE, HR_SIDE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def interior(scale, *sizes):
    """LR indices whose taps stay inside the HR image for kernels of all ``sizes`` (phase 0)."""
    first = max(math.ceil((n // 2) / scale) for n in sizes)
    last = min((HR_SIDE - 1 - (n - 1 - n // 2)) // scale for n in sizes)
    assert last - first >= 3, 'test image too small for an interior'
    return slice(first, last + 1)


def assert_same_lr(hr, k_src, src, k_dst, dst, scale, atol):
    lr_src, lr_dst = degrade(hr, k_src, src, scale), degrade(hr, k_dst, dst, scale)
    assert lr_src.shape == lr_dst.shape == (hr.shape[0], 3, HR_SIDE // scale, HR_SIDE // scale)
    inner = interior(scale, k_src.shape[-1], k_dst.shape[-1])
    err = (lr_src - lr_dst)[..., inner, inner].abs().max().item()
    assert err <= atol, f'interior LR differs by {err:g}'
    # the borders do differ (replicate vs circular padding): the two blurs really are different code
    assert (lr_src - lr_dst).abs().max().item() > 1e-3


@pytest.mark.parametrize('scale', SCALES)
def test_fkp_kernels_in_manet_convention_give_the_same_lr(scale):
    k_fkp = fkp_kernels(scale, seed=scale)
    k_manet = convert(k_fkp, FKP, MANET, scale)
    assert k_manet.shape == (3, 21, 21)
    assert_same_lr(hr_images(), k_fkp, FKP, k_manet, MANET, scale, atol=1e-12)


@pytest.mark.parametrize('scale', SCALES)
def test_manet_kernels_in_fkp_geometry_at_21_give_the_same_lr(scale):
    k_manet = manet_kernels(scale, seed=scale)
    k_fkp = convert(k_manet, MANET, FKP, scale, size=21)
    assert_same_lr(hr_images(), k_manet, MANET, k_fkp, FKP, scale, atol=1e-12)


@pytest.mark.parametrize('scale', SCALES)
def test_manet_kernels_at_fkp_default_size_give_the_same_lr_up_to_the_cut_mass(scale):
    # narrow enough to fit FKP's 11 / 15 / 19 within the default tolerance
    k_manet = manet_kernels(scale, seed=10 + scale, var_max=0.6 * scale)
    cut = cut_mass(k_manet, MANET, FKP, scale)
    assert 0 < cut.max() < 1e-3
    k_fkp = convert(k_manet, MANET, FKP, scale)
    assert k_fkp.shape == (3, FKP.size(scale), FKP.size(scale))
    # |LR error| <= cut mass (dropped taps) + cut mass (the rescale), images in [0, 1]
    assert_same_lr(hr_images(), k_manet, MANET, k_fkp, FKP, scale, atol=2 * cut.max().item() + 1e-12)


@pytest.mark.parametrize('scale', SCALES)
def test_round_trips_return_the_kernel(scale):
    k_fkp = fkp_kernels(scale, seed=20 + scale)
    assert torch.equal(convert(convert(k_fkp, FKP, MANET, scale), MANET, FKP, scale), k_fkp)
    k_manet = manet_kernels(scale, seed=20 + scale)
    assert torch.equal(convert(convert(k_manet, MANET, FKP, scale, size=21), FKP, MANET, scale), k_manet)
    narrow = manet_kernels(scale, seed=30 + scale, var_max=0.6 * scale)
    back = convert(convert(narrow, MANET, FKP, scale), FKP, MANET, scale)
    assert (back - narrow).abs().max() < 1e-4 and not torch.equal(back, narrow)  # tails cut on the way


@pytest.mark.parametrize('scale', SCALES)
def test_converted_kernels_sum_to_one_and_add_no_negative_taps(scale):
    k_manet = manet_kernels(scale, batch=8, seed=40 + scale)
    for k in (convert(k_manet, MANET, FKP, scale, size=21), convert(k_manet, MANET, FKP, scale, max_cut=1.)):
        assert torch.allclose(k.sum(dim=(-2, -1)), torch.ones(8, dtype=k.dtype), atol=1e-12)
        assert k.min() >= 0
    k_fkp = fkp_kernels(scale, batch=8, seed=40 + scale)
    k = convert(k_fkp, FKP, MANET, scale)
    assert torch.allclose(k.sum(dim=(-2, -1)), torch.ones(8, dtype=k.dtype), atol=1e-12)
    # FKP's spline shift leaves tiny negative taps; the conversion keeps them, adds none
    assert k.min() == k_fkp.min() and k_fkp.min() > -1e-4


def test_a_kernel_that_is_not_cut_keeps_its_values_even_unnormalised():
    k = fkp_kernels(4, batch=2, seed=5) * torch.tensor([1.03, 0.98], dtype=torch.float64)[:, None, None]
    out = convert(k, FKP, MANET, 4)
    assert torch.equal(out[:, 1:20, 1:20], k) and out.sum() == pytest.approx(k.sum().item(), abs=1e-12)


@pytest.mark.parametrize('scale, documented', [(2, 0.031), (3, 0.018), (4, 0.0068)])
def test_widest_manet_kernel_is_reported_when_it_does_not_fit_fkp_size(scale, documented):
    widest = anisotropic_kernels(2.5 * scale, 2.5 * scale, 0., scale, dtype=torch.float64)
    cut = cut_mass(widest, MANET, FKP, scale).item()
    assert cut == pytest.approx(documented, rel=0.02)  # the numbers in the module docstring
    n = FKP.size(scale)
    with pytest.raises(KernelDoesNotFit, match=rf'21x21 MANet kernel at x{scale} does not fit a {n}x{n} FKP kernel: '
                       rf'\d+\.\d+% .* size>=21'):
        convert(widest, MANET, FKP, scale)
    accepted = convert(widest, MANET, FKP, scale, max_cut=0.05)
    assert accepted.sum().item() == pytest.approx(1., abs=1e-12)


def test_usrnet_data_model_is_the_fkp_convention():
    """USRNet's OTF of the flipped kernel (as ``usrnet_sr`` hands it) blurs exactly like FKP."""
    hr = hr_images(batch=1)
    for scale in SCALES:
        k = fkp_kernels(scale, batch=1, seed=50 + scale)
        otf = psf2otf(k.flip([-2, -1])[:, None], hr.shape[-2:])
        usrnet_lr = torch.fft.ifft2(otf * torch.fft.fft2(hr)).real[..., ::scale, ::scale]
        assert torch.allclose(usrnet_lr, blur_downsample(hr, k[:, None], scale), atol=1e-12)


def test_kernel_fields_convert_per_position_and_blur_only_where_the_method_has_one():
    k = manet_kernels(4, batch=4, seed=60)
    which = torch.arange(15)[:, None] + torch.arange(15)[None] % 4
    field = k[which % 4][None]  # (1, 15, 15, 21, 21)
    converted = convert(field, MANET, FKP, 4, size=21)
    assert torch.equal(converted[0, 2, 3], convert(k[int(which[2, 3]) % 4], MANET, FKP, 4, size=21))
    assert torch.equal(convert(field, MANET, FKP, 4, max_cut=1.)[0, 5, 1],
                       convert(k[int(which[5, 1]) % 4], MANET, FKP, 4, max_cut=1.))
    constant = k[:1, None, None].expand(1, 15, 15, 21, 21)
    hr = hr_images(batch=1)
    assert torch.allclose(degrade(hr, constant, MANET, 4), degrade(hr, k[:1], MANET, 4), atol=1e-12)
    with pytest.raises(ValueError, match='FKP has no spatially variant blur'):
        degrade(hr, converted, FKP, 4)


@pytest.mark.parametrize('scale', SCALES)
def test_to_reference_is_manet_21_and_exact_for_fkp_kernels(scale):
    assert REFERENCE is MANET
    k = fkp_kernels(scale, batch=2, seed=70 + scale)
    ref = to_reference(k, FKP, scale)
    assert ref.shape == (2, 21, 21) and cut_mass(k, FKP, MANET, scale).max() == 0
    assert torch.equal(convert(ref, MANET, FKP, scale), k)


def test_kernelgan_fkp_x4_kernels_are_already_reference_sized():
    k2 = fkp_kernels(2, batch=1, seed=80)[0].numpy()
    k4 = torch.from_numpy(kernelgan_x4_kernel(k2))
    assert torch.equal(to_reference(k4, FKP, 4), k4)


def test_kernel_psnr_against_own_conversion_is_infinite():
    k_fkp = fkp_kernels(4, batch=1, seed=90)[0]
    assert kernel_psnr(k_fkp, convert(k_fkp, FKP, MANET, 4), FKP, 4, true_convention=MANET) == math.inf
    k_manet = manet_kernels(4, batch=1, seed=90)[0]
    assert kernel_psnr(convert(k_manet, MANET, FKP, 4, size=21), k_manet, FKP, 4, true_convention=MANET) == math.inf
    narrow = manet_kernels(4, batch=1, seed=91, var_max=2.4)[0]
    assert kernel_psnr(convert(narrow, MANET, FKP, 4), narrow, FKP, 4, true_convention=MANET) > 80


def test_kernel_psnr_is_measured_on_the_reference_array():
    est, true = fkp_kernels(4, batch=2, seed=95)
    naive = plain_kernel_psnr(est, true)  # on 19 x 19: 361 taps
    stated = kernel_psnr(est, true, FKP, 4)  # on 21 x 21: the same errors over 441 taps
    assert stated == pytest.approx(naive + 10 * math.log10(441 / 361), abs=1e-9)
    batch = kernel_psnr(torch.stack([est, est]), torch.stack([true, est * 0.9]), FKP, 4)
    assert batch == pytest.approx((stated + kernel_psnr(est, est * 0.9, FKP, 4)) / 2, abs=1e-9)


def test_bad_sizes_are_named():
    k = manet_kernels(4, batch=1)
    with pytest.raises(ValueError, match='FKP kernels must have an odd positive side, got 20'):
        convert(k, MANET, FKP, 4, size=20)
    with pytest.raises(ValueError, match='FKP kernels have no size for scale 8 .*pass size='):
        convert(k, MANET, FKP, 8)
    with pytest.raises(ValueError, match=r'square in their last two axes'):
        convert(torch.zeros(2, 21, 19), MANET, FKP, 4)
