"""USRNet (torch.fft port): strict loading and the authors' 26.11 dB with the true kernel."""
import numpy as np
import pytest
import torch
from blindsr.archs.usrnet_arch import USRNet, load_usrnet, psf2otf
from blindsr.fkp.io import load_kernel_mat, read_rgb, rgb_to_tensor, tensor_to_uint8
from blindsr.fkp.nonblind import usrnet_sr
from blindsr.metrics import psnr_y


def test_strict_load_and_size(shared):
    net = load_usrnet(shared('pretrained_models/official/usrnet_tiny.pth'))
    assert sum(p.numel() for p in net.parameters()) == 590332
    assert not any(p.requires_grad for p in net.parameters())


def test_psf2otf_matches_circular_convolution():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 16, 12)
    k = torch.rand(1, 1, 5, 5)
    via_fft = torch.fft.ifft2(psf2otf(k, (16, 12)) * torch.fft.fft2(x)).real
    # true (flipped) convolution with circular boundary, kernel centre at k//2
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode='circular')
    direct = torch.nn.functional.conv2d(padded, k.flip([2, 3]))
    assert torch.allclose(via_fft, direct, atol=1e-5)


def test_gt_kernel_psnr_on_fkp_test(shared):
    """Spec: ported USRNet + GT kernel gives 26.11 dB PSNR_Y (crop 4) on the Test image at x4."""
    net = load_usrnet(shared('pretrained_models/official/usrnet_tiny.pth'))
    root = 'datasets/FKP_Test'
    lr = rgb_to_tensor(read_rgb(shared(f'{root}/DIPFKP_lr_x4/102061.png')))
    kernel = load_kernel_mat(shared(f'{root}/DIPFKP_gt_k_x4/102061.mat'))
    hr = read_rgb(shared(f'{root}/HR/102061.png'))
    hr = hr[:hr.shape[0] // 4 * 4, :hr.shape[1] // 4 * 4]
    sr = tensor_to_uint8(usrnet_sr(net, lr, kernel, 4))       # saved as 8-bit PNG by the authors
    assert sr.shape == hr.shape
    assert psnr_y(sr, hr, crop=4, input_order='rgb') == pytest.approx(26.11, abs=0.05)


def test_tiny_config_shapes():
    net = USRNet.tiny().eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 13, 10), torch.ones(1, 1, 5, 5) / 25, 3, torch.zeros(1, 1, 1, 1))
    assert out.shape == (1, 3, 39, 30)
    assert np.isfinite(out.numpy()).all()
