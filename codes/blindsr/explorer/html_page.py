"""The kernel explorer as one self-contained HTML file (no server, no network).

The page shows the image; hovering a pixel shows its estimated kernel (and the true one with
their PSNR when known), clicking pins the pixel and records it in the URL (``#x=..&y=..``,
SR pixel column and row), which also selects a pixel when the page opens. The kernel values
are in the page too (``#est-values``, ``#gt-values``, 21 rows of numbers), as are the
selected position (``#pos`` with ``data-x``, ``data-y``, ``data-i``, ``data-j``) and
``#psnr``.

Everything is embedded: the image as PNG, the estimated field as little-endian float32
(the file's values) while it fits ``MAX_EMBED_BYTES`` (about 190x190 LR pixels), the true kernels
as a palette of distinct kernels plus an index per pixel (a spatially variant field repeats a few
dozen kernels), the viridis colour map. A larger field from a file with PCA codes (format 2,
``utils/kernel_file.py``) is embedded as those codes (float16, 30 bytes per LR pixel: a whole
photo of 1500x1000 LR pixels takes 45 MB) plus the basis, and the page decodes the kernel under
the cursor; the kernels shown are then the PCA projection the SR network was fed (the page says
so, with its mean distance to the estimate in kernel PSNR).
"""
import base64
import json

import cv2
import numpy as np

from ..utils.files import atomic_write_text

MAX_EMBED_BYTES = 64 * 2 ** 20     # the float32 field (or float16 codes); base64 makes the page 4/3 of it
PROJECTION_SAMPLE = 4096          # LR pixels sampled for the codes' mean distance to the estimate
VIEW = 560           # longest side of the shown image, CSS pixels (small images: whole multiples)


def _b64(arr):
    return base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode('ascii')


def _viridis():
    from matplotlib import colormaps
    return (colormaps['viridis'](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(int).tolist()


def _true_kernels(field):
    """(palette (n, l*l) float32, index (h*w,) int32) of the true kernels, or (None, None)."""
    if field.gt is None:
        return None, None
    l2 = field.kernel_size ** 2
    if field.gt_kind == 'kernel':
        return field.gt[0, 0].reshape(1, l2), np.zeros(field.lr_size[0] * field.lr_size[1], np.int32)
    flat = np.ascontiguousarray(field.gt.reshape(-1, l2))
    palette, index = np.unique(flat, axis=0, return_inverse=True)
    return palette.astype('<f4'), index.reshape(-1).astype('<i4')


def _projection_psnr(field):
    """Mean kernel PSNR (dB) of the decoded codes against the stored estimate, over a fixed sample."""
    from ..utils.kernel_file import decode_codes
    h, w = field.lr_size
    flat = np.linspace(0, h * w - 1, min(h * w, PROJECTION_SAMPLE)).round().astype(np.int64)
    i, j = np.unravel_index(flat, (h, w))
    est = np.asarray(field.est[i, j], np.float64)
    dec = decode_codes(field.codes[i, j], field.basis).astype(np.float64)
    mse = np.mean((est - dec).reshape(len(flat), -1) ** 2, axis=1)
    with np.errstate(divide='ignore'):
        return float(np.mean(-10.0 * np.log10(mse)))


def _kernel_payload(field):
    """('field', float32 bytes) when the field fits the page, else ('codes', float16 codes) when the
    file has codes; otherwise a clear error."""
    h, w = field.lr_size
    field_bytes = h * w * field.kernel_size ** 2 * 4
    if field_bytes <= MAX_EMBED_BYTES:
        return 'field', _b64(np.asarray(field.est, dtype='<f4'))
    if field.codes is not None and field.codes.size * 2 <= MAX_EMBED_BYTES:
        return 'codes', _b64(np.asarray(field.codes, dtype='<f2'))
    why = ('and its PCA codes too' if field.codes is not None else
           'and the file has no PCA codes (a network without a PCA basis, or an older file)')
    raise ValueError(f'{field.path}: the kernel field is {field_bytes / 2 ** 20:.0f} MB, too large for one page '
                     f'(limit {MAX_EMBED_BYTES / 2 ** 20:.0f} MB, about 190x190 LR pixels), {why}; run infer.py '
                     'on a crop, or use the window or --grid')


def build_html(field, title=None):
    """The page's text for a :class:`~blindsr.explorer.field_file.KernelField`."""
    mode, payload = _kernel_payload(field)
    palette, index = _true_kernels(field)
    ok, png = cv2.imencode('.png', np.ascontiguousarray(field.image[:, :, ::-1]))
    if not ok:
        raise ValueError(f'{field.path}: cannot encode the image as PNG')
    H, W = field.sr_size
    h, w = field.lr_size
    psnr_map = field.psnr_map()
    mean_psnr = None if psnr_map is None else float(np.mean(psnr_map))
    meta = {'H': H, 'W': W, 'h': h, 'w': w, 'l': field.kernel_size, 'scale': field.scale,
            'gt': field.gt_kind, 'image': field.image_kind, 'file': field.path.name,
            'mean_psnr': mean_psnr if mean_psnr is None or np.isfinite(mean_psnr) else 'inf',
            'zoom': max(1, VIEW // max(H, W)) if max(H, W) <= VIEW else VIEW / max(H, W),
            'mode': mode, 'k': 0 if field.codes is None else int(field.codes.shape[-1]),
            'projection_psnr': _projection_psnr(field) if mode == 'codes' else None}
    parts = {
        '__TITLE__': title or f'Kernel explorer: {field.path.name}',
        '__META__': json.dumps(meta),
        '__VIRIDIS__': json.dumps(_viridis()),
        '__PNG__': base64.b64encode(png.tobytes()).decode('ascii'),
        '__EST__': payload,
        '__BASIS__': _b64(np.asarray(field.basis, dtype='<f4')) if mode == 'codes' else '',
        '__GT__': '' if palette is None else _b64(palette),
        '__GTINDEX__': '' if index is None else _b64(index),
    }
    page = TEMPLATE
    for key, value in parts.items():
        page = page.replace(key, value)
    return page


def write_html(field, path, title=None):
    """Write the page atomically; returns its size in bytes."""
    page = build_html(field, title)
    atomic_write_text(page, path)
    return len(page)


TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__</title>
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; background: #fafafa; }
 h1 { font-size: 16px; margin: 0 0 4px; }
 .hint { color: #666; margin: 0 0 12px; }
 .row { display: flex; gap: 24px; align-items: flex-start; }
 #view { position: relative; line-height: 0; cursor: crosshair; border: 1px solid #ccc; }
 #sr { image-rendering: pixelated; display: block; user-select: none; }
 #marker { position: absolute; border: 2px solid #ff2a2a; box-sizing: border-box; pointer-events: none; }
 #marker.pinned { border-color: #ffd000; }
 .kernels { display: flex; gap: 16px; }
 .kernel figure { margin: 0; } .kernel figcaption { font-size: 13px; margin-bottom: 4px; }
 canvas.k { width: 189px; height: 189px; image-rendering: pixelated; border: 1px solid #ccc; }
 #info { margin-top: 8px; } #psnr { font-weight: 600; }
 details { margin-top: 10px; } pre { font-size: 10px; line-height: 1.25; overflow-x: auto; }
</style></head>
<body>
<h1>__TITLE__</h1>
<p class="hint">Hover the image to see the kernel estimated for each pixel; click to pin a pixel
(the address records it as <code>#x=..&amp;y=..</code>, SR pixel column and row).</p>
<div class="row">
 <div id="view"><img id="sr" alt="image" src="data:image/png;base64,__PNG__"><div id="marker"></div></div>
 <div>
  <div class="kernels">
   <div class="kernel"><figure><figcaption>estimated kernel</figcaption>
    <canvas id="est-canvas" class="k"></canvas></figure></div>
   <div class="kernel" id="gt-box"><figure><figcaption>true kernel</figcaption>
    <canvas id="gt-canvas" class="k"></canvas></figure></div>
  </div>
  <div id="info">
   <div>SR pixel <span id="pos" data-x="" data-y="" data-i="" data-j="">-</span></div>
   <div>kernel PSNR: <span id="psnr">-</span> <span id="mean"></span></div>
   <div id="about"></div>
  </div>
  <details><summary>kernel values (estimated)</summary><pre id="est-values"></pre></details>
  <details id="gt-details"><summary>kernel values (true)</summary><pre id="gt-values"></pre></details>
 </div>
</div>
<script id="meta" type="application/json">__META__</script>
<script id="viridis" type="application/json">__VIRIDIS__</script>
<script id="est-data" type="application/octet-stream">__EST__</script>
<script id="basis-data" type="application/octet-stream">__BASIS__</script>
<script id="gt-data" type="application/octet-stream">__GT__</script>
<script id="gt-index" type="application/octet-stream">__GTINDEX__</script>
<script>
"use strict";
function bytes(id) {
  const s = atob(document.getElementById(id).textContent.trim());
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}
const M = JSON.parse(document.getElementById('meta').textContent);
const LUT = JSON.parse(document.getElementById('viridis').textContent);
const L2 = M.l * M.l;
function halves(buffer) {      // little-endian float16 -> Float32Array
  const u = new Uint16Array(buffer), out = new Float32Array(u.length);
  for (let n = 0; n < u.length; n++) {
    const x = u[n], sign = x & 0x8000 ? -1 : 1, e = (x >> 10) & 0x1f, f = x & 0x3ff;
    out[n] = sign * (e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15));
  }
  return out;
}
const CODES = M.mode === 'codes' ? halves(bytes('est-data')) : null;
const BASIS = M.mode === 'codes' ? new Float32Array(bytes('basis-data')) : null;
const EST = M.mode === 'codes' ? null : new Float32Array(bytes('est-data'));
const GT = M.gt ? new Float32Array(bytes('gt-data')) : null;
const GTI = M.gt ? new Int32Array(bytes('gt-index')) : null;
const img = document.getElementById('sr'), marker = document.getElementById('marker');
const dispW = Math.round(M.W * M.zoom), dispH = Math.round(M.H * M.zoom);
img.style.width = dispW + 'px'; img.style.height = dispH + 'px';
if (!M.gt) { document.getElementById('gt-box').style.display = 'none';
             document.getElementById('gt-details').style.display = 'none'; }
document.getElementById('about').textContent = M.file + ': ' + M.image + ', ' + M.W + 'x' + M.H +
  ' px, kernel field ' + M.w + 'x' + M.h + ' (x' + M.scale + '), ' +
  (M.gt === 'field' ? 'true kernel field' : M.gt === 'kernel' ? 'one true kernel' : 'no true kernel');
if (M.mode === 'codes') document.getElementById('about').textContent +=
  '; kernels shown: the PCA projection (' + M.k + ' codes) the SR network was fed, on average ' +
  M.projection_psnr.toFixed(1) + ' dB from the estimate' + (M.gt ? ' (the image mean PSNR is the estimate\'s)' : '');
if (M.mean_psnr !== null) document.getElementById('mean').textContent =
  '(image mean ' + (M.mean_psnr === 'inf' ? 'inf' : M.mean_psnr.toFixed(2) + ' dB') + ')';

function kernelAt(i, j) {
  if (!CODES) { const o = (i * M.w + j) * L2; return EST.subarray(o, o + L2); }
  const c = CODES.subarray((i * M.w + j) * M.k, (i * M.w + j + 1) * M.k), k = new Float32Array(L2);
  for (let p = 0; p < L2; p++) { let v = 0; for (let q = 0; q < M.k; q++) v += BASIS[p * M.k + q] * c[q]; k[p] = v; }
  return k;
}
function trueAt(i, j) { if (!GT) return null; const o = GTI[i * M.w + j] * L2; return GT.subarray(o, o + L2); }
function draw(id, k) {
  const c = document.getElementById(id); c.width = M.l; c.height = M.l;
  const ctx = c.getContext('2d'), im = ctx.createImageData(M.l, M.l);
  let mx = 0; for (const v of k) mx = Math.max(mx, v);
  for (let p = 0; p < L2; p++) {
    const q = LUT[Math.max(0, Math.min(255, Math.round(mx > 0 ? k[p] / mx * 255 : 0)))];
    im.data[4 * p] = q[0]; im.data[4 * p + 1] = q[1]; im.data[4 * p + 2] = q[2]; im.data[4 * p + 3] = 255;
  }
  ctx.putImageData(im, 0, 0);
}
function values(k) {
  const rows = [];
  for (let r = 0; r < M.l; r++)
    rows.push(Array.from(k.subarray(r * M.l, (r + 1) * M.l), v => v.toExponential(6)).join(' '));
  return rows.join('\n');
}
function psnr(a, b) {
  let s = 0; for (let p = 0; p < L2; p++) { const d = a[p] - b[p]; s += d * d; }
  return s === 0 ? Infinity : -10 * Math.log10(s / L2);
}
let pinned = null;
function show(x, y) {
  x = Math.max(0, Math.min(M.W - 1, Math.floor(x))); y = Math.max(0, Math.min(M.H - 1, Math.floor(y)));
  const i = Math.floor(y / M.scale), j = Math.floor(x / M.scale);
  const e = kernelAt(i, j), g = trueAt(i, j);
  draw('est-canvas', e);
  document.getElementById('est-values').textContent = values(e);
  const pos = document.getElementById('pos');
  pos.textContent = '(' + x + ', ' + y + ') = LR pixel (' + j + ', ' + i + ')';
  pos.dataset.x = x; pos.dataset.y = y; pos.dataset.i = i; pos.dataset.j = j;
  if (g) {
    draw('gt-canvas', g);
    document.getElementById('gt-values').textContent = values(g);
    const p = psnr(e, g);
    document.getElementById('psnr').textContent = isFinite(p) ? p.toFixed(4) + ' dB' : 'inf';
  } else { document.getElementById('psnr').textContent = 'no true kernel'; }
  const side = Math.max(10, M.scale * M.zoom), c = (M.scale * M.zoom - side) / 2;   // the LR pixel's footprint
  marker.style.left = (j * M.scale * M.zoom + c) + 'px'; marker.style.top = (i * M.scale * M.zoom + c) + 'px';
  marker.style.width = side + 'px'; marker.style.height = side + 'px';
}
function fromEvent(ev) {
  const r = img.getBoundingClientRect();
  return [(ev.clientX - r.left) / r.width * M.W, (ev.clientY - r.top) / r.height * M.H];
}
function fromHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  if (p.has('x') && p.has('y') && isFinite(+p.get('x')) && isFinite(+p.get('y'))) {
    pinned = [+p.get('x'), +p.get('y')]; marker.classList.add('pinned');
  }
  const at = pinned || [M.W / 2, M.H / 2];
  show(at[0], at[1]);
}
img.addEventListener('mousemove', ev => show(...fromEvent(ev)));
img.addEventListener('mouseleave', () => { const at = pinned || [M.W / 2, M.H / 2]; show(at[0], at[1]); });
img.addEventListener('click', ev => {
  const [x, y] = fromEvent(ev).map(Math.floor);
  pinned = [x, y]; marker.classList.add('pinned');
  history.replaceState(null, '', '#x=' + x + '&y=' + y); show(x, y);
});
window.addEventListener('hashchange', fromHash);
fromHash();
</script>
</body></html>
"""
