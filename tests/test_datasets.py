"""GT / LQ / GTLQ datasets and the loader builder, on tiny images generated in tmp_path."""
import random

import cv2
import numpy as np
import pytest
import scipy.ndimage
import torch

from blindsr.data.errors import DatasetError
from blindsr.data.loader import build_dataloader, build_dataset
from blindsr.data.transforms import apply_flips
from blindsr.registry import DATASETS

ALL_FLIPS = [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)]


def _rgb(h, w, seed):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def _save(path, rgb):
    """Write an RGB (or gray / BGRA-ready) uint8/uint16 array with OpenCV; return the RGB floats."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = rgb[:, :, ::-1] if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    assert cv2.imwrite(str(path), arr)
    return path


def _opt(mode, phase='val', **kw):
    opt = dict(name='tiny', mode=mode, dataroot_GT=None, dataroot_LQ=None, use_shuffle=None,
               n_workers=0, batch_size=1, GT_size=None, LR_size=None, use_flip=None, use_rot=None,
               color=None, phase=phase, scale=4)
    opt.update({k: (str(v) if k.startswith('dataroot') and v is not None else v) for k, v in kw.items()})
    return opt


def _hwc(t):
    return t.permute(1, 2, 0).numpy()


def _block_mean(img, s):
    h, w, c = img.shape
    return img.reshape(h // s, s, w // s, s, c).mean(axis=(1, 3))


def _which_flips(out, src):
    """The (hflip, vflip, transpose) that maps src to out (src has distinct pixels)."""
    hits = [f for f in ALL_FLIPS if apply_flips(src, f).shape == out.shape
            and np.array_equal(apply_flips(src, f), out)]
    assert len(hits) == 1
    return hits[0]


@pytest.fixture
def pairs(tmp_path):
    """x4 pairs: 3 HR images and LR = 4x4 block means (so crops/flips can be checked exactly)."""
    gt_dir, lq_dir = tmp_path / 'HR', tmp_path / 'LR_mode0_noise0'
    for i, (h, w) in enumerate([(16, 24), (20, 16), (24, 24)]):
        hr = np.kron(_rgb(h // 4, w // 4, i), np.ones((4, 4, 1), np.uint8))     # constant 4x4 blocks
        hr = np.clip(hr.astype(int) + np.random.RandomState(10 + i).randint(-3, 4, hr.shape), 0, 255).astype(np.uint8)
        _save(gt_dir / f'im{i}.png', hr)
        lr = np.round(_block_mean(hr.astype(np.float64), 4)).astype(np.uint8)
        _save(lq_dir / f'im{i}.png', lr)
    return gt_dir, lq_dir


def test_registry_has_three_modes():
    assert {'GT', 'LQ', 'GTLQ'} <= set(DATASETS.names())


def test_gt_val_modcrop_and_formats(tmp_path):
    rgb = _rgb(13, 10, 0)
    _save(tmp_path / 'a.png', rgb)
    gray16 = (np.arange(9 * 8, dtype=np.uint16).reshape(9, 8) * 900)
    _save(tmp_path / 'b.png', gray16)
    bgra = np.dstack([rgb[:, :, ::-1], np.full((13, 10), 9, np.uint8)])
    _save(tmp_path / 'c.png', bgra)
    ds = build_dataset(_opt('GT', dataroot_GT=tmp_path))
    assert len(ds) == 3
    a = ds[0]
    assert set(a) == {'GT', 'GT_path'} and a['GT_path'].endswith('a.png')
    assert a['GT'].dtype == torch.float32 and a['GT'].shape == (3, 12, 8)
    np.testing.assert_allclose(_hwc(a['GT']), rgb[:12, :8] / 255.0, atol=1e-7)
    b = ds[1]['GT']
    assert b.shape == (3, 8, 8)
    np.testing.assert_allclose(b[1].numpy(), gray16[:8, :8] / 65535.0, atol=1e-7)
    assert torch.equal(b[0], b[2])
    c = ds[2]['GT']
    np.testing.assert_allclose(_hwc(c), rgb[:12, :8] / 255.0, atol=1e-7)


def test_gt_train_crop_and_flip_determinism(tmp_path):
    rgb = _rgb(16, 17, 1)
    _save(tmp_path / 'a.png', rgb)
    ds = build_dataset(_opt('GT', 'train', dataroot_GT=tmp_path, GT_size=8, use_flip=True, use_rot=True))
    random.seed(5)
    x1 = ds[0]['GT']
    random.seed(5)
    x2 = ds[0]['GT']
    assert x1.shape == (3, 8, 8) and torch.equal(x1, x2)
    # whole image as the crop: every output is one of the 8 flips/transpositions, all 8 occur
    ds_full = build_dataset(_opt('GT', 'train', dataroot_GT=tmp_path, GT_size=16, use_flip=True, use_rot=True))
    src = rgb[:16, :16] / 255.0
    seen = set()
    for s in range(60):
        random.seed(s)
        seen.add(_which_flips(_hwc(ds_full[0]['GT']).astype(np.float64), src.astype(np.float32).astype(np.float64)))
    assert seen == set(ALL_FLIPS)
    # flips off: crops only, always an unflipped window of the image
    ds_plain = build_dataset(_opt('GT', 'train', dataroot_GT=tmp_path, GT_size=8))
    random.seed(3)
    out = _hwc(ds_plain[0]['GT'])
    windows = [rgb[i:i + 8, j:j + 8] / 255.0 for i in range(9) for j in range(9)]
    assert any(np.allclose(out, w, atol=1e-7) for w in windows)


def test_gt_errors_name_file_or_folder(tmp_path):
    with pytest.raises(DatasetError, match='missing_dir'):
        build_dataset(_opt('GT', dataroot_GT=tmp_path / 'missing_dir'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DatasetError, match='empty: no image files'):
        build_dataset(_opt('GT', dataroot_GT=tmp_path / 'empty'))
    with pytest.raises(DatasetError, match="'dataroot_GT' is not set"):
        build_dataset(_opt('GT'))
    d = tmp_path / 'imgs'
    _save(d / 'small.png', _rgb(10, 30, 2))
    (d / 'zbroken.png').write_bytes(b'not a png')
    ds = build_dataset(_opt('GT', 'train', dataroot_GT=d, GT_size=12))
    with pytest.raises(DatasetError, match=r'small\.png: image is 8x28 .* smaller than GT_size 12'):
        ds[0]
    with pytest.raises(DatasetError, match=r'zbroken\.png: cannot decode'):
        ds[1]
    with pytest.raises(DatasetError, match='GT_size is required'):
        build_dataset(_opt('GT', 'train', dataroot_GT=d))
    with pytest.raises(DatasetError, match='multiple of the scale'):
        build_dataset(_opt('GT', 'train', dataroot_GT=d, GT_size=10))
    with pytest.raises(DatasetError, match="color 'gray'"):
        build_dataset(_opt('GT', dataroot_GT=d, color='gray'))
    with pytest.raises(DatasetError, match="Did you mean 'GTLQ'"):
        build_dataset(_opt('GTLQQ', dataroot_GT=d))


def test_lq_mode_no_crop(tmp_path):
    rgb = _rgb(7, 9, 3)
    _save(tmp_path / 'old.jpg', rgb)
    ds = build_dataset(_opt('LQ', 'train', dataroot_LQ=tmp_path, GT_size=4, use_flip=True))
    item = ds[0]
    assert set(item) == {'LQ', 'LQ_path'} and item['LQ'].shape == (3, 7, 9)
    assert item['LQ_path'].endswith('old.jpg')
    decoded = cv2.imread(str(tmp_path / 'old.jpg'))[:, :, ::-1] / 255.0    # JPEG is lossy
    np.testing.assert_allclose(_hwc(item['LQ']), decoded, atol=1e-7)


def test_gtlq_val_pairs(pairs):
    gt_dir, lq_dir = pairs
    ds = build_dataset(_opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir))
    assert len(ds) == 3
    item = ds[1]
    assert set(item) == {'GT', 'LQ', 'GT_path', 'LQ_path'}
    assert item['GT'].shape == (3, 20, 16) and item['LQ'].shape == (3, 5, 4)
    assert item['GT_path'].endswith('HR/im1.png') and item['LQ_path'].endswith('LR_mode0_noise0/im1.png')


def test_gtlq_train_aligned_crops_and_flips(pairs):
    gt_dir, lq_dir = pairs
    ds = build_dataset(_opt('GTLQ', 'train', dataroot_GT=gt_dir, dataroot_LQ=lq_dir, GT_size=8,
                            use_flip=True, use_rot=True))
    for s in range(20):
        random.seed(s)
        item = ds[s % 3]
        gt, lq = _hwc(item['GT']).astype(np.float64), _hwc(item['LQ']).astype(np.float64)
        assert gt.shape == (8, 8, 3) and lq.shape == (2, 2, 3)
        np.testing.assert_allclose(_block_mean(gt, 4), lq, atol=0.5 / 255 + 1e-6)


def test_gtlq_pairs_by_stem_or_order(tmp_path):
    gt_dir, lq_dir = tmp_path / 'HR', tmp_path / 'LR'
    for i, name in enumerate(['b', 'a_x']):
        _save(gt_dir / f'{name}.png', _rgb(8, 8, i))
    _save(lq_dir / 'a_x.jpg', _rgb(2, 2, 5))
    _save(lq_dir / 'b.bmp', _rgb(2, 2, 6))
    ds = build_dataset(_opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir))
    assert [p.name for p in ds.lq_paths] == ['a_x.jpg', 'b.bmp']
    (lq_dir / 'b.bmp').rename(lq_dir / 'c.bmp')                    # stems differ: sorted order
    ds = build_dataset(_opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir))
    assert [(g.name, q.name) for g, q in zip(ds.gt_paths, ds.lq_paths)] == [('a_x.png', 'a_x.jpg'), ('b.png', 'c.bmp')]


def test_gtlq_errors(pairs, tmp_path):
    gt_dir, lq_dir = pairs
    _save(gt_dir / 'im3.png', _rgb(16, 16, 7))
    with pytest.raises(DatasetError, match=r'HR has 4 images but dataroot_LQ .*LR_mode0_noise0 has 3'):
        build_dataset(_opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir))
    _save(lq_dir / 'im3.png', _rgb(3, 4, 8))
    ds = build_dataset(_opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir))
    with pytest.raises(DatasetError, match=r'HR/im3\.png is 16x16 after mod-crop but .*LR_mode0_noise0/im3\.png is 3x4'):
        ds[3]
    ds = build_dataset(_opt('GTLQ', 'train', dataroot_GT=gt_dir, dataroot_LQ=lq_dir, GT_size=20))
    with pytest.raises(DatasetError, match=r'LR_mode0_noise0/im0\.png is 4x6, smaller than the LR crop 5 .*HR/im0\.png'):
        ds[0]


def _kernel(l, seed):
    k = np.random.RandomState(seed).rand(l, l)
    return (k / k.sum()).astype(np.float32)


def test_true_kernels_si_and_field(pairs, tmp_path):
    gt_dir, lq_dir = pairs
    kdir = tmp_path / 'kernels_mode0_noise0'
    kdir.mkdir()
    np.savez(kdir / 'im0.npz', kernel=_kernel(5, 0))
    np.savez(kdir / 'im1.npz', kernel_field=np.zeros((5, 4, 5, 5), np.float32))      # per LR pixel
    with pytest.raises(DatasetError, match=r'im2\.npz: true-kernel file missing'):
        build_dataset(_opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir))
    np.savez(kdir / 'im2.npz', kernel_field=np.zeros((5, 6, 5, 5), np.float32))      # wrong size
    ds = build_dataset(_opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir))
    assert torch.equal(ds[0]['kernel'], torch.from_numpy(_kernel(5, 0)))
    assert ds[1]['kernel_field'].shape == (5, 4, 5, 5) and 'kernel' not in ds[1]
    with pytest.raises(DatasetError, match=r'im2\.npz: kernel_field covers 5x6 positions, but the LR image is 6x6'):
        ds[2]
    lq_ds = build_dataset(_opt('LQ', dataroot_LQ=lq_dir))
    assert torch.equal(lq_ds[0]['kernel'], torch.from_numpy(_kernel(5, 0)))
    np.savez(kdir / 'im2.npz', other=np.zeros(3))
    with pytest.raises(DatasetError, match=r"im2\.npz: no 'kernel' or 'kernel_field' array \(found other\)"):
        lq_ds[2]
    (kdir / 'im2.npz').write_bytes(b'garbage')
    with pytest.raises(DatasetError, match=r'im2\.npz: cannot read kernel file'):
        lq_ds[2]


def test_training_flips_follow_the_kernel(tmp_path):
    """Blurring the augmented LR with the augmented kernel = augmenting the blurred LR; a field
    at LR positions is cropped and moved with its pixels."""
    gt_dir, lq_dir, kdir = tmp_path / 'HR', tmp_path / 'LR_x2', tmp_path / 'kernels_x2'
    lr = _rgb(6, 6, 11)
    _save(gt_dir / 'a.png', np.kron(lr, np.ones((2, 2, 1), np.uint8)))
    _save(lq_dir / 'a.png', lr)
    kdir.mkdir()
    k = _kernel(5, 1)
    np.savez(kdir / 'a.npz', kernel=k)
    opt = _opt('GTLQ', 'train', dataroot_GT=gt_dir, dataroot_LQ=lq_dir, GT_size=12, use_flip=True,
               use_rot=True, scale=2)
    ds = build_dataset(opt)
    src = (lr / 255.0).astype(np.float32)[:, :, 0]
    for s in range(12):
        random.seed(s)
        item = ds[0]
        out, ko = item['LQ'][0].numpy(), item['kernel'].numpy()
        blur_then_aug = apply_flips(scipy.ndimage.correlate(src, k, mode='nearest'), _which_flips(out, src))
        np.testing.assert_allclose(scipy.ndimage.correlate(out, ko, mode='nearest'), blur_then_aug, atol=1e-6)
    # a field at LR positions whose kernel at (y, x) is filled with the LR pixel value there
    np.savez(kdir / 'a.npz', kernel_field=np.repeat(np.repeat(src[:, :, None, None], 3, 2), 3, 3))
    ds = build_dataset(dict(opt, GT_size=8))
    for s in range(12):
        random.seed(s)
        item = ds[0]
        field = item['kernel_field'].numpy()
        assert field.shape == (4, 4, 3, 3)
        np.testing.assert_array_equal(field[:, :, 1, 2], item['LQ'][0].numpy())


def test_set14_gt_dataset(shared):
    ds = build_dataset(_opt('GT', dataroot_GT=shared('datasets/Set14/HR'), scale=3))
    assert len(ds) == 14
    for i in range(len(ds)):
        gt = ds[i]['GT']
        assert gt.shape[0] == 3 and gt.shape[1] % 3 == 0 and gt.shape[2] % 3 == 0


def _gt_train_folder(tmp_path, n=6):
    for i in range(n):
        _save(tmp_path / f'{i}.png', _rgb(12, 12, 20 + i))
    return _opt('GT', 'train', dataroot_GT=tmp_path, GT_size=8, use_flip=True, use_rot=True,
                batch_size=2, n_workers=2)


def _epoch(loader):
    return [(b['GT'].clone(), list(b['GT_path'])) for b in loader]


def test_train_loader_two_workers_reproducible(tmp_path):
    opt = _gt_train_folder(tmp_path)
    ds = build_dataset(opt)
    run1 = _epoch(build_dataloader(ds, opt, 'train', seed=7))
    loader = build_dataloader(ds, opt, 'train', seed=7)
    run2, run2b = _epoch(loader), _epoch(loader)
    other = _epoch(build_dataloader(ds, opt, 'train', seed=8))
    assert len(run1) == 3 and run1[0][0].shape == (2, 3, 8, 8)
    assert all(torch.equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(run1, run2))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(run1, other))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(run2, run2b))     # new epoch, new crops
    assert sorted(p for _, paths in run1 for p in paths) == sorted(str(p) for p in ds.paths)


def test_train_loader_drop_last_and_errors(tmp_path):
    opt = dict(_gt_train_folder(tmp_path, n=5), n_workers=0, batch_size=2, use_shuffle=False)
    ds = build_dataset(opt)
    batches = _epoch(build_dataloader(ds, opt, 'train', seed=0))
    assert [paths for _, paths in batches] == [[str(ds.paths[0]), str(ds.paths[1])],
                                               [str(ds.paths[2]), str(ds.paths[3])]]
    with pytest.raises(DatasetError, match='no full batch of 8'):
        build_dataloader(ds, dict(opt, batch_size=8), 'train', seed=0)
    with pytest.raises(DatasetError, match='batch_size 3 is not divisible by the 2 processes'):
        build_dataloader(ds, dict(opt, batch_size=3), 'train', seed=0, distributed=True, rank=0, world_size=2)


def test_distributed_sampler_two_ranks(tmp_path):
    opt = dict(_gt_train_folder(tmp_path, n=6), n_workers=0, batch_size=2)
    ds = build_dataset(opt)
    loaders = [build_dataloader(ds, opt, 'train', seed=3, distributed=True, rank=r, world_size=2) for r in (0, 1)]
    for ld in loaders:
        assert isinstance(ld.sampler, torch.utils.data.DistributedSampler)
        assert ld.batch_size == 1 and len(ld) == 3
    idx = [list(ld.sampler) for ld in loaders]
    assert sorted(idx[0] + idx[1]) == list(range(6))
    for ld in loaders:
        ld.sampler.set_epoch(1)
    idx1 = [list(ld.sampler) for ld in loaders]
    assert sorted(idx1[0] + idx1[1]) == list(range(6)) and idx1 != idx


def test_val_loader(pairs):
    gt_dir, lq_dir = pairs
    opt = _opt('GTLQ', dataroot_GT=gt_dir, dataroot_LQ=lq_dir, n_workers=4, batch_size=16)
    ds = build_dataset(opt)
    loader = build_dataloader(ds, opt, 'val', seed=0)
    assert loader.batch_size == 1 and loader.num_workers == 1
    assert [b['GT_path'][0][-7:] for b in loader] == ['im0.png', 'im1.png', 'im2.png']


def test_check_image_files_names_every_bad_file_once(tmp_path):
    from blindsr.data.folders import check_image_files
    gt, lq = tmp_path / 'gt', tmp_path / 'lq'
    gt.mkdir()
    lq.mkdir()
    for i in range(3):
        cv2.imwrite(str(gt / f'{i}.png'), np.full((8, 8, 3), 40 * i, np.uint8))
    (gt / 'bad.png').write_bytes(b'\x89PNG truncated')
    (lq / 'x.png').write_bytes(b'nope')
    datasets = {'train': {'mode': 'GT', 'dataroot_GT': str(gt), 'dataroot_LQ': str(tmp_path / 'unused')},
                'val': {'mode': 'GT', 'dataroot_GT': str(gt)},          # same folder: checked once
                'fkp': {'mode': 'kernels'}}
    with pytest.raises(DatasetError) as e:
        check_image_files(datasets)
    msg = str(e.value)
    assert '\n' not in msg and msg.startswith('1 of 4 dataset image file(s) cannot be read'), msg
    assert str(gt / 'bad.png') in msg and msg.count('bad.png') == 1
    datasets['val'] = {'mode': 'LQ', 'dataroot_LQ': str(lq)}
    with pytest.raises(DatasetError, match=r'2 of 5 .*bad\.png.*x\.png'):
        check_image_files(datasets)
    (gt / 'bad.png').unlink()
    (lq / 'x.png').unlink()
    cv2.imwrite(str(lq / 'x.png'), np.zeros((2, 2, 3), np.uint8))
    assert check_image_files(datasets) == 4
