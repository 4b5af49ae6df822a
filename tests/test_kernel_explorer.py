"""explore_kernels.py: the kernels under a pixel, the window (Agg), the HTML page (headless Chromium), the grid."""
import html
import math
import os
import re
import subprocess
import sys

import cv2
import matplotlib
import numpy as np
import pytest
from blindsr.degradation.kernels import anisotropic_kernels
from blindsr.explorer.field_file import KernelFileError, load_kernel_field
from blindsr.explorer.grid_picture import grid_points, kernel_grid_picture
from blindsr.explorer.html_page import build_html, write_html
from blindsr.metrics.kernel_metrics import kernel_psnr
from blindsr.utils.headless_browser import dump_dom, file_url
from blindsr.utils.paths import REPO_ROOT

matplotlib.use('Agg')

EXPLORE = str(REPO_ROOT / 'codes' / 'explore_kernels.py')
H_LR, W_LR, S = 6, 7, 4


def _fields(seed=0):
    rs = np.random.RandomState(seed)
    est = rs.rand(H_LR, W_LR, 21, 21).astype(np.float32) ** 4
    est /= est.sum(axis=(2, 3), keepdims=True)
    sig1 = np.linspace(1.0, 9.0, H_LR * W_LR)
    gt = anisotropic_kernels(sig1, 2.0, 0.6, S).numpy().reshape(H_LR, W_LR, 21, 21)
    sr = rs.randint(0, 256, (H_LR * S, W_LR * S, 3)).astype(np.uint8)
    return est, gt, sr


@pytest.fixture
def npz_sv(tmp_path):
    est, gt, sr = _fields()
    path = tmp_path / 'img.npz'
    np.savez(path, sr_img=sr, est_ker_lr=est, gt_ker=gt, scale=np.int64(S), lr_img=sr[::S, ::S])
    return path, est, gt, sr


@pytest.fixture
def npz_si_no_sr(tmp_path):
    est, gt, sr = _fields(1)
    path = tmp_path / 'si.npz'
    np.savez(path, sr_img=np.zeros((0,)), est_ker_lr=est, gt_ker=gt[2, 3], scale=np.int64(S), lr_img=sr[::S, ::S])
    return path, est, gt[2, 3], sr[::S, ::S]


# ----------------------------------------------------------------------------- the data
def test_kernels_under_a_pixel(npz_sv):
    path, est, gt, sr = npz_sv
    f = load_kernel_field(path)
    assert f.image_kind == 'SR' and np.array_equal(f.image, sr[:, :, ::-1]) and f.gt_kind == 'field'
    for x, y in [(0, 0), (13, 9), (W_LR * S - 1, H_LR * S - 1), (5, 22)]:
        e, g, p = f.kernels_at(x, y)
        assert np.array_equal(e, est[y // S, x // S]) and np.array_equal(g, gt[y // S, x // S])
        assert p == pytest.approx(kernel_psnr(est[y // S, x // S], gt[y // S, x // S]), abs=1e-9)
    assert f.lr_pixel(10_000, -5) == (0, W_LR - 1)
    np.testing.assert_allclose(f.psnr_map()[4, 5], kernel_psnr(est[4, 5], gt[4, 5]), atol=1e-9)


def test_background_and_formats(npz_si_no_sr, tmp_path):
    path, est, gt, lr_bgr = npz_si_no_sr
    f = load_kernel_field(path)
    assert f.image_kind == 'LR x4 (nearest)' and f.image.shape == (H_LR * S, W_LR * S, 3)
    assert np.array_equal(f.image[S * 2 + 3, S * 5 + 1], lr_bgr[2, 5, ::-1])
    assert f.gt_kind == 'kernel' and np.array_equal(f.kernels_at(9, 17)[1], gt)
    # --image replaces it; a size that fits neither SR nor LR is refused
    cv2.imwrite(str(tmp_path / 'pic.png'), np.full((H_LR, W_LR, 3), 7, np.uint8))
    assert load_kernel_field(path, image=tmp_path / 'pic.png').image[0, 0, 0] == 7
    cv2.imwrite(str(tmp_path / 'odd.png'), np.zeros((5, 5, 3), np.uint8))
    with pytest.raises(KernelFileError, match='give a matching --image'):
        load_kernel_field(path, image=tmp_path / 'odd.png')
    # the authors' layout: one kernel per SR pixel
    sr = np.zeros((8, 12, 3), np.uint8)
    np.savez(tmp_path / 'authors.npz', sr_img=sr, est_ker_sv=np.ones((96, 21, 21), np.float32) / 441,
             gt_ker=np.zeros((21, 21)))
    a = load_kernel_field(tmp_path / 'authors.npz')
    assert a.scale == 1 and a.est.shape == (8, 12, 21, 21) and a.gt is None     # an all-zero gt means none
    np.savez(tmp_path / 'bad.npz', something=np.zeros(3))
    with pytest.raises(KernelFileError, match="no 'est_ker_lr' array"):
        load_kernel_field(tmp_path / 'bad.npz')
    np.savez(tmp_path / 'bad_gt.npz', est_ker_lr=est, gt_ker=np.ones((3, 21, 21)), scale=4)
    with pytest.raises(KernelFileError, match='gt_ker has shape'):
        load_kernel_field(tmp_path / 'bad_gt.npz')


# ----------------------------------------------------------------------------- the window
def test_window_follows_the_cursor(npz_sv):
    from blindsr.explorer.window import KernelExplorerWindow, interactive_backend
    from matplotlib.backend_bases import MouseEvent
    assert not interactive_backend()                  # Agg: no window, but the figure and handler work
    path, est, gt, _ = npz_sv
    win = KernelExplorerWindow(load_kernel_field(path))
    assert win.position == (H_LR * S // 2 // S, W_LR * S // 2 // S)
    win.fig.canvas.draw()
    for x, y in [(13, 9), (27, 2), (0, 23)]:
        px, py = win.ax_img.transData.transform((x, y))
        event = MouseEvent('motion_notify_event', win.fig.canvas, px, py)
        win.fig.canvas.callbacks.process('motion_notify_event', event)
        i, j = y // S, x // S
        assert win.position == (i, j)
        assert np.array_equal(np.asarray(win.est_artist.get_array()), est[i, j])
        assert np.array_equal(np.asarray(win.gt_artist.get_array()), gt[i, j])
        assert f'{kernel_psnr(est[i, j], gt[i, j]):.2f} dB' in win.ax_est.get_title()
        assert win.marker.get_xy() == (j * S - 0.5, i * S - 0.5)
    # outside the image: nothing changes
    px, py = win.ax_est.transData.transform((3, 3))
    win.on_move(MouseEvent('motion_notify_event', win.fig.canvas, px, py))
    assert win.position == (23 // S, 0)
    matplotlib.pyplot.close(win.fig)


# ----------------------------------------------------------------------------- the HTML page
def _dom_numbers(dom, element_id):
    m = re.search(rf'<pre id="{element_id}">([^<]*)</pre>', dom)
    assert m, f'#{element_id} not in the DOM'
    rows = html.unescape(m.group(1)).strip().split('\n')
    return np.array([[float(v) for v in r.split()] for r in rows])


@pytest.mark.parametrize('x, y', [(13, 9), (0, 0), (27, 23)])
def test_html_page_in_chromium(npz_sv, tmp_path, chromium, x, y):
    path, est, gt, _ = npz_sv
    page = tmp_path / 'page.html'
    write_html(load_kernel_field(path), page)
    dom = dump_dom(file_url(page, f'x={x}&y={y}'))
    pos = re.search(r'<span id="pos" data-x="(\d+)" data-y="(\d+)" data-i="(\d+)" data-j="(\d+)">', dom)
    assert pos and tuple(map(int, pos.groups())) == (x, y, y // S, x // S)
    i, j = y // S, x // S
    shown = _dom_numbers(dom, 'est-values')
    assert shown.shape == (21, 21)
    np.testing.assert_allclose(shown, est[i, j], rtol=1e-6, atol=0)
    np.testing.assert_allclose(_dom_numbers(dom, 'gt-values'), gt[i, j], rtol=1e-6, atol=1e-30)
    psnr = float(re.search(r'<span id="psnr">([\d.]+) dB</span>', dom).group(1))
    assert psnr == pytest.approx(kernel_psnr(est[i, j], gt[i, j]), abs=1e-4)


def test_html_page_one_true_kernel_and_none(npz_si_no_sr, tmp_path, chromium):
    path, est, gt, _ = npz_si_no_sr
    page = tmp_path / 'si.html'
    write_html(load_kernel_field(path), page)
    dom = dump_dom(file_url(page, 'x=26&y=5'))
    np.testing.assert_allclose(_dom_numbers(dom, 'est-values'), est[1, 6], rtol=1e-6)
    np.testing.assert_allclose(_dom_numbers(dom, 'gt-values'), gt, rtol=1e-6, atol=1e-30)
    # without a true kernel the page still works and says so
    np.savez(tmp_path / 'none.npz', est_ker_lr=est, scale=np.int64(S))
    write_html(load_kernel_field(tmp_path / 'none.npz'), tmp_path / 'none.html')
    dom = dump_dom(file_url(tmp_path / 'none.html', 'x=4&y=4'))
    assert '<span id="psnr">no true kernel</span>' in dom
    np.testing.assert_allclose(_dom_numbers(dom, 'est-values'), est[1, 1], rtol=1e-6)


def test_html_is_self_contained(npz_sv):
    path = npz_sv[0]
    page = build_html(load_kernel_field(path))
    assert 'http://' not in page and 'https://' not in page and '<link' not in page
    assert re.findall(r'src="([^"]*)"', page) == [page[page.index('data:image/png'):].split('"')[0]]


# ----------------------------------------------------------------------------- the grid picture
def test_grid_picture(npz_sv):
    path, est, _, _ = npz_sv
    f = load_kernel_field(path)
    pic = kernel_grid_picture(f, step=2, fill=0.75)                  # cells of 8 SR px, tiles of 6
    assert pic.shape == f.image.shape and pic.dtype == np.uint8
    points = grid_points(f.lr_size, 2)
    assert points == [(i, j) for i in (1, 3, 5) for j in (1, 3, 5)]
    covered = np.zeros(pic.shape[:2], bool)
    for i, j in points:
        cy, cx = i * S + S // 2, j * S + S // 2
        tile = pic[cy - 3:cy + 3, cx - 3:cx + 3]
        covered[cy - 3:cy + 3, cx - 3:cx + 3] = True
        assert (tile[0] == 255).all() and (tile[:, -1] == 255).all()           # white frame
        assert not np.array_equal(tile[1:-1, 1:-1], f.image[cy - 2:cy + 2, cx - 2:cx + 2])
    assert np.array_equal(pic[~covered], f.image[~covered])                  # the image elsewhere
    # the tile is the kernel, colour-mapped by its own peak: its brightest cell is where the kernel peaks
    big = kernel_grid_picture(f, step=6, fill=1.0)                         # one 24-px tile, kernel 21 -> 24
    i, j = grid_points(f.lr_size, 6)[0]
    assert (i, j) == (3, 3)
    tile = big[i * S + 2 - 12:i * S + 2 + 12, j * S + 2 - 12:j * S + 2 + 12].astype(int)
    peak = np.unravel_index(np.argmax(tile[1:-1, 1:-1].sum(-1)), (22, 22))
    ky, kx = np.unravel_index(np.argmax(est[i, j]), (21, 21))
    assert abs(peak[0] + 1 - (ky * 24 + 12) // 21) <= 2 and abs(peak[1] + 1 - (kx * 24 + 12) // 21) <= 2


# ----------------------------------------------------------------------------- the command line
def test_cli_writes_html_and_grid_and_keeps_them(npz_sv, tmp_path, capsys):
    from blindsr.commands import explore_kernels
    path = npz_sv[0]
    out_html, out_png = tmp_path / 'k.html', tmp_path / 'k.png'
    args = ['--path', str(path), '--html', str(out_html), '--grid', str(out_png)]
    res = subprocess.run([sys.executable, EXPLORE] + args, capture_output=True, text=True,
                         env=dict(os.environ, MPLBACKEND='Agg'))
    assert res.returncode == 0, res.stderr
    assert out_html.stat().st_size > npz_sv[1].nbytes and cv2.imread(str(out_png)).shape == (24, 28, 3)
    capsys.readouterr()
    assert explore_kernels.main(args) == 2 and 'exists; use --overwrite' in capsys.readouterr().err
    assert explore_kernels.main(args + ['--overwrite']) == 0
    # no output asked: the window, which Agg cannot open
    assert explore_kernels.main(['--path', str(path)]) == 2
    err = capsys.readouterr().err
    assert 'cannot open a window' in err and '--html' in err
    assert explore_kernels.main(['--path', str(tmp_path / 'nope.npz')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'file not found' in err


def test_psnr_inf_when_equal(tmp_path):
    est, _, _ = _fields()
    np.savez(tmp_path / 'same.npz', est_ker_lr=est, gt_ker=est, scale=np.int64(S))
    f = load_kernel_field(tmp_path / 'same.npz')
    assert math.isinf(f.kernels_at(3, 3)[2])
    assert '"mean_psnr": "inf"' in build_html(f)
