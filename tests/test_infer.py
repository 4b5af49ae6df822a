"""infer.py: real LR images in, SR (and kernel fields) out; options from the checkpoint's record or --opt."""
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from blindsr.archs.build import build_network
from blindsr.inference.checkpoint_options import checkpoint_options
from blindsr.inference.runner import Inference, super_resolve
from blindsr.utils.device import device_from_name
from blindsr.models.base_model import network_record
from blindsr.options import OptionsError
from blindsr.utils.image_io import read_image
from blindsr.utils.paths import REPO_ROOT

INFER = str(REPO_ROOT / 'codes' / 'infer.py')
S3 = {'which_model_G': 'MANet_s3', 'in_nc': 3, 'out_nc': 3, 'nf': 8, 'nb': 1, 'gc': 4, 'manet_nf': 16,
      'manet_nb': 1, 'split': 2}
S1 = {'which_model_G': 'MANet_s1', 'in_nc': 3, 'manet_nf': 16, 'manet_nb': 1, 'split': 2}


def _checkpoint(folder, net_opt, with_record=True, scale=4):
    """Random tiny weights saved as the trainer saves them: <x>.pth plus the <x>.yml record."""
    pca = REPO_ROOT / 'pretrained_models' / 'pca_matrix_aniso21_15_x4.pth'
    opt = {'model': 'blind', 'scale': scale, 'kernel_size': 21, 'code_length': 15,
           'network_G': dict(net_opt), 'pca_path': str(pca)}
    torch.manual_seed(0)
    net = build_network(opt)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / '100_G.pth'
    torch.save(net.state_dict(), path)
    if with_record:
        path.with_suffix('.yml').write_text(yaml.safe_dump(network_record(opt), sort_keys=False))
    return path



@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    """A folder of real-photo stand-ins: RGB, gray, RGBA, a corrupt PNG, a text file."""
    d = tmp_path_factory.mktemp('photos')
    lr = cv2.imread(str(REPO_ROOT / 'datasets' / 'toy_dataset' / 'LR_mode0_noise0' / 'toy1.png'))
    cv2.imwrite(str(d / 'a_rgb.png'), lr[10:30, 20:44])                          # 20 x 24
    cv2.imwrite(str(d / 'b_gray.png'), cv2.cvtColor(lr[:16, :16], cv2.COLOR_BGR2GRAY))
    rgba = np.concatenate([lr[30:48, 30:46], np.full((18, 16, 1), 255, np.uint8)], axis=2)
    rgba[:9, :, 3] = 0                                                            # top half transparent
    cv2.imwrite(str(d / 'c_rgba.png'), rgba)
    (d / 'd_broken.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    (d / 'notes.txt').write_text('not an image')
    return d


def test_folder_with_one_bad_file(photos, tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path / 'run' / 'models', S3)
    out = tmp_path / 'out'
    res = subprocess.run([sys.executable, INFER, '--input', str(photos), '--model', str(ckpt), '--output', str(out),
                          '--save_kernel', '--tile', '16', '--tile_overlap', '8'],
                         capture_output=True, text=True)
    assert res.returncode == 1, res.stderr[-2000:]                     # something failed ...
    assert 'd_broken.png: skipped' in res.stderr and '1 of 4 image(s) failed: d_broken.png' in res.stderr
    assert 'Traceback' not in res.stderr
    # ... and everything else was done
    rgb = cv2.imread(str(out / 'a_rgb.png'), cv2.IMREAD_UNCHANGED)
    gray = cv2.imread(str(out / 'b_gray.png'), cv2.IMREAD_UNCHANGED)
    rgba = cv2.imread(str(out / 'c_rgba.png'), cv2.IMREAD_UNCHANGED)
    assert rgb.shape == (80, 96, 3) and gray.shape == (64, 64) and rgba.shape == (72, 64, 4)
    assert rgba[:30, :, 3].max() < 40 and rgba[42:, :, 3].min() > 215             # alpha enlarged with the image
    assert sorted(p.name for p in (out / 'npz').iterdir()) == ['a_rgb.npz', 'b_gray.npz', 'c_rgba.npz']
    with np.load(out / 'npz' / 'a_rgb.npz') as z:
        assert z['est_ker_lr'].shape == (20, 24, 21, 21) and int(z['scale']) == 4
        assert z['sr_img'].shape == (80, 96, 3) and z['lr_img'].shape == (20, 24, 3) and 'gt_ker' not in z.files
        np.testing.assert_allclose(z['est_ker_lr'].sum(axis=(2, 3)), 1, atol=1e-5)
        assert np.array_equal(z['sr_img'], rgb)                     # the npz holds the written SR (BGR)
    # the same as the model run in-process with the same tiles
    opt = checkpoint_options(ckpt)
    from blindsr.engine.tile_sinks import SRStitcher
    stitch = SRStitcher()
    Inference(opt, device_from_name('cpu'), tile=16, tile_overlap=8).run(photos / 'a_rgb.png', [stitch])
    sr = stitch.sr[0].permute(1, 2, 0).numpy()
    assert np.array_equal((np.clip(sr, 0, 1) * 255).round().astype(np.uint8)[:, :, ::-1], rgb)
    # the explorer opens the field
    from blindsr.explorer.field_file import load_kernel_field
    f = load_kernel_field(out / 'npz' / 'a_rgb.npz')
    assert f.image_kind == 'SR' and f.sr_size == (80, 96)


def test_existing_outputs_are_kept(photos, tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path / 'models', S3)
    inference = Inference(checkpoint_options(ckpt), device_from_name('cpu'))
    good = [photos / 'a_rgb.png', photos / 'b_gray.png']
    out = tmp_path / 'out'
    s = super_resolve(inference, good, out)
    assert len(s.done) == 2 and not s.failed and not (out / 'npz').exists()
    (out / 'a_rgb.png').write_bytes(b'mine')
    s = super_resolve(inference, good, out)
    assert s.kept == good and (out / 'a_rgb.png').read_bytes() == b'mine'
    s = super_resolve(inference, good, out, overwrite=True)
    assert len(s.done) == 2 and read_image(out / 'a_rgb.png').shape == (80, 96, 3)


def test_options_from_the_record_or_an_option_file(tmp_path):
    ckpt = _checkpoint(tmp_path / 'a', S3)
    opt = checkpoint_options(ckpt)
    assert opt['network_G']['nf'] == 8 and opt['scale'] == 4 and opt['path']['pretrain_model_G'] == str(ckpt)
    with pytest.raises(OptionsError, match='--scale 2 disagrees'):
        checkpoint_options(ckpt, scale=2)
    bare = _checkpoint(tmp_path / 'b', S3, with_record=False)
    with pytest.raises(OptionsError, match='no 100_G.yml beside it.*pass --opt'):
        checkpoint_options(bare)
    opt_file = tmp_path / 'test.yml'
    opt_file.write_text(yaml.safe_dump({'name': 'x', 'model': 'blind', 'scale': 4, 'network_G': S3,
                                        'datasets': {'test_1': {'name': 't', 'mode': 'LQ',
                                                                'dataroot_LQ': 'datasets/historical/LR'}}}))
    opt = checkpoint_options(bare, opt_path=opt_file)
    assert opt['network_G']['nf'] == 8 and opt['path']['pretrain_model_G'] == str(bare)
    Inference(opt, device_from_name('cpu'))                       # strict load: the record matches the weights


def test_errors_are_one_line(photos, tmp_path, capsys, one_thread):
    from blindsr.commands import infer
    s1 = _checkpoint(tmp_path / 's1', S1)
    args = ['--input', str(photos / 'a_rgb.png'), '--model', str(s1), '--output', str(tmp_path / 'o')]
    assert infer.main(args) == 2
    assert 'estimates kernels only' in capsys.readouterr().err
    assert infer.main(args + ['--save_kernel']) == 0                  # a kernel-only model: kernels
    with np.load(tmp_path / 'o' / 'npz' / 'a_rgb.npz') as z:
        assert z['sr_img'].size == 0 and z['est_ker_lr'].shape == (20, 24, 21, 21)
    capsys.readouterr()
    assert infer.main(['--input', str(tmp_path / 'none'), '--model', str(s1), '--output', str(tmp_path)]) == 2
    assert 'no such image or folder' in capsys.readouterr().err
    assert infer.main(['--input', str(photos), '--model', str(tmp_path / 'x.pth'), '--output', str(tmp_path)]) == 2
    assert 'checkpoint not found' in capsys.readouterr().err
    s2 = _checkpoint(tmp_path / 's2', {'which_model_G': 'MANet_s2', 'in_nc': 3, 'out_nc': 3, 'nf': 8, 'nb': 1,
                                       'gc': 4})
    assert infer.main(['--input', str(photos), '--model', str(s2), '--output', str(tmp_path)]) == 2
    assert 'needs the true kernel' in capsys.readouterr().err


@pytest.mark.parametrize('tiles, message', [
    (['--tile', '8', '--tile_overlap', '32'], '--tile_overlap 32 must be smaller than --tile 8'),
    (['--tile', '32', '--tile_overlap', '32'], '--tile_overlap 32 must be smaller than --tile 32'),
    (['--tile', '-1'], '--tile and --tile_overlap must be >= 0'),
])
def test_tile_arguments_are_usage_errors(capsys, tiles, message):
    from blindsr.commands import infer
    with pytest.raises(SystemExit) as e:
        infer.parse_args(['--input', 'x', '--model', 'y.pth', '--output', 'o'] + tiles)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('usage:') and f'error: {message}' in err, err


def test_whole_image_ignores_the_overlap():
    from blindsr.commands import infer
    args = infer.parse_args(['--input', 'x', '--model', 'y.pth', '--output', 'o', '--tile', '0', '--tile_overlap', '64'])
    assert (args.tile, args.tile_overlap) == (0, 64)
