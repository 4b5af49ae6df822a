"""Pixel criteria (authors' names and semantics) and the LR-resolution kernel loss."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blindsr.losses.kernel_loss import KernelLoss, lr_field_from_authors_layout
from blindsr.losses.pixel_loss import CharbonnierLoss, build_loss
from blindsr.registry import LOSSES


def test_registered_names():
    assert {'l1', 'l2', 'cb'} <= set(LOSSES.names())


def test_pixel_values():
    x = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    y = torch.tensor([[0.5, 1.0], [0.0, 1.0]])
    assert build_loss('l1')(x, y).item() == pytest.approx((0.5 + 0 + 2 + 2) / 4)
    assert build_loss('l2')(x, y).item() == pytest.approx((0.25 + 0 + 4 + 4) / 4)
    # authors' Charbonnier: sum(sqrt(d^2 + 1e-6)), a sum, eps added to d^2
    expected = 2 * np.sqrt(4 + 1e-6) + np.sqrt(0.25 + 1e-6) + np.sqrt(1e-6)
    assert build_loss('cb')(x, y).item() == pytest.approx(expected, rel=1e-6)
    assert build_loss('cb')(x, x).item() == pytest.approx(4e-3, rel=1e-5)
    assert CharbonnierLoss(reduction='mean')(x, y).item() == pytest.approx(expected / 4, rel=1e-6)


def test_build_loss_unknown_lists_valid_names():
    with pytest.raises(KeyError) as err:
        build_loss('l3')
    msg = str(err.value)
    assert all(name in msg for name in ('l1', 'l2', 'cb'))
    with pytest.raises(ValueError, match='reduction'):
        CharbonnierLoss(reduction='none')


@pytest.fixture
def golden(shared):
    return np.load(shared('golden/manet/kernel_loss.npz'))


def test_kernel_loss_golden(golden):
    field = lr_field_from_authors_layout(torch.from_numpy(golden['kernel_lr']))
    assert field.shape == (2, 6, 5, 21, 21)
    assert torch.allclose(field.sum((-1, -2)), torch.ones(2, 6, 5), atol=1e-5)
    real = torch.from_numpy(golden['real_K'])
    value = KernelLoss(int(golden['scale']), 'l1')(field, real)
    assert value.item() == pytest.approx(float(golden['l_ker']), rel=1e-5)
    # an SV ground truth field holding the same kernel everywhere gives the same value
    real_field = real[:, None, None].expand_as(field).contiguous()
    assert KernelLoss(4)(field, real_field).item() == pytest.approx(float(golden['l_ker']), rel=1e-5)


def _authors_hr_value(field, real, scale, crit):
    """The authors' computation, restated: HR-nearest kernels, crit, / HR positions."""
    b, h, w, l, _ = field.shape
    up = F.interpolate(field.flatten(3).permute(0, 3, 1, 2), scale_factor=scale, mode='nearest')
    fake = up.flatten(2).permute(0, 2, 1).reshape(b, -1, l, l)          # (B, H*W, l, l)
    gt = real.unsqueeze(1).expand(-1, fake.size(1), -1, -1)
    return crit(fake * 1e4, gt * 1e4) / fake.size(1)


@pytest.mark.parametrize('name', ['l1', 'l2', 'cb'])
@pytest.mark.parametrize('scale', [2, 4])
def test_kernel_loss_equals_hr_computation(golden, name, scale):
    field = lr_field_from_authors_layout(torch.from_numpy(golden['kernel_lr'])).double()
    real = torch.from_numpy(golden['real_K']).double()
    ours = KernelLoss(scale, name)(field, real)
    theirs = _authors_hr_value(field, real, scale, build_loss(name))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)


def test_kernel_loss_gradient_and_shapes():
    torch.manual_seed(0)
    pred = torch.softmax(torch.randn(1, 3, 2, 9), -1).reshape(1, 3, 2, 3, 3).requires_grad_()
    gt = torch.full((1, 3, 3), 1 / 9)
    loss = KernelLoss(2)(pred, gt)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    # value scale: mean |d| * 1e4 / (h*w*s^2)
    expected = (pred.detach() - 1 / 9).abs().mean().item() * 1e4 / (3 * 2 * 4)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match='matches neither'):
        KernelLoss(2)(pred, torch.zeros(1, 5, 5))
    with pytest.raises(ValueError, match=r'\(B, h, w, l, l\)'):
        KernelLoss(2)(pred[0], gt)
