"""Invariants of blindsr.degradation (no shared material needed)."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from blindsr.degradation import blur as B
from blindsr.degradation import jpeg as J
from blindsr.degradation import kernels as K
from blindsr.degradation import noise as N
from blindsr.degradation import pca as P
from blindsr.degradation import sv_fields as S
from blindsr.degradation.pipeline import OPTION_DEFAULTS, Degradation


def gen(seed):
    return torch.Generator().manual_seed(seed)


def _devices():
    devs = ['cpu', 'meta']
    acc = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    return devs + ([str(acc)] if acc is not None else [])


# ---------------------------------------------------------------- kernels

@pytest.mark.parametrize('scale', [1, 2, 3, 4])
def test_random_kernels_sum_to_one_in_range_and_shifted(scale):
    k, sigma = K.random_kernels(256, scale, sig_min=0.175 * scale, sig_max=2.5 * scale, rate_iso=0,
                                generator=gen(0))
    assert k.shape == (256, 21, 21) and k.dtype == torch.float32 and sigma.shape == (256, 3)
    np.testing.assert_allclose(k.sum((1, 2)).numpy(), 1.0, atol=1e-6)
    assert k.min() >= 0
    g = 22 - scale
    assert k[:, g:].abs().sum() == 0 and k[:, :, g:].abs().sum() == 0
    s1, s2, th = sigma.double().unbind(1)
    lo, hi = 0.175 * scale, 2.5 * scale
    assert s1.min() >= lo - 1e-6 and s1.max() <= hi + 1e-6
    assert (s2 >= lo - 1e-6).all() and (s2 <= s1 + 1e-6).all()
    assert th.min() >= 0 and th.max() < math.pi
    # the draws cover their ranges (256 samples)
    assert s1.max() - s1.min() > 0.8 * (hi - lo) and th.max() - th.min() > 0.8 * math.pi


def test_random_kernels_reproducible_under_a_seed():
    a = K.random_kernels(8, 4, sig_min=0.7, sig_max=10, rate_iso=0.3, generator=gen(7))
    b = K.random_kernels(8, 4, sig_min=0.7, sig_max=10, rate_iso=0.3, generator=gen(7))
    c = K.random_kernels(8, 4, sig_min=0.7, sig_max=10, rate_iso=0.3, generator=gen(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_rate_iso_controls_isotropic_fraction():
    _, sigma = K.random_kernels(2000, 4, sig_min=0.7, sig_max=10, rate_iso=0.25, generator=gen(1))
    iso = (sigma[:, 0] == sigma[:, 1]) & (sigma[:, 2] == 0)
    assert 0.21 < iso.float().mean() < 0.29
    _, all_iso = K.random_kernels(50, 4, sig_min=0.7, sig_max=10, rate_iso=1, generator=gen(1))
    assert torch.equal(all_iso[:, 0], all_iso[:, 1]) and all_iso[:, 2].abs().max() == 0


def test_isotropic_std_equals_anisotropic_variance():
    iso = K.isotropic_kernels(1.6, 4, dtype=torch.float64)
    aniso = K.anisotropic_kernels(1.6 ** 2, 1.6 ** 2, 0.7, 4, dtype=torch.float64)
    np.testing.assert_allclose(iso.numpy(), aniso.numpy(), atol=1e-15)


def test_theta_rotates_and_variances_order_axes():
    k0 = K.anisotropic_kernels(6, 1, 0, 1, dtype=torch.float64)[0]
    k90 = K.anisotropic_kernels(6, 1, math.pi / 2, 1, dtype=torch.float64)[0]
    np.testing.assert_allclose(k90.numpy(), k0.T.numpy(), atol=1e-12)
    idx = torch.arange(21, dtype=torch.float64) - 10
    var_cols = (k0.sum(0) * idx ** 2).sum()  # theta=0: sig1 along the first pdf coordinate = columns
    var_rows = (k0.sum(1) * idx ** 2).sum()
    assert var_cols == pytest.approx(6, rel=0.02) and var_rows == pytest.approx(1, rel=0.02)


def test_fixed_kernels_batch_and_coin():
    k, sigma = K.fixed_kernels(3, 4, sig1=6, sig2=1, theta=0.3)
    assert torch.equal(k[0], k[2]) and torch.equal(sigma[1], torch.tensor([6.0, 1.0, 0.3]))
    _, mixed = K.fixed_kernels(400, 4, sig=2.0, sig1=6, sig2=1, theta=0.3, rate_iso=0.5, generator=gen(3))
    frac = (mixed[:, 0] == 2.0).float().mean()
    assert 0.4 < frac < 0.6


def test_numpy_stream_replay_matches_a_scalar_loop():
    """rate_iso strictly between 0 and 1 draws 2 or 4 numbers per kernel, as the authors."""
    sigma, _iso = K.random_kernel_params(20, 0.7, 10.0, rate_iso=0.5, numpy_rng=np.random.RandomState(5))
    rs = np.random.RandomState(5)
    for i in range(20):
        if rs.random_sample() < 0.5:
            x = rs.random_sample() * 9.3 + 0.7
            ref = (x, x, 0.0)
        else:
            s1 = 0.7 + 9.3 * rs.rand()
            s2 = 0.7 + (s1 - 0.7) * rs.rand()
            ref = (s1, s2, math.pi * rs.rand())
        np.testing.assert_allclose(sigma[i].numpy(), ref, rtol=1e-12)


# ---------------------------------------------------------------- spatially variant fields

@pytest.mark.parametrize('mode', [1, 2, 3, 4, 5, 6])
def test_sv_field_shape_sum_and_block_constancy(mode):
    H, W, s, bs = 100, 90, 4, 40
    field, sigma = S.sv_kernel_field(mode, (H, W), s, block_size=bs, batch=2, generator=gen(0))
    assert field.shape == (2, 25, 23, 21, 21) and sigma.shape == (2, 25, 23, 3)
    np.testing.assert_allclose(field.sum((-1, -2)).numpy(), 1.0, atol=1e-6)
    blocks, bsig = S.sv_block_kernels(mode, (H, W), s, block_size=bs, batch=2, generator=gen(0))
    assert blocks.shape == (2, 3, 3, 21, 21)
    for i in range(25):
        for j in range(23):
            assert torch.equal(sigma[:, i, j], bsig[:, (s * i) // bs, (s * j) // bs])
    assert torch.equal(field[:, 24, 22], blocks[:, 2, 2])


def test_sv_mode5_torch_path_statistics_and_seed():
    s = 4
    a, b = (2.5 - 0.175) * s, 0.175 * s
    _, sigma = S.sv_block_kernels(5, (800, 800), s, batch=2, generator=gen(11))  # 2 x 20 x 20 blocks
    s1, s2, th = sigma.double().reshape(-1, 3).unbind(1)
    for v, lo, hi in ((s1, b, a + b), (s2, b, a + b), (th, 0, math.pi)):
        assert v.min() >= lo - 1e-6 and v.max() <= hi + 1e-6
        assert abs(float(v.mean()) - (lo + hi) / 2) < 0.06 * (hi - lo)  # uniform: mean in the middle
    assert (s2 > s1).any()  # mode 5 draws sig2 independently of sig1
    _, again = S.sv_block_kernels(5, (800, 800), s, batch=2, generator=gen(11))
    assert torch.equal(sigma, again)
    _, other = S.sv_block_kernels(5, (800, 800), s, batch=2, generator=gen(12))
    assert not torch.equal(sigma, other)


def test_sv_deterministic_modes_ignore_generator():
    f1, _ = S.sv_kernel_field(4, (64, 64), 4, block_size=16, generator=gen(1))
    f2, _ = S.sv_kernel_field(4, (64, 64), 4, block_size=16, generator=gen(2))
    assert torch.equal(f1, f2)


def test_sv_bad_mode_raises():
    with pytest.raises(ValueError, match='sv_mode'):
        S.sv_kernel_field(7, (40, 40), 4)


# ---------------------------------------------------------------- blur

def _hr(b=2, c=3, h=37, w=45, seed=0):
    return torch.rand(b, c, h, w, generator=gen(seed))


@pytest.mark.parametrize('scale', [1, 2, 3, 4])
def test_strided_blur_equals_blur_then_subsample(scale):
    hr = _hr()
    k, _ = K.random_kernels(2, scale, sig_min=0.7, sig_max=10, generator=gen(1))
    lr = B.blur_subsample(hr, k, scale)
    assert lr.shape == (2, 3, math.ceil(37 / scale), math.ceil(45 / scale))
    np.testing.assert_allclose(lr.numpy(), B.subsample(B.blur(hr, k), scale).numpy(), atol=1e-6)


def test_even_kernel_size_keeps_the_lr_size():
    hr = _hr()
    k, _ = K.random_kernels(2, 4, kernel_size=20, sig_min=0.7, sig_max=10, generator=gen(6))
    lr = B.blur_subsample(hr, k, 4)
    assert lr.shape == (2, 3, 10, 12) and B.blur(hr, k).shape == hr.shape
    np.testing.assert_allclose(lr.numpy(), B.subsample(B.blur(hr, k), 4).numpy(), atol=1e-6)
    field = k[:, None, None].expand(2, 10, 12, 20, 20)
    np.testing.assert_allclose(B.blur_sv_subsample(hr, field, 4).numpy(), lr.numpy(), atol=1e-6)


def test_per_image_blur_batch_equals_per_sample():
    hr = _hr(b=4)
    k, _ = K.random_kernels(4, 4, sig_min=0.7, sig_max=10, generator=gen(2))
    batched = B.blur_subsample(hr, k, 4)
    for i in range(4):
        np.testing.assert_allclose(batched[i:i + 1].numpy(), B.blur_subsample(hr[i:i + 1], k[i:i + 1], 4).numpy(),
                                   atol=1e-6)
    assert (batched[0] - batched[1]).abs().max() > 1e-3  # the kernels really differ


def test_sv_blur_batch_equals_per_sample_any_channels():
    hr = _hr(b=3, c=2)
    field, _ = S.sv_kernel_field(5, (37, 45), 4, block_size=8, batch=3, generator=gen(3))
    batched = B.blur_sv_subsample(hr, field, 4)
    for i in range(3):
        single = B.blur_sv_subsample(hr[i:i + 1], field[i:i + 1], 4)
        np.testing.assert_allclose(batched[i:i + 1].numpy(), single.numpy(), atol=1e-6)


def test_sv_blur_manual_pixel():
    """One LR pixel by hand: replication-padded patch times kernel, no flip."""
    hr = _hr(b=1, c=1, h=20, w=20)
    field, _ = S.sv_kernel_field(4, (20, 20), 4, block_size=8)
    lr = B.blur_sv_subsample(hr, field, 4)
    padded = B.replicate_pad(hr, 21)
    i, j = 3, 1
    manual = (padded[0, 0, 4 * i:4 * i + 21, 4 * j:4 * j + 21] * field[0, i, j]).sum()
    assert float(lr[0, 0, i, j]) == pytest.approx(float(manual), abs=1e-6)


@pytest.mark.parametrize('scale', [1, 4])
def test_sv_blur_with_constant_field_equals_si_blur(scale):
    hr = _hr(b=2, c=3)
    k, _ = K.random_kernels(2, scale, sig_min=0.7, sig_max=10, generator=gen(4))
    h, w = math.ceil(37 / scale), math.ceil(45 / scale)
    field = k[:, None, None].expand(2, h, w, 21, 21)
    np.testing.assert_allclose(B.blur_sv_subsample(hr, field, scale).numpy(),
                               B.blur_subsample(hr, k, scale).numpy(), atol=1e-6)


def test_sv_blur_independent_of_chunk_size():
    hr = _hr(b=2, c=3, h=64, w=52)
    field, _ = S.sv_kernel_field(2, (64, 52), 4, block_size=16, batch=2)
    ref = B.blur_sv_subsample(hr, field, 4)
    row_bytes = 2 * 3 * 13 * 441 * 4
    for chunk in (1, row_bytes, 3 * row_bytes + 5, 10 ** 9):
        np.testing.assert_allclose(B.blur_sv_subsample(hr, field, 4, max_chunk_bytes=chunk).numpy(), ref.numpy(),
                                   atol=1e-7)


def test_single_channel_and_shared_kernel():
    hr = _hr(b=2, c=1)
    k = K.anisotropic_kernels(6, 1, 0.5, 4)[0]
    lr = B.blur_subsample(hr, k, 4)  # one (l, l) kernel for the whole batch
    assert lr.shape == (2, 1, 10, 12)
    np.testing.assert_allclose(lr.numpy(), B.blur_subsample(hr, k.expand(2, 21, 21), 4).numpy(), atol=1e-7)
    field = k.expand(2, 10, 12, 21, 21)
    np.testing.assert_allclose(B.blur_sv_subsample(hr, field, 4).numpy(), lr.numpy(), atol=1e-6)


def test_blur_preserves_constants_and_rejects_bad_shapes():
    hr = torch.full((1, 3, 30, 30), 0.3)
    k, _ = K.random_kernels(1, 4, sig_min=0.7, sig_max=10, generator=gen(5))
    np.testing.assert_allclose(B.blur_subsample(hr, k, 4).numpy(), 0.3, atol=1e-6)
    with pytest.raises(ValueError):
        B.blur_subsample(hr, torch.ones(2, 21, 21), 4)
    with pytest.raises(ValueError):
        B.blur_sv_subsample(hr, torch.ones(1, 7, 8, 21, 21), 4)


# ---------------------------------------------------------------- noise, JPEG, quantisation

def test_quantize_rounds_without_clamp():
    x = torch.tensor([0.0, 0.5 / 255 - 1e-4, 0.5, 1.0, 1.2, -0.01])
    q = N.quantize(x)
    np.testing.assert_allclose((q * 255).numpy(), [0, 0, 128, 255, 306, -3], atol=1e-4)


def test_gaussian_noise_level_clamp_and_seed():
    img = torch.full((4, 3, 64, 64), 0.5)
    level = torch.tensor([0.0, 5.0, 15.0, 30.0])
    noisy = N.add_gaussian_noise(img, level, generator=gen(0))
    std = (noisy - img).flatten(1).std(1)
    np.testing.assert_allclose(std.numpy(), (level / 255).numpy(), rtol=0.05, atol=1e-7)
    assert torch.equal(noisy, N.add_gaussian_noise(img, level, generator=gen(0)))
    extreme = N.add_gaussian_noise(torch.full((1, 1, 32, 32), 0.99), 255.0, generator=gen(1))
    assert extreme.min() >= 0 and extreme.max() <= 1 and (extreme == 1).any()
    levels = N.random_noise_levels(1000, 15.0, generator=gen(2))
    assert levels.min() >= 0 and levels.max() < 15 and 6.5 < levels.mean() < 8.5


def test_jpeg_quality_per_image_and_grayscale():
    t = torch.linspace(0, 3, 32)
    img = (0.5 + 0.4 * torch.sin(t[:, None] + t[None, :] * torch.tensor([1.0, 2.0, 3.0])[:, None, None]))[None]
    img = img + 0.1 * torch.rand(1, 3, 32, 32, generator=gen(0))  # some texture for the low quality to lose
    both = J.jpeg_compress(img.expand(2, -1, -1, -1), torch.tensor([100, 10]))
    np.testing.assert_allclose((both * 255).numpy(), (both * 255).round().numpy(), atol=1e-4)  # 8-bit values
    err_hi, err_lo = (both - img).abs().mean((1, 2, 3))
    assert err_hi < 0.03 and err_lo > 2 * err_hi  # (4:2:0 chroma costs something even at 100)
    assert torch.equal(both[:1], J.jpeg_compress(img, 100))
    gray = J.jpeg_compress(img[:, :1], 50)
    assert gray.shape == (1, 1, 32, 32) and (gray - img[:, :1]).abs().mean() < 0.05
    q = J.random_jpeg_quality(500, 70, generator=gen(1))
    assert q.min() == 70 and q.max() == 100


# ---------------------------------------------------------------- pipeline

def test_training_pipeline_shapes_ranges_and_seed():
    deg = Degradation(scale=4, random=True, train_noise=True, noise_high=15)
    hr = _hr(b=16, h=48, w=48)
    out = deg(hr, generator=gen(0))
    assert out.lr.shape == out.lr_clean.shape == (16, 3, 12, 12)
    assert out.kernel.shape == (16, 21, 21) and out.sigma.shape == (16, 3) and out.kernel_field is None
    assert out.noise_level.shape == (16,) and out.noise_level.max() < 15
    assert not torch.equal(out.lr, out.lr_clean)
    np.testing.assert_allclose(out.kernel.sum((1, 2)).numpy(), 1.0, atol=1e-6)
    assert (out.sigma[:, 0] >= 0.7).all() and (out.sigma[:, 0] <= 10).all()
    again = deg(hr, generator=gen(0))
    assert all(torch.equal(getattr(out, f), getattr(again, f)) for f in ('lr', 'lr_clean', 'kernel', 'sigma'))
    np.testing.assert_allclose(out.lr_clean.numpy(), N.quantize(B.blur_subsample(hr, out.kernel, 4)).numpy(),
                               atol=1e-6)


def test_pipeline_without_noise_has_equal_lr_and_clean_lr():
    out = Degradation(scale=3, random=True)(_hr(b=2), generator=gen(0))
    assert torch.equal(out.lr, out.lr_clean) and out.lr.shape == (2, 3, 13, 15)
    assert out.noise_level is None and out.jpeg_quality is None


def test_pipeline_test_noise_and_jpeg_single_channel():
    deg = Degradation(scale=2, random=False, test_noise=True, noise=10, test_jpeg=True, jpeg=60)
    out = deg(_hr(b=2, c=1), generator=gen(0))
    assert out.lr.shape == (2, 1, 19, 23)
    assert torch.equal(out.noise_level, torch.tensor([10.0, 10.0]))
    assert out.jpeg_quality.tolist() == [60, 60]
    assert out.lr.min() >= 0 and out.lr.max() <= 1


@pytest.mark.parametrize('device', _devices())
@pytest.mark.parametrize('sv_mode', [0, 5])
def test_outputs_follow_the_input_device(device, sv_mode):
    deg = Degradation(scale=4, random=True, train_noise=True, sv_mode=sv_mode, block_size=8)
    hr = torch.rand(2, 3, 24, 20).to(device)
    out = deg(hr, generator=gen(0))  # a CPU generator drives draws for any device
    for name in ('lr', 'lr_clean', 'sigma', 'kernel' if sv_mode == 0 else 'kernel_field', 'noise_level'):
        assert getattr(out, name).device == hr.device, name
    assert out.lr.shape == (2, 3, 6, 5)
    if device != 'meta':
        ref = deg(hr.cpu(), generator=gen(0))
        np.testing.assert_allclose(out.lr.cpu().numpy(), ref.lr.numpy(), atol=1e-5)


def test_sv_pipeline_field_and_sigma_at_lr_resolution():
    deg = Degradation(scale=4, sv_mode=3, block_size=16)
    out = deg(_hr(b=2, h=41, w=50))
    assert out.kernel_field.shape == (2, 11, 13, 21, 21) and out.sigma.shape == (2, 11, 13, 3)
    assert out.kernel is None
    np.testing.assert_allclose(out.lr_clean.numpy(),
                               N.quantize(B.blur_sv_subsample(_hr(b=2, h=41, w=50), out.kernel_field, 4)).numpy(),
                               atol=1e-6)


def test_train_sv_rate_mixes_random_fields_into_training_batches():
    hr = _hr(b=2, h=48, w=48)
    fields = Degradation(scale=4, random=True, train_sv_rate=1.0, block_size=16)(hr, generator=gen(0))
    assert fields.kernel is None and fields.kernel_field.shape == (2, 12, 12, 21, 21)
    np.testing.assert_allclose(fields.kernel_field.sum((-1, -2)).numpy(), 1.0, atol=1e-5)
    # one random kernel per 16x16 HR block (4x4 LR pixels), different from block to block
    assert torch.equal(fields.kernel_field[:, 0, 0], fields.kernel_field[:, 3, 3])
    assert not torch.allclose(fields.kernel_field[:, 0, 0], fields.kernel_field[:, 0, 4])
    assert (fields.sigma[..., :2] >= 0.7 - 1e-6).all() and (fields.sigma[..., :2] <= 10 + 1e-6).all()
    np.testing.assert_allclose(fields.lr_clean.numpy(),
                               N.quantize(B.blur_sv_subsample(hr, fields.kernel_field, 4)).numpy(), atol=1e-6)
    # rate 0 keeps the authors' stream: no coin is drawn
    plain = Degradation(scale=4, random=True)(hr, generator=gen(0))
    zero = Degradation(scale=4, random=True, train_sv_rate=0.0)(hr, generator=gen(0))
    assert torch.equal(plain.kernel, zero.kernel) and torch.equal(plain.lr, zero.lr)
    # about half the batches at 0.5; the test degradation ignores the rate
    half = Degradation(scale=4, random=True, train_sv_rate=0.5, block_size=16)
    g = gen(1)
    n_fields = sum(half(hr[:1, :, :16, :16], generator=g).kernel_field is not None for _ in range(200))
    assert 70 < n_fields < 130
    assert Degradation(scale=4, train_sv_rate=1.0)(hr).kernel is not None
    with pytest.raises(ValueError, match='train_sv_rate'):
        Degradation(scale=4, random=True, train_sv_rate=1.5)
    with pytest.raises(ValueError, match='rate_iso'):
        Degradation(scale=4, random=True, train_sv_rate=0.5, rate_iso=1.0)
    assert Degradation.from_options({'scale': 4, 'train_sv_rate': 0.25}, train=True).train_sv_rate == 0.25


def test_from_options_defaults_and_modes():
    opt = {'scale': 3, 'sig_min': None, 'sv_mode': 2, 'test_noise': True, 'noise': None, 'jpeg_low': 50}
    train = Degradation.from_options(opt, train=True)
    assert train.random and train.sv_mode == 0 and train.sig_min == pytest.approx(0.525)
    assert train.sig_max == pytest.approx(7.5) and train.jpeg_low == 50 and not train.adds_noise
    test = Degradation.from_options(opt, train=False, block_size=20)
    assert not test.random and test.sv_mode == 2 and test.block_size == 20
    assert test.adds_noise and test.noise == OPTION_DEFAULTS['noise']
    assert (test.sig1, test.sig2, test.theta, test.rate_iso) == (6.0, 1.0, 0.0, 0.0)
    authors_test_file = {'scale': 4, 'sig_min': 0, 'sig_max': 0, 'sv_mode': 1, 'sv_block_size': 16}
    sv_test = Degradation.from_options(authors_test_file, train=False)
    assert sv_test.block_size == 16 and sv_test.sv_mode == 1
    with pytest.raises(ValueError, match='sig_min'):
        Degradation.from_options(authors_test_file, train=True)
    with pytest.raises(ValueError):
        Degradation.from_options({}, train=True)
    with pytest.raises(ValueError):
        Degradation(scale=4, sv_mode=9)
    with pytest.raises(ValueError):
        Degradation(scale=30)


# ---------------------------------------------------------------- PCA (synthetic)

def test_pca_matrix_recovers_a_known_subspace_and_round_trips():
    g = gen(0)
    basis, _ = torch.linalg.qr(torch.randn(441, 4, generator=g, dtype=torch.float64))
    scales = torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=torch.float64)
    data = 3.0 + (torch.randn(5000, 4, generator=g, dtype=torch.float64) * scales) @ basis.T
    mat = P.pca_matrix(data.view(-1, 21, 21), code_length=4).double()
    np.testing.assert_allclose((mat.T @ mat).numpy(), np.eye(4), atol=1e-6)
    np.testing.assert_allclose((mat.T @ basis).abs().diagonal().numpy(), 1.0, atol=1e-3)  # mean removed
    k, _ = K.random_kernels(6, 4, sig_min=0.7, sig_max=10, generator=g)
    full = P.pca_matrix(torch.randn(1000, 441, generator=g), code_length=441)
    np.testing.assert_allclose(P.pca_decode(P.pca_encode(k, full), full).numpy(), k.numpy(), atol=1e-5)


def test_no_cuda_literals_in_the_module():
    root = Path(__file__).resolve().parents[1] / 'codes' / 'blindsr' / 'degradation'
    for path in root.glob('*.py'):
        assert 'cuda' not in path.read_text().lower(), path
