"""Memory flat in image size (issue 12, points 11 and 14): tiles streamed into sinks, the compact
--save_kernel file written tile by tile, the explorer on it, and --precision."""
import re

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from blindsr.archs.tiling import Tile, iter_tiles, tile_spans
from blindsr.degradation.pca import load_pca_matrix, pca_decode, pca_encode
from blindsr.engine.tile_sinks import CentreKernel, FieldStitcher, KernelPSNR, Reblurred, SRStitcher
from blindsr.explorer.field_file import load_kernel_field
from blindsr.explorer import html_page
from blindsr.inference.checkpoint_options import checkpoint_options
from blindsr.inference.runner import Inference
from blindsr.inference.sr_picture import SRPicture
from blindsr.metrics.kernel_metrics import kernel_field_psnr
from blindsr.utils.device import device_from_name
from blindsr.utils.kernel_file import KernelFileWriter, decode_codes, read_kernel_file
from blindsr.utils.paths import REPO_ROOT

from test_infer import S1, S3, _checkpoint

PCA = REPO_ROOT / 'pretrained_models' / 'pca_matrix_aniso21_15_x4.pth'
CPU = torch.device('cpu')
FP16_ATOL = 2e-4         # float16 spacing at the largest kernel taps (< 0.25) is 1.2e-4


def _field(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, 441, h, w, generator=g) * 3
    return torch.softmax(logits, dim=1).permute(0, 2, 3, 1).unflatten(3, (21, 21)).contiguous()


def _tiles_of(field, tile, overlap, scale=4):
    """The full field cut as a tiled forward would hand it over (spans with context, cores)."""
    h, w = field.shape[1:3]
    for y0, y1, cy0, cy1 in tile_spans(h, tile, overlap):
        for x0, x1, cx0, cx1 in tile_spans(w, tile, overlap):
            sr = torch.zeros(1, 3, scale * (y1 - y0), scale * (x1 - x0))
            yield Tile((y0, y1, x0, x1), (cy0, cy1, cx0, cx1), scale, (h, w), sr, field[:, y0:y1, x0:x1])


def _write(path, tiles, basis):
    with KernelFileWriter(path, 4, basis) as writer:
        for t in tiles:
            writer.add(t)
        h, w = t.image_size
        writer.finish({'sr_img': np.zeros((0,), np.uint8), 'lr_img': np.zeros((h, w, 3), np.uint8)})
    return path


def test_compact_file_round_trip_and_tiles_equal_one_piece(tmp_path):
    field = _field(37, 45)
    basis = load_pca_matrix(PCA)
    tiled = _write(tmp_path / 'tiled.npz', _tiles_of(field, 16, 6), basis)
    whole = _write(tmp_path / 'whole.npz', _tiles_of(field, 64, 0), basis)
    a, b = read_kernel_file(tiled), read_kernel_file(whole)
    assert isinstance(a['est_ker_lr'], np.memmap) and a['est_ker_lr'].dtype == np.float16
    assert int(a['format']) == 2 and int(a['scale']) == 4
    for key in ('est_ker_lr', 'est_codes'):
        assert np.array_equal(a[key], b[key]), key               # tile by tile == in one piece, bit for bit
    assert tiled.read_bytes() == whole.read_bytes()
    f = field[0].numpy()
    np.testing.assert_allclose(a['est_ker_lr'].astype(np.float32), f, rtol=1e-3, atol=1e-7)
    # codes + basis decode to the network's PCA projection of the field (float tolerance)
    np.testing.assert_allclose(a['est_codes'], pca_encode(field, basis)[0].numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(decode_codes(a['est_codes'], a['pca_basis']),
                               pca_decode(pca_encode(field, basis), basis)[0].numpy(), rtol=1e-4, atol=1e-7)
    with np.load(tiled) as z:                                    # still an ordinary .npz
        assert np.array_equal(z['est_ker_lr'], a['est_ker_lr'])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['tiled.npz', 'whole.npz']     # no temporaries left


def test_a_failure_leaves_nothing(tmp_path):
    field = _field(20, 20)
    with pytest.raises(RuntimeError, match='boom'):
        with KernelFileWriter(tmp_path / 'npz' / 'x.npz', 4, None) as writer:
            writer.add(next(_tiles_of(field, 16, 6)))
            raise RuntimeError('boom')
    assert list((tmp_path / 'npz').iterdir()) == []


def test_tiled_model_file_equals_untiled(tmp_path, one_thread):
    """MANet_s1 at its exact overlap (22): the tiled file holds the untiled field (fp16-rounded)."""
    ckpt = _checkpoint(tmp_path / 'm', S1)
    lr = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    inference = Inference(checkpoint_options(ckpt), CPU, tile=32, tile_overlap=22)
    inference.model.feed_data({'LQ': lr}, train=False)
    full = inference.model.test()['est_field']
    with KernelFileWriter(tmp_path / 'a.npz', 4, None) as writer:
        inference.model.test_streamed([writer], tile=32, tile_overlap=22)
        writer.finish({})
    got = read_kernel_file(tmp_path / 'a.npz')['est_ker_lr'].astype(np.float32)
    np.testing.assert_allclose(got, full[0].numpy(), rtol=1e-3, atol=1e-6)
    assert len(list(tile_spans(40, 32, 22))) * len(list(tile_spans(56, 32, 22))) > 1


def test_explorer_reads_the_compact_file(tmp_path, monkeypatch):
    field = _field(12, 14)
    basis = load_pca_matrix(PCA)
    path = _write(tmp_path / 'c.npz', _tiles_of(field, 8, 2), basis)
    f = load_kernel_field(path)
    assert f.image_kind.startswith('LR') and f.sr_size == (48, 56) and f.codes.shape == (12, 14, 15)
    est, gt, psnr = f.kernels_at(30, 21)
    assert est.dtype == np.float32 and gt is None and psnr is None
    np.testing.assert_allclose(est, field[0, 21 // 4, 30 // 4].numpy(), rtol=1e-3, atol=1e-7)
    assert 'mode": "field"' in html_page.build_html(f)        # small: the field itself
    monkeypatch.setattr(html_page, 'MAX_EMBED_BYTES', 12 * 14 * 15 * 2)
    page = html_page.build_html(f)                             # too large for the field: the codes
    assert '"mode": "codes"' in page and '"k": 15' in page
    meta = re.search(r'"projection_psnr": ([\d.]+)', page)
    assert meta and float(meta.group(1)) > 20


def test_html_page_of_a_whole_photo_from_codes(tmp_path):
    """1000x1000 LR pixels: the page embeds the codes (float16), not the 1.7 GB field."""
    h = w = 1000
    codes = np.random.RandomState(0).rand(h, w, 15).astype(np.float32) * 0.1
    basis = np.asarray(load_pca_matrix(PCA))
    from blindsr.explorer.field_file import KernelField
    est = np.broadcast_to(decode_codes(codes[:1, :1], basis).astype(np.float16), (h, w, 21, 21))
    field = KernelField(tmp_path / 'big.npz', np.zeros((4 * h, 4 * w, 3), np.uint8), 'SR', est, None, None, 4,
                        codes, basis)
    page = html_page.build_html(field)
    assert '"mode": "codes"' in page and len(page) < 60 * 2 ** 20


def test_html_page_decodes_codes_in_chromium(tmp_path, monkeypatch, chromium):
    from blindsr.utils.headless_browser import dump_dom, file_url
    field = _field(6, 7)
    path = _write(tmp_path / 'c.npz', _tiles_of(field, 64, 0), load_pca_matrix(PCA))
    monkeypatch.setattr(html_page, 'MAX_EMBED_BYTES', 6 * 7 * 15 * 2)
    f = load_kernel_field(path)
    html_page.write_html(f, tmp_path / 'c.html')
    dom = dump_dom(file_url(tmp_path / 'c.html', 'x=13&y=9'))
    rows = re.search(r'<pre id="est-values">([^<]*)</pre>', dom).group(1).strip().split('\n')
    shown = np.array([[float(v) for v in r.split()] for r in rows])
    want = decode_codes(f.codes[9 // 4, 13 // 4].astype(np.float16).astype(np.float32), f.basis)
    np.testing.assert_allclose(shown, want, rtol=1e-4, atol=1e-7)
    assert 'PCA projection' in dom


class _Sizes(TorchDispatchMode):
    """Records the largest tensor any operation produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_without_save_kernel_no_full_field_is_allocated(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path / 'm', S3)
    photo = tmp_path / 'p.png'
    import cv2
    cv2.imwrite(str(photo), (np.random.RandomState(0).rand(32, 80, 3) * 255).astype(np.uint8))
    inference = Inference(checkpoint_options(ckpt), CPU, tile=24, tile_overlap=8)
    full = 32 * 80 * 441
    with _Sizes() as sizes:
        picture = SRPicture()
        inference.run(photo, [picture])
    assert picture.picture.shape == (128, 320, 3)
    up8 = lambda n: -(-n // 8) * 8                                # the estimator pads tiles to multiples of 8
    tile_field = max(up8(y1 - y0) * up8(x1 - x0) for y0, y1, *_ in tile_spans(32, 24, 8)
                     for x0, x1, *_ in tile_spans(80, 24, 8)) * 441
    assert sizes.largest <= tile_field < full / 3, (sizes.largest, tile_field, full)   # nothing beyond a tile's field
    inference.tile = None                                        # the check is real: one whole-image tile trips it
    with _Sizes() as sizes:
        inference.run(photo, [FieldStitcher()])
    assert sizes.largest >= full


def test_streamed_metrics_equal_the_whole_field(tmp_path, one_thread):
    """Kernel PSNR and the HR re-degradation gathered per tile equal those of the stitched field."""
    ckpt = _checkpoint(tmp_path / 'm', S3)
    model = Inference(checkpoint_options(ckpt), CPU).model
    g = torch.Generator().manual_seed(3)
    hr = torch.rand(1, 3, 160, 192, generator=g)
    true = _field(40, 48, seed=4)
    model.feed_data({'LQ': torch.rand(1, 3, 40, 48, generator=g), 'GT': hr, 'kernel_field': true}, train=False)
    ref = model.test(tile=16, tile_overlap=8)
    sinks = [SRStitcher(), CentreKernel(), KernelPSNR(true), Reblurred(model.reblur, hr)]
    model.test_streamed(sinks, tile=16, tile_overlap=8)
    assert torch.equal(sinks[0].sr, ref['sr'])
    assert np.array_equal(sinks[1].kernel, ref['est_field'][0, 20, 24].numpy())
    assert sinks[2].value == pytest.approx(kernel_field_psnr(ref['est_field'][0], true[0]), rel=1e-9)
    assert torch.equal(sinks[3].lr, model.reblur(hr, ref['est_field']))


def test_bf16_psnr_within_0_1_db_of_fp32(one_thread):
    from blindsr.metrics.psnr_ssim import psnr_y
    from blindsr.utils.image_io import img2tensor, read_image
    ckpt = REPO_ROOT / 'pretrained_models' / 'MANet_s3_x4_SunHays80.pth'
    hr = img2tensor(read_image(REPO_ROOT / 'datasets' / 'toy_dataset' / 'HR_si' / 'toy1.png'))[None, :, :96, :96]
    results = {}
    for precision in ('fp32', 'bf16'):
        inference = Inference(checkpoint_options(ckpt), CPU, precision=precision)
        model = inference.model
        model.feed_data({'GT': hr}, generator=torch.Generator().manual_seed(0), train=False)
        stitch = SRStitcher()
        out = model.test_streamed([stitch])
        results[precision] = psnr_y(stitch.sr[0], out['hr'][0], crop=4)
    assert abs(results['bf16'] - results['fp32']) < 0.1, results
    assert results['fp32'] > 20


def test_fp16_on_cpu_is_a_usage_error(tmp_path, capsys):
    from blindsr.commands import infer, test
    with pytest.raises(SystemExit) as e:
        infer.parse_args(['--input', 'x', '--model', 'y.pth', '--output', 'o', '--device', 'cpu',
                          '--precision', 'fp16'])
    assert e.value.code == 2 and '--precision fp16 needs CUDA' in capsys.readouterr().err
    ckpt = _checkpoint(tmp_path / 'm', S3)
    with pytest.raises(ValueError, match='--precision fp16 needs CUDA'):
        Inference(checkpoint_options(ckpt), CPU, precision='fp16')
    if not torch.cuda.is_available():          # --device auto on a CPU machine: the same one line, exit 2
        photo = REPO_ROOT / 'datasets' / 'historical' / 'LR' / 'img001.png'
        assert infer.main(['--input', str(photo), '--model', str(ckpt), '--output', str(tmp_path / 'o'),
                           '--precision', 'fp16']) == 2
        assert 'error: --precision fp16 needs CUDA' in capsys.readouterr().err
        assert not (tmp_path / 'o').exists()
    assert test.parse_args(['--opt', 'x.yml', '--precision', 'bf16']).precision == 'bf16'


def test_png_written_by_bands_decodes_to_the_picture(tmp_path):
    import cv2
    from blindsr.utils.png_stream import PNGStreamWriter
    rs = np.random.RandomState(0)
    for channels in (1, 3, 4):
        img = (rs.rand(87, 53, channels) * 255).astype(np.uint8)
        with PNGStreamWriter(tmp_path / 'p.png', 53, 87, channels) as png:
            for r0, r1 in ((0, 10), (10, 11), (11, 87)):               # the last band is filtered in pieces
                png.write(img[r0:r1])
        back = cv2.imread(str(tmp_path / 'p.png'), cv2.IMREAD_UNCHANGED).reshape(img.shape)
        order = {1: [0], 3: [2, 1, 0], 4: [2, 1, 0, 3]}[channels]
        assert np.array_equal(back[:, :, order], img), channels
    with pytest.raises(ValueError, match='10 of 37 rows'):
        with PNGStreamWriter(tmp_path / 'short.png', 53, 37, 3) as png:
            png.write(img[:10, :, :3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['p.png']        # nothing half-written


def test_a_failure_mid_image_leaves_no_output(tmp_path, monkeypatch, one_thread):
    import cv2
    from blindsr.inference.runner import super_resolve
    ckpt = _checkpoint(tmp_path / 'm', S3)
    photo = tmp_path / 'in' / 'p.png'
    photo.parent.mkdir()
    cv2.imwrite(str(photo), (np.random.RandomState(0).rand(24, 40, 3) * 255).astype(np.uint8))
    inference = Inference(checkpoint_options(ckpt), CPU, tile=16, tile_overlap=4)
    net = inference.model.bare(inference.model.net)
    forward, calls = net.forward, []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError('out of memory (simulated)')
        return forward(*args)

    monkeypatch.setattr(net, 'forward', failing)
    summary = super_resolve(inference, [photo], tmp_path / 'out', save_kernel=True)
    assert summary.failed and 'simulated' in summary.failed[0][1]
    assert [p for p in (tmp_path / 'out').rglob('*') if p.is_file()] == []


def test_a_tile_is_freed_before_the_next_forward():
    """Nothing (not even a no_grad generator wrapper) keeps the last tile while the next one runs."""
    import weakref
    refs = []

    def net(x):
        assert all(r() is None for r in refs), 'a previous tile is still alive'
        field = torch.zeros(1, *x.shape[-2:], 3, 3)
        refs.append(weakref.ref(field))
        return torch.zeros(1, 3, 2 * x.shape[-2], 2 * x.shape[-1]), field

    for t in iter_tiles(net, torch.rand(1, 3, 20, 20), 8, 2, scale=2):
        del t
    assert len(refs) > 4
