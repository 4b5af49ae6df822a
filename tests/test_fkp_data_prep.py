"""Test-set preparation for the FKP protocols: layout, file formats, degradation geometry."""
import numpy as np
import pytest
import scipy.io as sio
from blindsr.fkp.data_prep import (
    degrade,
    lr_to_gt_kernel_path,
    lr_to_hr_path,
    modcrop,
    prepare_dipfkp_testset,
    prepare_kernelganfkp_testset,
)
from blindsr.fkp.io import load_kernel_mat, read_rgb, save_png_like_imsave
from blindsr.fkp.kernels import analytic_kernel, kernelgan_x4_kernel
from PIL import Image
from scipy import ndimage


@pytest.fixture
def hr_folder(tmp_path):
    rng = np.random.RandomState(0)
    (tmp_path / 'HR').mkdir()
    for name, size in (('b', (50, 42)), ('a', (37, 45))):
        Image.fromarray(rng.randint(0, 256, size + (3,), dtype=np.uint8)).save(tmp_path / 'HR' / f'{name}.png')
    return tmp_path


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_dipfkp_layout(hr_folder, scale):
    paths = prepare_dipfkp_testset(hr_folder, scale, seed=1)
    k = min(4 * scale + 3, 21)
    assert [p.name for p in paths] == ['a.png', 'b.png']          # sorted order
    for lr_path in paths:
        assert lr_path.parent.name == f'DIPFKP_lr_x{scale}'
        mat = lr_to_gt_kernel_path(lr_path)
        assert mat == hr_folder / f'DIPFKP_gt_k_x{scale}' / (lr_path.stem + '.mat')
        kernel = sio.loadmat(mat)['Kernel']
        assert kernel.shape == (k, k) and kernel.dtype == np.float64
        assert kernel.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(ndimage.center_of_mass(kernel), [(k - scale) / 2] * 2, atol=0.05)
        img = Image.open(lr_path)
        assert img.mode == 'RGBA'                                 # as plt.imsave writes it
        hr = modcrop(read_rgb(lr_to_hr_path(lr_path)), scale)
        assert img.size == (hr.shape[1] // scale, hr.shape[0] // scale)


def test_kernelganfkp_layout_and_x4_kernel(hr_folder):
    (p2,) = prepare_kernelganfkp_testset(hr_folder, 2, seed=1)[:1]
    (p4,) = prepare_kernelganfkp_testset(hr_folder, 4, seed=1)[:1]
    k2 = load_kernel_mat(lr_to_gt_kernel_path(p2))
    k4 = load_kernel_mat(lr_to_gt_kernel_path(p4))
    assert k2.shape == (11, 11) and k4.shape == (21, 21)
    # same seed, same draws: the x4 file holds the analytic kernel of the x2 one, re-centred
    np.testing.assert_allclose(k4, kernelgan_x4_kernel(k2), atol=1e-12)
    np.testing.assert_allclose(ndimage.center_of_mass(k4), (8.5, 8.5), atol=0.05)
    assert 0.98 < k4.sum() < 1.0 and analytic_kernel(k2).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        prepare_kernelganfkp_testset(hr_folder, 3)


def test_shipped_lr_is_reproduced_from_hr_and_kernel(shared, tmp_path):
    """The geometry (circular correlation, top-left sampling) and the 8-bit truncation of the
    authors' data: degrading the shipped HR with the shipped kernel gives the shipped LR exactly."""
    root = 'datasets/FKP_Test'
    hr = modcrop(read_rgb(shared(f'{root}/HR/102061.png')).astype(np.float32) / 255., 4)
    kernel = load_kernel_mat(shared(f'{root}/DIPFKP_gt_k_x4/102061.mat'))
    lr = degrade(hr, kernel, 4, noise_im=0., rng=np.random.RandomState(0))
    save_png_like_imsave(tmp_path / 'lr.png', lr)
    ours = np.array(Image.open(tmp_path / 'lr.png'))
    shipped = np.array(Image.open(shared(f'{root}/DIPFKP_lr_x4/102061.png')))
    np.testing.assert_array_equal(ours, shipped)
