"""Image reading/writing/listing on tiny generated files."""
import cv2
import numpy as np
import pytest
import torch

from blindsr.utils.image_io import (ImageNotFoundError, ImageReadError, img2tensor, list_images,
                                    read_image, tensor2numpy, write_image)


def _rgb(h=5, w=7, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def test_read_8bit_rgb_order(tmp_path):
    rgb = _rgb()
    cv2.imwrite(str(tmp_path / 'a.png'), rgb[:, :, ::-1])     # OpenCV stores BGR
    img = read_image(tmp_path / 'a.png')
    assert img.dtype == np.float32 and img.shape == (5, 7, 3)
    np.testing.assert_allclose(img, rgb / 255.0, atol=1e-7)


def test_read_16bit_gray_rgba(tmp_path):
    v16 = np.array([[0, 65535], [32768, 1000]], np.uint16)
    cv2.imwrite(str(tmp_path / 'g16.png'), v16)
    img = read_image(tmp_path / 'g16.png')
    assert img.shape == (2, 2, 3)
    np.testing.assert_allclose(img[:, :, 1], v16 / 65535.0, atol=1e-7)
    assert img[0, 1, 0] == 1.0 and img[1, 0, 2] == pytest.approx(32768 / 65535)

    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / 'g.bmp'), gray)
    img = read_image(tmp_path / 'g.bmp')
    assert img.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_allclose(img[:, :, c], gray / 255.0, atol=1e-7)

    rgb = _rgb(4, 6, seed=1)
    bgra = np.dstack([rgb[:, :, ::-1], np.full((4, 6), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / 'rgba.PNG'), bgra)
    img = read_image(tmp_path / 'rgba.PNG')
    assert img.shape == (4, 6, 3)
    np.testing.assert_allclose(img, rgb / 255.0, atol=1e-7)


def test_read_errors_name_the_file(tmp_path):
    missing = tmp_path / 'nope.png'
    with pytest.raises(ImageNotFoundError, match='nope.png') as e:
        read_image(missing)
    assert isinstance(e.value, FileNotFoundError)
    bad = tmp_path / 'broken.png'
    bad.write_bytes(b'\x89PNG not really')
    with pytest.raises(ImageReadError, match='broken.png: cannot decode') as e:
        read_image(bad)
    assert isinstance(e.value, ValueError) and '\n' not in str(e.value)
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(ImageReadError, match='empty.jpg'):
        read_image(empty)


def test_write_roundtrip_atomic(tmp_path):
    rgb = _rgb(6, 4, seed=2)
    out = tmp_path / 'sub' / 'x.png'
    write_image(out, rgb / 255.0)                       # float RGB in [0, 1]
    np.testing.assert_array_equal(cv2.imread(str(out))[:, :, ::-1], rgb)
    assert [p.name for p in out.parent.iterdir()] == ['x.png']    # no temp file left
    write_image(out, rgb[:, :, ::-1], channel_order='bgr')        # overwrite, uint8 BGR
    np.testing.assert_allclose(read_image(out), rgb / 255.0, atol=1e-7)
    v16 = (np.arange(24, dtype=np.uint16).reshape(2, 4, 3) * 2000)
    write_image(tmp_path / 'y.tif', v16)
    np.testing.assert_allclose(read_image(tmp_path / 'y.tif'), v16 / 65535.0, atol=1e-7)
    with pytest.raises(ValueError, match='unsupported extension'):
        write_image(tmp_path / 'z.gif', rgb)


def test_write_clips_and_rounds(tmp_path):
    img = np.array([[[-0.2, 0.5, 1.3]]])
    write_image(tmp_path / 'c.png', img)
    assert cv2.imread(str(tmp_path / 'c.png'))[0, 0].tolist() == [255, 128, 0]   # BGR on disk


def test_tensor_conversions():
    img = np.random.RandomState(3).rand(4, 5, 3).astype(np.float32)
    t = img2tensor(img)
    assert t.shape == (3, 4, 5) and t.dtype == torch.float32
    assert t[2, 1, 3].item() == img[1, 3, 2]
    np.testing.assert_array_equal(tensor2numpy(t), img)
    np.testing.assert_array_equal(tensor2numpy(t[None]), img)
    t[0, 0, 0] = 5.0
    assert img[0, 0, 0] != 5.0                           # a copy, not a view
    assert img2tensor(img[:, :, 0]).shape == (1, 4, 5)


def test_list_images(tmp_path):
    for name in ['b.PNG', 'a.jpg', 'c.TIFF', 'd.txt', '._e.png', 'f.jpeg', 'g.bmp']:
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'h.png').write_bytes(b'x')
    assert [p.name for p in list_images(tmp_path)] == ['a.jpg', 'b.PNG', 'c.TIFF', 'f.jpeg', 'g.bmp']
    assert [p.name for p in list_images(tmp_path, recursive=True)][-1] == 'h.png'
    with pytest.raises(ImageNotFoundError, match='missing_dir'):
        list_images(tmp_path / 'missing_dir')
    (tmp_path / 'only_txt').mkdir()
    (tmp_path / 'only_txt' / 'readme.txt').write_text('hi')
    with pytest.raises(ImageReadError, match='only_txt: no image files'):
        list_images(tmp_path / 'only_txt')


def test_set14_grayscale_is_3_channels(shared):
    folder = shared('datasets/Set14/HR')
    files = list_images(folder)
    assert len(files) == 14
    shapes = {}
    for p in files:
        raw = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if raw.ndim == 2:
            img = read_image(p)
            shapes[p.name] = img.shape
            assert img.shape == raw.shape + (3,)
            assert np.array_equal(img[:, :, 0], img[:, :, 2])
            np.testing.assert_allclose(img[:, :, 0], raw / 255.0, atol=1e-7)
    assert len(shapes) == 1, shapes


def test_kernel_picture_titles_each_kernel_above_its_own_tile():
    from blindsr.degradation.kernels import anisotropic_kernels
    from blindsr.utils.kernel_picture import kernel_picture, kernel_tile
    est = anisotropic_kernels(6, 1, 0.5, 4)[0].numpy()
    gt = est.T.copy()
    pic = kernel_picture(est, gt, zoom=8, gap=4)
    tile = kernel_tile(est, 8)
    assert pic.shape == (16 + 168, 168 * 2 + 4, 3)
    assert (pic[16:, :168] == tile).all() and (pic[16:, 172:] == kernel_tile(gt, 8)).all()
    strip = pic[:16]
    assert (strip < 128).any(axis=-1)[:, :168].sum() > 30      # text drawn over each tile's strip
    assert (strip < 128).any(axis=-1)[:, 172:].sum() > 20
    assert kernel_picture(est, labels=None).shape == (168, 168, 3)
