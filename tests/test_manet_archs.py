"""MANet networks: authors' checkpoints and golden outputs, the MAConv fix, checkpoints, tiling."""
import functools
import logging

import numpy as np
import pytest
import torch

from blindsr.archs.kernel_field import field_to_maps, hr_kernel_field
from blindsr.degradation.pca import pca_encode
from blindsr.archs.maconv_arch import MABlock, MAConv
from blindsr.archs.manet_arch import MANet
from blindsr.archs.manet_stages_arch import MANet_s1, MANet_s2, MANet_s3
from blindsr.archs.rrdb_sft_arch import RRDBSFTNet
from blindsr.archs.tiling import exact_overlap, tiled_forward
from blindsr.registry import ARCHS
from blindsr.utils.checkpoint_io import load_state_dict, save_state_dict

S3_ARGS = dict(in_nc=3, out_nc=3, nf=64, nb=10, gc=32, scale=4, code_length=15, kernel_size=21,
               manet_nf=128, manet_nb=1, split=2)
PCA_X4 = 'pretrained_models/official/pca_matrix_aniso21_15_x4.pth'


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def load_npz(shared, name):
    data = np.load(shared(f'golden/manet/{name}'))
    return {k: torch.from_numpy(data[k]) for k in data.files}


def assert_close(actual, expected, atol):
    err = (actual - expected).abs().max().item()
    assert err <= atol, f'max abs error {err:.3g} > {atol:g}'


@functools.lru_cache(maxsize=1)
def _golden_s3(path):
    net = MANet_s3(**S3_ARGS).eval()
    load_state_dict(net, path, strict=True)
    return net


@pytest.fixture
def s3_golden(shared):
    """The golden stage-3 network (full size), built once; tests must not modify it."""
    return _golden_s3(str(shared('golden/manet/manet_s3_random.pth')))


# --------------------------------------------------------------------------- registry
def test_registered_names():
    for name in ('MANet', 'MANet_s1', 'MANet_s2', 'MANet_s3', 'RRDB_SFT'):
        assert name in ARCHS
    assert ARCHS.get('MANet_s3') is MANet_s3


# --------------------------------------------------------------------------- MAConv
def test_maconv_matches_golden(shared):
    g = load_npz(shared, 'maconv.npz')
    torch.manual_seed(0)
    conv = MAConv(64, 64, 3, 1, 1, True, split=2, reduction=2).eval()
    weights = {k[2:]: v for k, v in g.items() if k.startswith('w.')}
    # same construction order as the authors: a seeded init draws the same weights
    assert all(torch.equal(conv.state_dict()[k], v) for k, v in weights.items())
    conv.load_state_dict(weights, strict=True)
    assert n_params(conv) == 21728
    with torch.no_grad():
        assert_close(conv(g['input']), g['output'], 1e-5)


@pytest.mark.parametrize('c_out', [32, 128, 65])
def test_maconv_in_ne_out_gives_requested_width(c_out):
    conv = MAConv(64, c_out)
    assert sum(conv.out_split) == c_out
    assert conv(torch.randn(2, 64, 5, 7)).shape == (2, c_out, 5, 7)


def test_maconv_split_sizes_and_block():
    conv = MAConv(63, 63, split=3)
    assert conv.in_split == [21, 21, 21]
    block = MABlock(16, split=4)
    x = torch.randn(1, 16, 6, 6)
    assert block(x).shape == x.shape
    with pytest.raises(ValueError):
        MAConv(8, 8, split=1)


# --------------------------------------------------------------------------- stage 1
def test_manet_s1_golden(shared):
    sd = torch.load(shared('golden/manet/manet_s1_random.pth'), map_location='cpu')
    g = load_npz(shared, 'manet_s1_forward.npz')
    torch.manual_seed(0)
    net = MANet_s1(in_nc=3, scale=4, kernel_size=21, manet_nf=128, manet_nb=1, split=2).eval()
    assert list(net.state_dict()) == list(sd)          # same keys, same order
    assert all(torch.equal(net.state_dict()[k], v) for k, v in sd.items())   # same seeded init
    load_state_dict(net, sd, strict=True)
    assert n_params(net) == n_params(net.kernel_estimation) == 1810361
    with torch.no_grad():
        sr, field = net(g['input'])                    # 20x24: not a multiple of 8
    assert field.shape == (1, 20, 24, 21, 21)
    assert_close(field_to_maps(field), g['kernel_lr'], 1e-7)
    assert_close(hr_kernel_field(field, 4), g['kernel'], 1e-7)
    assert_close(sr, g['out'], 1e-5)
    assert_close(field.sum((-1, -2)), torch.ones(1, 20, 24), 1e-5)
    assert net.capabilities.makes_sr is False and net.capabilities.estimates_kernel


def test_manet_estimator_alone_and_odd_sizes():
    est = MANet(nc=(8, 16), kernel_size=5).eval()
    for h, w in [(1, 1), (7, 9), (16, 8)]:
        field = est(torch.rand(2, 3, h, w))
        assert field.shape == (2, h, w, 5, 5)
        assert_close(field.sum((-1, -2)), torch.ones(2, h, w), 1e-5)
    with pytest.raises(ValueError):
        MANet(nb=0)


# --------------------------------------------------------------------------- stage 3
def test_manet_s3_keys_and_parameter_counts(shared, s3_golden):
    lines = shared('golden/manet/manet_s3_keys.txt').read_text().splitlines()
    expected = [line.split('\t') for line in lines if line and not line.startswith('#')]
    own = s3_golden.state_dict()
    assert [k for k, _ in expected] == list(own)
    assert all(str(list(own[k].shape)) == shape for k, shape in expected)
    assert own['pca_matrix'].shape == (1, 441, 15, 1, 1)
    assert n_params(s3_golden) == 9896617
    assert n_params(s3_golden) - n_params(s3_golden.kernel_estimation) == 8086256


def test_manet_s3_seeded_init_matches_authors(shared):
    sd = torch.load(shared('golden/manet/manet_s3_random.pth'), map_location='cpu')
    torch.manual_seed(0)
    net = MANet_s3(pca_path=shared(PCA_X4), **S3_ARGS)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in sd.items())


def test_manet_s3_golden_forward(shared, s3_golden):
    g = load_npz(shared, 'manet_s3_forward.npz')
    with torch.no_grad():
        sr, field = s3_golden(g['input'])
    assert_close(field_to_maps(field), g['kernel_lr'], 1e-7)
    assert_close(hr_kernel_field(field, 4), g['kernel'], 1e-7)
    code = pca_encode(field, s3_golden.pca_matrix).permute(0, 3, 1, 2)
    assert_close(code, g['pca_code'], 1e-5)
    assert_close(sr, g['out'], 1e-5)


def test_manet_s3_estimator_gets_no_gradient():
    net = MANet_s3(nf=8, nb=1, gc=4, manet_nf=8, pca_matrix=torch.randn(441, 15))
    sr, field = net(torch.rand(1, 3, 8, 8))
    sr.mean().backward()
    assert not field.requires_grad
    assert all(p.grad is None for p in net.kernel_estimation.parameters())
    assert net.conv_first.weight.grad is not None


# --------------------------------------------------------------------------- stage 2
def test_manet_s2_matches_s3_given_its_field(shared, s3_golden):
    """Stage 2 fed stage 3's estimated field is stage 3 (links s2 to the golden output)."""
    g = load_npz(shared, 'manet_s3_forward.npz')
    s2 = MANet_s2(nf=64, nb=10, gc=32, scale=4, code_length=15, kernel_size=21).eval()
    assert torch.count_nonzero(s2.pca_matrix) == 0          # no pca_path: zeros until loaded
    state = {k: v for k, v in s3_golden.state_dict().items() if not k.startswith('kernel_estimation.')}
    load_state_dict(s2, state, strict=True)                   # also fills pca_matrix
    with torch.no_grad():
        _, field = s3_golden(g['input'])
        sr, k = s2(g['input'], field)
    assert k is field
    assert_close(sr, g['out'], 1e-5)


def test_manet_s2_invariant_kernel_equals_constant_field(shared):
    s2 = MANet_s2(nf=8, nb=1, gc=4, scale=3, pca_path=shared(PCA_X4)).eval()
    assert s2.pca_matrix.shape == (1, 441, 15, 1, 1)
    kernel = torch.softmax(torch.randn(2, 441), -1).view(2, 21, 21)
    lr = torch.rand(2, 3, 5, 6)
    with torch.no_grad():
        sr, k = s2(lr, kernel)
        sr_field, _ = s2(lr, kernel[:, None, None].expand(2, 5, 6, 21, 21))
    assert sr.shape == (2, 3, 15, 18) and k is kernel
    assert_close(sr, sr_field, 1e-6)
    with pytest.raises(ValueError):
        s2(lr, torch.rand(2, 4, 6, 21, 21))


def test_option_style_kwargs_accepted():
    """The option loader passes every network_G key (nulls allowed) plus scale/pca_path..."""
    common = dict(in_nc=3, out_nc=None, nf=None, nb=None, gc=None, scale=2, code_length=15,
                  kernel_size=21, pca_path=None, manet_nf=8, manet_nb=None, split=None)
    s1 = MANet_s1(upscale=2, **common)
    assert s1.scale == 2
    s2 = MANet_s2(**{**common, 'nb': 1})
    assert len(s2.RRDB_trunk) == 1 and s2.scale == 2
    s3 = MANet_s3(**{**common, 'nb': 1})
    assert s3.kernel_estimation.m_head.out_channels == 8
    with pytest.raises(ValueError):
        MANet_s2(pca_matrix=torch.zeros(400, 15))


# --------------------------------------------------------------------------- checkpoints
def test_checkpoint_module_prefix_and_roundtrip(shared, tmp_path):
    path = shared('golden/manet/manet_s1_random.pth')
    sd = torch.load(path, map_location='cpu')
    net = MANet_s1(manet_nf=128)
    load_state_dict(net, {f'module.{k}': v for k, v in sd.items()}, strict=True)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in sd.items())
    out = save_state_dict(torch.nn.DataParallel(net), tmp_path / 'G.pth')
    saved = torch.load(out, map_location='cpu')
    assert list(saved) == list(sd)                             # authors' layout, no prefix
    fresh = MANet_s1(manet_nf=128)
    load_state_dict(fresh, out, strict=True)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in sd.items())


def test_checkpoint_non_strict_logs_and_strict_raises(shared, caplog):
    """Stage chaining: stage-1 weights into a stage-3 net (the authors' pretrain_model_K)."""
    sd = torch.load(shared('golden/manet/manet_s1_random.pth'), map_location='cpu')
    net = MANet_s3(nf=8, nb=1, gc=4)
    with pytest.raises(ValueError, match='does not match MANet_s3: .* missing'):
        load_state_dict(net, sd, strict=True)
    extra = {**sd, 'stray.weight': torch.zeros(1), 'conv_first.weight': torch.zeros(1, 1, 1, 1)}
    with caplog.at_level(logging.INFO, logger='blindsr.utils.checkpoint_io'):
        missing, unexpected = load_state_dict(net, extra, strict=False)
    assert torch.equal(net.kernel_estimation.m_tail.weight, sd['kernel_estimation.m_tail.weight'])
    assert 'conv_first.weight' in missing and 'pca_matrix' in missing
    assert set(unexpected) == {'stray.weight', 'conv_first.weight'}
    assert 'stray.weight' in caplog.text and 'conv_first.weight' in caplog.text


# --------------------------------------------------------------------------- receptive field
def _support_radius(fn, x, y, xpos):
    """Largest |offset| of inputs with a nonzero gradient for output pixel (y, xpos)."""
    x = x.clone().requires_grad_(True)
    out = fn(x)
    out[..., y, xpos].sum().backward()
    nz = x.grad.abs().sum((0, 1)).nonzero()
    return max((nz[:, 0] - y).abs().max().item(), (nz[:, 1] - xpos).abs().max().item())


@pytest.mark.parametrize('nb', [1, 2])
def test_receptive_radius_of_estimator(nb):
    torch.manual_seed(0)
    est = MANet(nc=(4, 8), nb=nb, kernel_size=3).double()
    x = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    radii = [_support_radius(est.logits, x, y, xp) for y, xp in [(32, 32), (33, 33)]]
    assert max(radii) == est.receptive_radius == 8 * nb + 3   # 11: the authors' 22x22 field


def test_receptive_radius_of_rrdb_sft():
    torch.manual_seed(0)
    net = RRDBSFTNet(nf=4, nb=1, gc=2, scale=1, code_length=2).double()
    x = torch.rand(1, 3, 48, 48, dtype=torch.float64)
    code = torch.rand(1, 2, 48, 48, dtype=torch.float64)
    assert _support_radius(lambda t: net(t, code), x, 24, 24) == net.receptive_radius == 20
    assert _support_radius(lambda c: net(x, c), code, 24, 24) == 19   # the code skips conv_first


# --------------------------------------------------------------------------- tiling
def test_tiled_s1_equals_untiled_exactly_at_exact_overlap():
    torch.manual_seed(0)
    net = MANet_s1(manet_nf=8, kernel_size=9).double().eval()
    x = torch.rand(1, 3, 61, 53, dtype=torch.float64)          # not multiples of 8
    with torch.no_grad():
        ref_sr, ref_field = net(x)
    ov = exact_overlap(net)
    assert ov == 22
    sr, field = tiled_forward(net, x, tile=ov + 10, overlap=ov)
    assert_close(sr, ref_sr, 1e-12)
    assert_close(field, ref_field, 1e-12)                     # borders included
    _, short = tiled_forward(net, x, tile=ov + 10, overlap=ov - 4)
    assert (short - ref_field).abs().max() > 1e-12            # the test has teeth


def test_tiled_s3_and_s2_equal_untiled():
    torch.manual_seed(0)
    s3 = MANet_s3(nf=4, nb=1, gc=2, manet_nf=4, kernel_size=5, code_length=3, scale=2,
                  pca_matrix=torch.randn(25, 3)).double().eval()
    x = torch.rand(1, 3, 100, 90, dtype=torch.float64)
    with torch.no_grad():
        ref_sr, ref_field = s3(x)
    ov = exact_overlap(s3)
    assert ov == 2 * (11 + 20)
    sr, field = tiled_forward(s3, x, tile=ov + 20, overlap=ov)
    assert sr.shape == (1, 3, 200, 180)
    assert_close(sr, ref_sr, 1e-12)
    assert_close(field, ref_field, 1e-12)

    s2 = MANet_s2(nf=4, nb=1, gc=2, kernel_size=5, code_length=3, scale=2,
                  pca_matrix=s3.pca_matrix).double().eval()
    s2.load_state_dict({k: v for k, v in s3.state_dict().items() if not k.startswith('kernel_est')})
    sr2, field2 = tiled_forward(s2, x, ov + 20, ov, 2, kernel=ref_field)
    assert_close(sr2, ref_sr, 1e-12)
    assert torch.equal(field2, ref_field)
