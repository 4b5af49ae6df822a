"""KULNet: authors' state_dict, golden outputs and intermediates, latent sampling, shapes, losses."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blindsr.kulnet import DLSM, KULNet, lsm_proximal
from kulnet_reference import kulnet_losses
from blindsr.kulnet.operators import blur, blur_down, blur_t, up_blur_t
from blindsr.models.contract import NETWORK_OUTPUTS, capabilities_of
from blindsr.registry import ARCHS

TOL = 1e-5


def load_npz(shared, name):
    data = np.load(shared(f'golden/kulnet/{name}'))
    return {k: torch.from_numpy(data[k]) if data[k].dtype.kind == 'f' else data[k] for k in data.files}


def assert_close(actual, expected, atol=TOL):
    err = (actual - expected).abs().max().item()
    assert err <= atol, f'max abs error {err:.3g} > {atol:g}'


@pytest.fixture(scope='module')
def golden_net():
    from conftest import shared_file
    net = KULNet(scale=4).eval()
    state = torch.load(shared_file('golden/kulnet/kulnet_x4_random_init.pth'), map_location='cpu')
    net.load_state_dict(state, strict=True)
    return net


@pytest.fixture(scope='module')
def fwd():
    from conftest import shared_file
    data = np.load(shared_file('golden/kulnet/kulnet_x4_forward.npz'))
    return {k: torch.from_numpy(data[k]) for k in data.files}


def test_strict_load_and_parameter_count(golden_net):
    assert len(golden_net.state_dict()) == 126
    assert sum(p.numel() for p in golden_net.parameters()) == 2_888_515
    assert sum(p.numel() for p in golden_net.kernel_extra.parameters()) == 1_437_817
    assert sum(p.numel() for p in KULNet(scale=2).parameters()) == 2_888_515


def test_sampled_forward_matches_golden(golden_net, fwd):
    with torch.no_grad():
        sr, kernel, mean, log_std = golden_net(fwd['lr_input'], eps=fwd['epsilon'])
    assert_close(sr, fwd['sr'])
    assert_close(kernel, fwd['kernel'])
    assert_close(mean, fwd['mean'])
    assert_close(log_std, fwd['log_var'])


def test_default_draw_is_the_authors_cpu_stream(golden_net, fwd):
    torch.manual_seed(2)
    with torch.no_grad():
        sr = golden_net(fwd['lr_input'])[0]
    assert_close(sr, fwd['sr'])


def test_deterministic_path_matches_golden_and_repeats(golden_net, fwd):
    with torch.no_grad():
        sr, kernel, _, _ = golden_net(fwd['lr_input'], sample=False)
        sr_zero_eps = golden_net(fwd['lr_input'], eps=torch.zeros_like(fwd['epsilon']))[0]
        det = KULNet(scale=4, sample_latent=False).eval()
        det.load_state_dict(golden_net.state_dict())
        a, b = det(fwd['lr_input'])[0], det(fwd['lr_input'])[0]
    assert_close(sr, fwd['sr_only_mean'])
    assert_close(kernel, fwd['kernel_only_mean'])
    assert_close(sr_zero_eps, fwd['sr_only_mean'])
    assert torch.equal(a, b)
    assert_close(a, fwd['sr_only_mean'])


def test_sampling_is_on_by_default_also_in_eval(golden_net, fwd):
    with torch.no_grad():
        a, b = golden_net(fwd['lr_input'])[0], golden_net(fwd['lr_input'])[0]
    assert not golden_net.training
    assert (a - b).abs().max().item() > 1e-6


def test_sr_part_alone_with_a_fixed_kernel(golden_net, fwd):
    with torch.no_grad():
        sr = golden_net.SR_net(fwd['lr_input'], fwd['fixed_kernel'])
    assert_close(sr, fwd['sr_net_fixed_kernel'])
    deltas = torch.cat([getattr(golden_net.SR_net, f'delta_{i}') for i in range(4)])
    assert_close(deltas, fwd['delta'], 0)


def test_every_stage_matches_the_intermediates(golden_net, fwd, shared):
    trace = {}
    with torch.no_grad():
        golden_net(fwd['lr_input'], eps=fwd['epsilon'], trace=trace)
    for name in ('kulnet_x4_intermediates_a.npz', 'kulnet_x4_intermediates_b.npz'):
        for key, value in load_npz(shared, name).items():
            err = (trace[key] - value).abs().max().item()
            assert err <= TOL, f'{key}: max abs error {err:.3g}'


def test_kernel_is_normalised(golden_net, fwd):
    with torch.no_grad():
        kernel = golden_net(fwd['lr_input'], eps=fwd['epsilon'])[1]
    assert kernel.shape == (1, 21, 21)
    assert kernel.min().item() >= 0
    assert_close(kernel.sum((1, 2)), torch.ones(1), 1e-6)


@pytest.mark.parametrize('scale', [2, 3, 4])
@pytest.mark.parametrize('size', [(17, 23), (16, 16)])
def test_shapes_at_each_scale_and_odd_sizes(one_thread, scale, size):
    torch.manual_seed(0)
    net = KULNet(scale=scale).eval()
    lr = torch.rand(2, 3, *size)
    with torch.no_grad():
        sr, kernel, mean, log_std = net(lr)
    assert sr.shape == (2, 3, scale * size[0], scale * size[1])
    assert kernel.shape == (2, 21, 21)
    assert mean.shape == log_std.shape == (2, 64, *size)
    assert_close(kernel.sum((1, 2)), torch.ones(2), 1e-5)
    assert torch.isfinite(sr).all()


def test_batched_operators_equal_the_per_image_loop():
    torch.manual_seed(0)
    x, y = torch.rand(3, 3, 33, 39), torch.rand(3, 3, 11, 13)
    kernels = torch.softmax(torch.randn(3, 21 * 21), 1).view(3, 21, 21)
    for batched, loop in ((blur_down(x, kernels, 3), [F.interpolate(
            F.conv2d(x[i:i + 1], kernels[i].expand(3, 1, 21, 21), padding=10, groups=3),
            scale_factor=1 / 3, mode='bicubic', align_corners=False) for i in range(3)]),
            (up_blur_t(y, kernels, 3), [F.conv_transpose2d(
                F.interpolate(y[i:i + 1], scale_factor=3, mode='bicubic', align_corners=False),
                kernels[i].expand(3, 1, 21, 21), padding=10, groups=3) for i in range(3)])):
        assert_close(batched, torch.cat(loop), 2e-6)


def _near_ulp(trace, net, i):
    """Pixels where the threshold is within an ulp of R: there the authors' mask rule can jump."""
    r, w = trace[f'res_{i}'], (trace[f'w_{i}'] * getattr(net, f'delta_{i}')).abs()
    return w <= 2 * (torch.nextafter(r.abs(), torch.tensor(float('inf'))) - r.abs())


def test_batched_network_equals_one_image_at_a_time(one_thread):
    torch.manual_seed(0)
    net = DLSM(scale=3).eval()
    lr = torch.rand(2, 3, 11, 13)
    kernels = torch.softmax(torch.randn(2, 21 * 21), 1).view(2, 21, 21)
    with torch.no_grad():
        batched = {}
        net(lr, kernels, trace=batched)
        alone = [{} for _ in range(2)]
        for i in range(2):
            net(lr[i:i + 1], kernels[i:i + 1], trace=alone[i])
    assert_close(batched['x0'], torch.cat([a['x0'] for a in alone]), 1e-6)
    # compare stage by stage until a threshold lies within an ulp of R: from there, rounding-level
    # differences may flip the rule's masks (a jump of |R - u|), which later stages spread
    compared = 0
    for i in range(4):
        for key in (f'res_{i}', f'w_{i}', f'u_{i}'):
            assert_close(batched[key], torch.cat([a[key] for a in alone]), 1e-5)
        jumpy = _near_ulp(batched, net, i) | torch.cat([_near_ulp(a, net, i) for a in alone])
        err = (batched[f'xt_{i}'] - torch.cat([a[f'xt_{i}'] for a in alone])).abs()
        assert err[~jumpy].max().item() <= 1e-5
        compared += 1
        if jumpy.any():
            break
    assert compared >= 1


def test_transposed_blur_is_the_adjoint_of_blur():
    torch.manual_seed(0)
    x, y = torch.randn(2, 3, 30, 27, dtype=torch.float64), torch.randn(2, 3, 30, 27, dtype=torch.float64)
    k = torch.rand(2, 21, 21, dtype=torch.float64)
    lhs, rhs = (blur(x, k) * y).sum(), (x * blur_t(y, k)).sum()
    assert abs(lhs.item() - rhs.item()) < 1e-8 * abs(lhs.item())


def test_proximal_rule_soft_thresholds_and_keeps_the_negative_threshold_quirk():
    r = torch.tensor([0.5, -0.5, 0.05, 0.3, 0.3, 0.3])
    u = torch.tensor([0.0, 0.0, 0.0, 0.2, 0.2, 0.2])
    w = torch.tensor([0.1, 0.1, 0.1, -0.5, 0.0, -0.05])
    out = lsm_proximal(r, w, u)
    # w < 0: inside |w| both masks fire (2r - u); outside, the step moves r away from u by |w|
    expected = torch.tensor([0.4, -0.4, 0.0, 2 * 0.3 - 0.2, 0.2, 0.3 + 0.05])
    assert_close(out, expected, 1e-7)


def test_registry_and_capabilities():
    assert ARCHS.get('KULNet') is KULNet
    caps = capabilities_of(KULNet(scale=2))
    assert caps.estimates_kernel and caps.makes_sr and not caps.takes_kernel
    assert caps.outputs == ('sr', 'est_kernel', 'latent_mean', 'latent_log_std')
    assert all(o in NETWORK_OUTPUTS for o in caps.outputs)
    assert caps.estimator == 'kernel_extra' and hasattr(KULNet(scale=2), caps.estimator)
    assert caps.frozen == () and caps.trains_estimator


def test_losses_and_gradients_match_golden(golden_net, fwd, shared):
    ref = load_npz(shared, 'kulnet_x4_loss.npz')
    net = KULNet(scale=4).train()
    net.load_state_dict(golden_net.state_dict())
    sr, kernel, mean, log_std = net(fwd['lr_input'], eps=fwd['epsilon'])
    assert_close(sr, ref['sr_train'])
    terms = kulnet_losses(sr, kernel, mean, log_std, ref['gt'], ref['real_kernel'], scale=4)
    for name in ('l_pix', 'l_ker', 'l_kl', 'l_all'):
        assert abs(terms[name].item() - float(ref[name])) <= 1e-6 * max(1.0, abs(float(ref[name]))), name
    terms['l_all'].backward()
    # gradients cross the proximal step's integer masks, so float-level differences in R can move a
    # few pixels across a mask boundary: compare relative to each tensor's scale
    grads = {'grad_delta': torch.cat([getattr(net.SR_net, f'delta_{i}').grad for i in range(4)]),
             'grad_conv_end_bias': net.kernel_extra.Conv_tail.Conv_end.bias.grad,
             'grad_sr_conv_weight': net.SR_net.conv.weight.grad}
    for name, grad in grads.items():
        assert_close(grad, ref[name], 2e-3 * ref[name].abs().max().item())
    params = dict(net.named_parameters())
    sums = torch.tensor([params[n].grad.abs().sum().item() for n in ref['grad_names']], dtype=torch.float64)
    rel = ((sums - ref['grad_abs_sum']).abs() / ref['grad_abs_sum'].clamp_min(1e-30)).max().item()
    assert rel < 2e-3, f'grad |sum| relative error {rel:.3g}'


def test_framework_loss_terms_give_the_authors_values(golden_net, fwd, shared):
    from blindsr.losses.terms import build_loss_terms, term_inputs
    ref = load_npz(shared, 'kulnet_x4_loss.npz')
    train_opt = {'pixel_criterion': 'l1', 'pixel_weight': 1.0, 'kernel_criterion': 'l1', 'kernel_weight': 1.0,
                 'pixel_criterion_lr': None, 'pixel_weight_lr': None,
                 'losses': [{'type': 'kl', 'weight': 0.001, 'compares': 'latent', 'name': 'l_kl'}]}
    caps = capabilities_of(golden_net)
    terms = build_loss_terms(train_opt, caps, scale=4)
    with torch.no_grad():
        outputs = dict(zip(caps.outputs, golden_net(fwd['lr_input'], eps=fwd['epsilon'])))
    batch = {'lr': fwd['lr_input'], 'hr': ref['gt'], 'kernel': ref['real_kernel']}
    values = {t.name: t.weight * t.criterion(*term_inputs(t, outputs, batch, None)).item() for t in terms}
    assert set(values) == {'l_pix', 'l_ker', 'l_kl'}
    for name, value in values.items():
        assert abs(value - float(ref[name])) <= 1e-6 * max(1.0, abs(float(ref[name]))), name
    assert abs(sum(values.values()) - float(ref['l_all'])) <= 1e-6
