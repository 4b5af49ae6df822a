"""Metrics against the authors' values in ../shared/golden/manet/metrics.npz, plus edge cases."""
import math

import numpy as np
import pytest
import torch

from blindsr.metrics import (bgr2ycbcr, calculate_psnr, calculate_ssim, kernel_field_psnr,
                             kernel_mnc, kernel_psnr, lr_psnr_y, psnr_y, rgb2ycbcr, ssim_y, to_y)
from blindsr.utils.image_io import tensor2img

REL = 1e-6


@pytest.fixture
def golden(shared):
    data = np.load(shared('golden/manet/metrics.npz'))
    return {k: data[k] for k in data.files}


def _unchanged(arr, fn):
    before = arr.copy()
    out = fn(arr)
    np.testing.assert_array_equal(arr, before)
    return out


def test_rgb_psnr_ssim_crop4(golden):
    sr = golden['img1_uint8_bgr'] / 255.0
    gt = golden['img2_uint8_bgr'] / 255.0
    assert calculate_psnr(sr * 255, gt * 255, crop=4) == pytest.approx(golden['psnr_rgb_crop4'], rel=REL)
    assert calculate_ssim(sr * 255, gt * 255, crop=4) == pytest.approx(golden['ssim_rgb_crop4'], rel=REL)


def test_rgb_uint8_nocrop(golden):
    a, b = golden['img1_uint8_bgr'], golden['img2_uint8_bgr']
    assert _unchanged(a, lambda x: calculate_psnr(x, b)) == pytest.approx(golden['psnr_rgb_uint8_nocrop'], rel=REL)
    assert _unchanged(a, lambda x: calculate_ssim(x, b)) == pytest.approx(golden['ssim_rgb_uint8_nocrop'], rel=REL)


def test_bgr2ycbcr_float_uint8_full(golden):
    img1, img2 = golden['img1_uint8_bgr'], golden['img2_uint8_bgr']
    f1 = img1 / 255.0
    y1 = _unchanged(f1, lambda x: bgr2ycbcr(x, only_y=True))     # the authors' version scales in place
    np.testing.assert_allclose(y1, golden['y1_float'], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bgr2ycbcr(img2 / 255.0), golden['y2_float'], rtol=1e-12, atol=1e-12)
    assert y1.min() >= 16 / 255 - 1e-12 and y1.max() <= 235 / 255 + 1e-12
    yu = _unchanged(img1, lambda x: bgr2ycbcr(x, only_y=True))
    assert yu.dtype == np.uint8
    np.testing.assert_array_equal(yu, golden['y1_uint8'])
    np.testing.assert_array_equal(bgr2ycbcr(img2), golden['y2_uint8'])
    np.testing.assert_allclose(bgr2ycbcr(f1, only_y=False), golden['ycbcr1_float_full'], rtol=1e-12, atol=1e-12)
    # RGB order gives the same numbers on the channel-reversed image
    np.testing.assert_allclose(rgb2ycbcr(f1[:, :, ::-1], only_y=False), golden['ycbcr1_float_full'], rtol=1e-12)


def test_y_psnr_ssim_crop4(golden):
    img1, img2 = golden['img1_uint8_bgr'], golden['img2_uint8_bgr']
    assert psnr_y(img1, img2, crop=4) == pytest.approx(golden['psnr_y_crop4'], rel=REL)
    assert ssim_y(img1, img2, crop=4) == pytest.approx(golden['ssim_y_crop4'], rel=REL)
    # float [0, 1] input, as test.py passes it, gives the same values
    assert psnr_y(img1 / 255.0, img2 / 255.0, crop=4) == pytest.approx(golden['psnr_y_crop4'], rel=REL)
    # the same from the Y arrays directly
    y1, y2 = golden['y1_float'] * 255, golden['y2_float'] * 255
    assert calculate_psnr(y1, y2, crop=4) == pytest.approx(golden['psnr_y_crop4'], rel=REL)
    assert calculate_ssim(y1, y2, crop=4) == pytest.approx(golden['ssim_y_crop4'], rel=REL)


def test_y_metrics_from_rgb_tensors(golden):
    """An RGB tensor goes through tensor2img (quantised BGR) first, as in test.py."""
    img1, img2 = golden['img1_uint8_bgr'], golden['img2_uint8_bgr']
    t1 = torch.from_numpy(img1[:, :, ::-1].transpose(2, 0, 1) / 255.0).float()[None]
    t2 = torch.from_numpy(img2[:, :, ::-1].transpose(2, 0, 1) / 255.0).float()
    assert psnr_y(t1, t2, crop=4) == pytest.approx(golden['psnr_y_crop4'], rel=REL)
    assert lr_psnr_y(t1, t2, crop=4) == pytest.approx(golden['psnr_y_crop4'], rel=REL)
    rgb1, rgb2 = img1[:, :, ::-1], img2[:, :, ::-1]
    assert psnr_y(rgb1, rgb2, crop=4, input_order='rgb') == pytest.approx(golden['psnr_y_crop4'], rel=REL)


def test_kernel_metrics(golden):
    est, gt = golden['kernel_est'], golden['kernel_gt']
    assert kernel_psnr(est, gt) == pytest.approx(golden['kernel_psnr'], rel=REL)
    assert kernel_psnr(est, gt, border=2) == pytest.approx(golden['kernel_psnr_border2'], rel=REL)
    assert kernel_mnc(est, gt) == pytest.approx(golden['kernel_mnc'], rel=REL)
    assert kernel_psnr(torch.from_numpy(est), torch.from_numpy(gt)) == pytest.approx(golden['kernel_psnr'], rel=REL)
    assert kernel_psnr(gt, gt) == math.inf


def test_kernel_field_psnr(golden):
    est, gt = golden['kernel_est'], golden['kernel_gt']
    # a constant field equals the single-kernel PSNR
    f_est = np.broadcast_to(est, (3, 4, 21, 21))
    f_gt = np.broadcast_to(gt, (3, 4, 21, 21))
    assert kernel_field_psnr(f_est, f_gt) == pytest.approx(golden['kernel_psnr'], rel=REL)
    # mixed field: mean of the per-position PSNRs (not the PSNR of the mean error)
    f_est2 = np.stack([est, 0.5 * (est + gt)])[None]            # (1, 2, 21, 21)
    f_gt2 = np.stack([gt, gt])[None]
    expected = 0.5 * (golden['kernel_psnr'] + golden['kernel_psnr'] + 20 * math.log10(2))
    assert kernel_field_psnr(f_est2, f_gt2) == pytest.approx(expected, rel=REL)
    with pytest.raises(ValueError, match='shape'):
        kernel_field_psnr(f_est, f_gt[:2])


def test_tensor2img(golden):
    t = torch.from_numpy(golden['tensor2img_in'])
    before = t.clone()
    out = tensor2img(t)
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3)
    np.testing.assert_array_equal(out, golden['tensor2img_out'])
    np.testing.assert_array_equal(tensor2img(t[None]), golden['tensor2img_out'])
    assert torch.equal(t, before)
    k = tensor2img(torch.from_numpy(golden['kernel_gt'])[None, None], out_type=np.float32)
    assert k.shape == (21, 21) and k.dtype == np.float32
    np.testing.assert_array_equal(k, golden['kernel_gt'])


def test_psnr_edge_cases():
    a = np.full((20, 20), 100.0)
    b = a + 10.0
    assert calculate_psnr(a, b) == pytest.approx(20 * math.log10(255 / 10))
    assert calculate_psnr(a, a) == math.inf
    assert calculate_psnr(a / 255, b / 255, max_value=1.0) == pytest.approx(20 * math.log10(25.5))
    assert calculate_ssim(a, a) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='shape'):
        calculate_psnr(a, b[:10])
    with pytest.raises(ValueError, match='leaves nothing'):
        calculate_psnr(a, b, crop=10)
    with pytest.raises(ValueError, match='11x11'):
        calculate_ssim(a, b, crop=5)


def test_to_y_gray_passthrough():
    g = np.linspace(0, 1, 30 * 20).reshape(30, 20)
    np.testing.assert_allclose(to_y(g), g * 255)
    np.testing.assert_allclose(to_y(g[:, :, None]), g * 255)
