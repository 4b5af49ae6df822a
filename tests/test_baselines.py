"""Baselines for the shipped-weights evaluation: mean kernel, stage 2 with it, bicubic."""
import torch

from blindsr.registry import ARCHS


def test_mean_kernel_is_a_centred_kernel_field():
    net = ARCHS.get('MeanKernel')(scale=4)
    _, field = net(torch.rand(2, 3, 5, 7))
    assert field.shape == (2, 5, 7, 21, 21)
    k = field[0, 0, 0].double()
    assert abs(k.sum().item() - 1) < 1e-6
    grid = torch.arange(21, dtype=torch.float64)
    # the authors' kernels sit in the top-left 18x18 at x4: centroid (8.5, 8.5)
    assert abs((k.sum(1) * grid).sum().item() - 8.5) < 1e-3 and abs((k.sum(0) * grid).sum().item() - 8.5) < 1e-3
    assert net.state_dict() == {}          # nothing to load or save
    torch.testing.assert_close(field, ARCHS.get('MeanKernel')(scale=4)(torch.rand(2, 3, 5, 7))[1])  # deterministic


def test_stage2_with_mean_kernel_loads_stage2_weights():
    torch.manual_seed(0)
    s2 = ARCHS.get('MANet_s2')(nf=8, nb=1, gc=4, pca_path='pretrained_models/pca_matrix_aniso21_15_x4.pth')
    mean = ARCHS.get('MANet_s2_mean')(nf=8, nb=1, gc=4)
    mean.load_state_dict(s2.state_dict(), strict=True)
    lr = torch.rand(1, 3, 8, 8)
    sr, field = mean(lr)
    torch.testing.assert_close(sr, s2(lr, field[:, 0, 0])[0])


def test_bicubic():
    net = ARCHS.get('Bicubic')(scale=3)
    sr = net(torch.rand(1, 3, 5, 6))
    assert sr.shape == (1, 3, 15, 18) and 0 <= sr.min() and sr.max() <= 1
    assert net.capabilities.outputs == ('sr',) and not net.capabilities.estimates_kernel


def test_mean_kernel_of_a_training_mix_with_random_fields():
    from blindsr.archs.baselines_arch import mean_training_kernel
    from blindsr.degradation.sv_fields import sv_block_kernels
    si, fields = mean_training_kernel(4).double(), mean_training_kernel(4, train_sv_rate=1.0).double()
    torch.testing.assert_close(mean_training_kernel(4, train_sv_rate=0.5).double(), (si + fields) / 2,
                               atol=1e-7, rtol=0)
    assert abs(fields.sum().item() - 1) < 1e-6
    # the fields' variances are not ordered, so their mean kernel is wider than the authors' one
    assert fields.max() < 0.8 * si.max()
    # and it is the mean of the kernels the training fields are made of (sv_mode 5)
    blocks, _ = sv_block_kernels(5, (40 * 50, 40 * 100), 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(blocks.reshape(-1, 21, 21).double().mean(0), fields, atol=3e-4, rtol=0)
    net = ARCHS.get('MeanKernel')(scale=4, train_sv_rate=1.0)
    torch.testing.assert_close(net(torch.rand(1, 3, 2, 2))[1][0, 1, 1].double(), fields, atol=1e-7, rtol=0)
