"""prepare_testset: the authors' layout and names, their pixels, determinism, the saved true kernels."""
import hashlib
import math
import os
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch
from blindsr.data.loader import build_dataset
from blindsr.degradation.kernels import anisotropic_kernels
from blindsr.degradation.sv_fields import sv_block_kernels
from blindsr.options import OptionsError, load_options
from blindsr.testsets import protocol
from blindsr.testsets.build import CaseWriter, prepare_testsets
from blindsr.testsets.degrade import KernelSettings, degrade_case
from blindsr.testsets.protocol import Case
from blindsr.utils.image_io import img2tensor, list_images, read_image
from blindsr.utils.paths import REPO_ROOT

TOY = REPO_ROOT / 'datasets' / 'toy_dataset'
OPTIONAL = ('scale', 'network_G.which_model_G')

# The authors' codes/options/test/prepare_testset.yml (Urban100 dropped, their paths kept).
AUTHORS_PREPARE_YML = """\
name: 001_MANet_prepare_dataset
suffix: ~
model: blind
distortion: sr
scale: ~
gpu_ids: [0]
kernel_size: 21
code_length: 15
sig_min: ~
sig_max: ~
sig: ~
sig1: ~
sig2: ~
theta: ~
rate_iso: 0 # 1 for iso, 0 for aniso
sv_mode: ~
test_noise: ~
noise: ~

datasets:
  test1:
    name: Set5
    mode: GT
    dataroot_GT: ../datasets/Set5/HR
    dataroot_LQ: ~
  test3:
    name: BSD100
    mode: GT
    dataroot_GT: ../datasets/BSD100/HR
    dataroot_LQ: ~

network_G:
  which_model_G: ~
  in_nc: ~
  out_nc: ~
  nf: ~
  nb: ~
  upscale: 0
#
path:
  strict_load: true
  pretrain_model_G: ~
"""


def _toy_set(root):
    """A set folder ``<root>/Tiny/HR`` with three small images: RGB, RGBA (alpha dropped), gray."""
    hr = root / 'Tiny' / 'HR'
    hr.mkdir(parents=True)
    toy1 = cv2.imread(str(TOY / 'HR_si' / 'toy1.png'), cv2.IMREAD_UNCHANGED)
    toy2 = cv2.imread(str(TOY / 'HR_si' / 'toy2.png'), cv2.IMREAD_UNCHANGED)
    assert toy2.shape[2] == 4
    cv2.imwrite(str(hr / 'a.png'), toy1[40:90, 60:106])          # 50 x 46
    cv2.imwrite(str(hr / 'b.png'), toy2[200:241, 180:224])       # 41 x 44, BGRA
    cv2.imwrite(str(hr / 'c.png'), cv2.cvtColor(toy1[100:136, 100:136], cv2.COLOR_BGR2GRAY))  # 36 x 36
    return hr


def _write_opt(path, dataroot, sv_sets='[Tiny]', extra=''):
    path.write_text(textwrap.dedent(f"""\
        name: tiny_prepare
        model: blind
        scale: ~
        rate_iso: 0
        sv_sets: {sv_sets}
        {extra}
        datasets:
          test1: {{name: Tiny, mode: GT, dataroot_GT: {dataroot}}}
        network_G: {{which_model_G: ~}}
        """))
    return path



def _tree(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file() and not p.name.endswith('.log')}


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """The whole protocol on the tiny set, through the command line."""
    root = tmp_path_factory.mktemp('prep')
    hr = _toy_set(root)
    opt = _write_opt(root / 'opt.yml', hr)
    out = root / 'out'
    res = subprocess.run([sys.executable, str(REPO_ROOT / 'codes' / 'prepare_testset.py'), '--opt', str(opt),
                          '--output', str(out)], capture_output=True, text=True, cwd='/',
                         env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert res.returncode == 0, res.stderr[-3000:]
    return root, hr, opt, out, res


# ----------------------------------------------------------------------------- protocol
def test_kernel_grid_and_names():
    assert protocol.si_kernel_grid(4) == [(1, 1, 0), (5, 1, 0), (5, 1, math.pi / 4), (5, 5, 0), (9, 1, 0),
                                          (9, 1, math.pi / 4), (9, 5, 0), (9, 5, math.pi / 4), (9, 9, 0)]
    assert [k[:2] for k in protocol.si_kernel_grid(2)][:4] == [(1, 1), (3, 1), (3, 1), (3, 3)]
    assert all(len(protocol.si_kernel_grid(s)) == 9 for s in (2, 3, 4))
    assert protocol.si_file_name('img', 5.0, 1.0, math.pi / 4) == 'img_5.0_1.0_0.8.png'
    assert protocol.set_name('/a/BSD68/HR') == 'BSD68' and protocol.set_name('/a/toy_dataset/HR_si') == 'toy_dataset'
    assert protocol.set_name('/a/photos') == 'photos'


def test_case_order_and_the_sticky_noise_flag():
    cases = list(protocol.authors_cases([('test3', 'BSD100'), ('test1', 'Set5')]))
    # sorted phases; SI grid for every set, SV modes 1..5 for BSD100 only; noise 15 only at x4
    assert len(cases) == 3 * 9 + 3 * (9 + 5) + (9 + 9 + 5)
    assert [c.phase for c in cases[:10]] == ['test1'] * 9 + ['test3']
    assert {c.sv_mode for c in cases if c.phase == 'test1'} == {0}
    assert [c.sv_mode for c in cases if c.phase == 'test3' and c.scale == 2] == [0] * 9 + [1, 2, 3, 4, 5]
    assert {(c.scale, c.noise) for c in cases} == {(2, 0), (3, 0), (4, 0), (4, 15)}
    # the authors' test_noise flag: off for the very first set's x2 cases, on for every later case
    assert [c.draws_noise for c in cases[:9]] == [False] * 9 and all(c.draws_noise for c in cases[9:])
    c = cases[-1]
    assert (c.scale, c.noise, c.sv_mode, c.lr_dir, c.kernel_dir, c.hr_dir) == \
        (4, 15, 5, 'LR_mode5_noise15', 'kernels_mode5_noise15', 'HR_sv')


# ----------------------------------------------------------------------------- the same pixels as the authors
def test_toy_lr_equals_the_authors_files(tmp_path):
    """The repository's toy LR images were made by the authors' script with kernel (6, 1, pi/4) at x4:
    ours, through the same writer as prepare_testset, are the same PNG pixels."""
    case = Case(4, 'toy', 0, 0, (6.0, 1.0, math.pi / 4), draws_noise=False)
    images = list_images(TOY / 'HR_si')
    CaseWriter(KernelSettings()).run(case, images, tmp_path, np.random.RandomState(0))
    for p in images:
        ours = cv2.imread(str(tmp_path / 'LR_mode0_noise0' / f'{p.stem}_6.0_1.0_0.8.png'), cv2.IMREAD_UNCHANGED)
        theirs = cv2.imread(str(TOY / 'LR_mode0_noise0' / p.name), cv2.IMREAD_UNCHANGED)
        assert ours.shape == theirs.shape and ours.dtype == np.uint8
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
        assert np.mean(ours == theirs) > 0.999          # measured: identical
        hr = cv2.imread(str(tmp_path / 'HR_si' / f'{p.stem}_6.0_1.0_0.8.png'), cv2.IMREAD_UNCHANGED)
        src = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)[:, :, :3]       # the authors drop alpha
        assert np.array_equal(hr, src)


@pytest.mark.parametrize('mode', [1, 2, 3, 4, 5])
def test_sv_lr_equals_the_authors_pipeline(shared, mode):
    """golden srmd_sv_mode<m>_lr: the authors' SRMDPreprocessing (40-px blocks, np.random.seed(0))."""
    gold = np.load(shared('golden/manet/degradation.npz'))
    res = degrade_case(torch.from_numpy(gold['hr']), Case(4, 't', 0, mode, None, False), np.random.RandomState(0))
    theirs = (gold[f'srmd_sv_mode{mode}_lr'][0].transpose(1, 2, 0)[:, :, ::-1] * 255).round()
    assert np.abs(res.lr.astype(float) - theirs).max() == 0


def test_sv_toy_lr_equals_a_direct_evaluation():
    """SV mode 4 on a toy crop against a plain numpy loop over LR pixels: pad by replication,
    correlate each kept HR pixel (s*i, s*j) with the kernel of its 40x40 block, quantise."""
    img = read_image(TOY / 'HR_si' / 'toy2.png')[150:262, 100:184]          # 112 x 84: 3 x 3 blocks
    s = 4
    res = degrade_case(img2tensor(img)[None], Case(s, 't', 0, 4, None, False), np.random.RandomState(0))
    blocks, _ = sv_block_kernels(4, img.shape[:2], s, dtype=torch.float64)
    blocks = blocks[0].numpy()
    pad = np.pad(img.astype(np.float64), ((10, 10), (10, 10), (0, 0)), mode='edge')
    h, w = img.shape[0] // s, img.shape[1] // s
    ref = np.zeros((h, w, 3))
    for i in range(h):
        for j in range(w):
            k = blocks[s * i // 40, s * j // 40]
            ref[i, j] = np.einsum('yxc,yx->c', pad[s * i:s * i + 21, s * j:s * j + 21], k)
    ref = np.round(ref * 255)[:, :, ::-1]                                   # BGR, as written
    assert res.lr.shape == (h, w, 3)
    assert np.abs(res.lr - ref).max() <= 1 and np.mean(res.lr == ref) > 0.99
    assert np.allclose(res.kernel_field[5, 7], blocks[5 * s // 40, 7 * s // 40], atol=1e-7)


# ----------------------------------------------------------------------------- layout, kernels, determinism
def test_layout_of_the_whole_protocol(built):
    _, _, _, out, _ = built
    stems = ['a', 'b', 'c']
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ['Tiny_x2', 'Tiny_x3', 'Tiny_x4']
    for s in (2, 3, 4):
        d = out / f'Tiny_x{s}'
        noises = (0, 15) if s == 4 else (0,)
        expected = {'HR_si', 'HR_sv'} | {f'{kind}_mode{m}_noise{n}' for kind in ('LR', 'kernels')
                                          for m in range(6) for n in noises}
        assert {p.name for p in d.iterdir()} == expected
        si_names = sorted(protocol.si_file_name(st, *k) for st in stems for k in protocol.si_kernel_grid(s))
        assert sorted(p.name for p in (d / 'HR_si').iterdir()) == si_names
        for n in noises:
            assert sorted(p.name for p in (d / f'LR_mode0_noise{n}').iterdir()) == si_names
            assert sorted(p.name for p in (d / f'kernels_mode0_noise{n}').iterdir()) == \
                [n_.replace('.png', '.npz') for n_ in si_names]
            for m in range(1, 6):
                assert sorted(p.name for p in (d / f'LR_mode{m}_noise{n}').iterdir()) == ['a.png', 'b.png', 'c.png']
        assert sorted(p.name for p in (d / 'HR_sv').iterdir()) == ['a.png', 'b.png', 'c.png']
        for st, (H, W) in zip(stems, [(50, 46), (41, 44), (36, 36)], strict=True):
            hr_img = cv2.imread(str(d / 'HR_sv' / f'{st}.png'), cv2.IMREAD_UNCHANGED)
            lr_img = cv2.imread(str(d / 'LR_mode3_noise0' / f'{st}.png'), cv2.IMREAD_UNCHANGED)
            assert hr_img.shape == (H - H % s, W - W % s, 3)                  # mod-crop; gray -> 3 channels
            assert lr_img.shape == (H // s, W // s, 3)
    gray = cv2.imread(str(out / 'Tiny_x4' / 'LR_mode0_noise0' / 'c_5.0_1.0_0.0.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 0], gray[..., 2])


def test_saved_kernels_reproduce_the_lr_and_feed_gtlq(built):
    _, _, _, out, _ = built
    d = out / 'Tiny_x4'
    with np.load(d / 'kernels_mode0_noise0' / 'a_9.0_5.0_0.8.npz') as z:
        assert z['kernel'].dtype == np.float32 and 'kernel_field' not in z.files
        np.testing.assert_allclose(z['kernel'], anisotropic_kernels(9, 5, math.pi / 4, 4)[0].numpy(), atol=1e-7)
        np.testing.assert_allclose(z['sigma'], [9, 5, math.pi / 4], atol=1e-6)
        assert int(z['scale']) == 4 and float(z['noise']) == 0
    from blindsr.degradation.blur import blur_subsample, blur_sv_subsample
    for m in range(6):
        name = 'b_5.0_1.0_0.8' if m == 0 else 'b'
        hr = img2tensor(read_image(d / ('HR_si' if m == 0 else 'HR_sv') / f'{name}.png'))[None]
        lr = read_image(d / f'LR_mode{m}_noise0' / f'{name}.png')
        with np.load(d / f'kernels_mode{m}_noise0' / f'{name}.npz') as z:
            if m == 0:
                re = blur_subsample(hr, torch.from_numpy(z['kernel']), 4)
            else:
                field = z['kernel_field']
                assert field.shape == (lr.shape[0], lr.shape[1], 21, 21) and field.dtype == np.float32
                assert z['sigma_field'].shape == field.shape[:2] + (3,) and int(z['block_size']) == 40
                np.testing.assert_allclose(field.sum(axis=(2, 3)), 1, atol=1e-5)
                re = blur_sv_subsample(hr, torch.from_numpy(field)[None], 4)
        re = np.round(re[0].permute(1, 2, 0).numpy() * 255)
        assert np.abs(re - np.round(lr * 255)).max() <= 1, m
    # test.py's GTLQ datasets find them in the kernels_ sibling of the LR folder
    for m, key, shape in ((0, 'kernel', (21, 21)), (4, 'kernel_field', (12, 11, 21, 21))):
        ds = build_dataset(dict(name='t', mode='GTLQ', dataroot_GT=str(d / ('HR_si' if m == 0 else 'HR_sv')),
                                dataroot_LQ=str(d / f'LR_mode{m}_noise0'), phase='test', scale=4, use_flip=None,
                                use_rot=None, color=None, GT_size=None, n_workers=0, batch_size=1))
        item = ds[0]
        assert item[key].shape == shape and item['GT'].shape[-2:] == (48, 44)


def test_noise_15_is_seeded_and_of_the_right_level(built):
    _, _, _, out, _ = built
    d = out / 'Tiny_x4'
    clean = read_image(d / 'LR_mode2_noise0' / 'a.png') * 255
    noisy = read_image(d / 'LR_mode2_noise15' / 'a.png') * 255
    diff = (noisy - clean)[(clean > 40) & (clean < 215)]            # away from the clamp
    assert 12 < diff.std() < 18 and abs(diff.mean()) < 2.5


def test_second_run_keeps_files_and_overwrite_rewrites_the_same_bytes(built, one_thread):
    root, _, opt, out, _ = built
    before = _tree(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob('*.png')}
    summary = prepare_testsets(load_options(opt, is_train=False, optional=OPTIONAL), out)
    assert summary.written == 0 and summary.kept == len(before)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())
    summary = prepare_testsets(load_options(opt, is_train=False, optional=OPTIONAL), out, overwrite=True)
    assert summary.written == len(before) and _tree(out) == before      # byte-identical, npz included
    # one scale alone replays the others in the random stream: the same files as the full run
    alone = root / 'alone'
    prepare_testsets(load_options(opt, is_train=False, optional=OPTIONAL), alone, scales=[4])
    assert [p.name for p in alone.iterdir() if p.is_dir()] == ['Tiny_x4']
    assert _tree(alone / 'Tiny_x4') == _tree(out / 'Tiny_x4')
    # a different seed changes mode 5 and the noise, nothing else
    other = root / 'seed1'
    prepare_testsets(load_options(opt, is_train=False, optional=OPTIONAL, overrides=['manual_seed=1']), other,
                     scales=[4])
    a, b = _tree(other / 'Tiny_x4'), _tree(out / 'Tiny_x4')
    changed = {k.split('/')[0] for k in a if a[k] != b[k]}
    assert changed == {'LR_mode5_noise0', 'kernels_mode5_noise0', 'kernels_mode5_noise15'} | \
        {f'LR_mode{m}_noise15' for m in range(6)}


def test_summary_line(built):
    _, _, _, out, res = built       # (the tqdm bar shows on a terminal only, like test.py's)
    assert len(_tree(out)) == 426 and 'wrote 426 files' in res.stderr


# ----------------------------------------------------------------------------- options
def test_authors_option_file_loads_for_prepare_testset(tmp_path):
    p = tmp_path / 'prepare_testset.yml'
    p.write_text(AUTHORS_PREPARE_YML)
    with pytest.raises(OptionsError, match="missing required key 'scale'"):
        load_options(p, is_train=False)
    opt = load_options(p, is_train=False, optional=OPTIONAL)
    assert opt['sv_sets'] == ['BSD100'] and opt['network_G']['upscale'] == 0 and opt['manual_seed'] == 0
    assert opt['datasets']['test1']['dataroot_GT'] == str(REPO_ROOT / 'datasets' / 'Set5' / 'HR')


def test_shipped_option_file_and_cli_errors(tmp_path):
    opt = load_options(REPO_ROOT / 'options' / 'test' / 'prepare_testset.yml', is_train=False, optional=OPTIONAL)
    assert opt['sv_sets'] == ['BSD68'] and [d['name'] for d in opt['datasets'].values()] == ['Set5', 'Set14', 'BSD68']
    script = str(REPO_ROOT / 'codes' / 'prepare_testset.py')
    bad = _write_opt(tmp_path / 'bad.yml', tmp_path / 'missing' / 'HR')
    res = subprocess.run([sys.executable, script, '--opt', str(bad), '--output', str(tmp_path / 'o')],
                         capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count('\n') == 1 and 'image folder not found' in res.stderr
    res = subprocess.run([sys.executable, script, '--help'], capture_output=True, text=True)
    assert res.returncode == 0 and '--overwrite' in res.stdout and '--scales' in res.stdout


def test_kulnet_protocol_is_the_sweep_of_the_authors_test_yml(tmp_path):
    """--protocol kulnet: nine LR per image whose kernels are test.py's sweep kernels (3.14 for pi)
    and whose pixels are that kernel's blur, subsampling and 8-bit rounding."""
    from blindsr.degradation.blur import blur_subsample
    from blindsr.degradation.kernels import fixed_kernels
    from blindsr.degradation.noise import quantize
    from blindsr.options.kernel_sweep import sweep_kernels
    hr = _toy_set(tmp_path)
    opt = load_options(_write_opt(tmp_path / 'opt.yml', hr), is_train=False, optional=OPTIONAL)
    summary = prepare_testsets(opt, tmp_path / 'out', scales=[4], kulnet=True)
    root = tmp_path / 'out' / 'Tiny_x4'
    assert summary.written == 3 * 9 * 3 and sorted(p.name for p in root.iterdir()) == [
        'HR_kulnet', 'LR_kulnet_noise0', 'kernels_kulnet_noise0']
    sweep = sweep_kernels(load_options(REPO_ROOT / 'options' / 'test' / 'test_KULNet_x4.yml', is_train=False))
    assert len(sweep) == 9
    hr_a = img2tensor(read_image(root / 'HR_kulnet' / f'a_{sweep[2].label}.png')).unsqueeze(0)
    assert hr_a.shape[-2:] == (48, 44)                                   # mod-cropped 50 x 46
    for k in sweep:
        saved = np.load(root / 'kernels_kulnet_noise0' / f'a_{k.label}.npz')
        expect, _ = fixed_kernels(1, 4, 21, 1.6, k.sig1, k.sig2, k.theta, 0.0)
        np.testing.assert_allclose(saved['kernel'], expect[0].numpy(), atol=1e-7)
        assert abs(float(saved['kernel'].sum()) - 1) < 1e-5 and np.allclose(saved['sigma'], [k.sig1, k.sig2, k.theta])
        lr = img2tensor(read_image(root / 'LR_kulnet_noise0' / f'a_{k.label}.png'))
        assert torch.allclose(lr, quantize(blur_subsample(hr_a, expect, 4))[0], atol=1e-6)
    assert sweep[7].label == 'k_4_3_165' and abs(sweep[7].theta - 165 / 180 * 3.14) < 1e-12
