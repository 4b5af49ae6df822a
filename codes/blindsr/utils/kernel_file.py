"""The ``--save_kernel`` file (``npz/<img>.npz``), written tile by tile in bounded memory.

Format 2 (``format`` = 2), a zip of ``.npy`` members as ``numpy.savez`` makes, so ``np.load``
reads it like any ``.npz``:

* ``est_ker_lr`` (h, w, l, l) float16: the estimated kernel of every LR pixel (fp16 keeps a
  kernel to about 117 dB kernel PSNR; 882 bytes per LR pixel);
* ``est_codes`` (h, w, k) float32 and ``pca_basis`` (l*l, k) float32, for networks that condition
  on PCA codes (MANet_s2/s3): ``codes = kernel_flat @ basis`` is what the SR network consumed,
  and ``codes @ basis.T`` its view of the kernel (about 48 dB from the estimate: a projection,
  not the estimate); 60 bytes per LR pixel, what the HTML explorer embeds for large images;
* ``scale``, ``sr_img`` (uint8 BGR, empty for a kernel-only model), ``lr_img``, ``gt_ker`` as
  before.

``sr_img`` may be streamed too (:meth:`KernelFileWriter.expect_sr`, band by band; compressed
as it is copied in). The two per-pixel members are stored uncompressed: while the image runs they go tile by tile
into hidden temporary ``.npy`` files beside the target (positioned writes, never a mapping the
process would hold), and the zip is assembled by copying them in chunks; readers map them
(:func:`read_kernel_file`) instead of loading them. Everything goes to a temporary file renamed
onto the target at the end, so a failure leaves no partial file (the temporaries are removed).
Format 1 (older files: ``est_ker_lr`` float32, compressed) and the authors' files still read.
"""
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .files import atomic_path

FORMAT = 2
STREAMED = ('est_ker_lr', 'est_codes')
CHUNK_BYTES = 32 * 2 ** 20        # float32 rows converted at once
_DATE = (1980, 1, 1, 0, 0, 0)      # fixed zip dates: equal arrays give equal bytes


class _NpyStream:
    """A ``.npy`` file of known shape written in pieces at their offsets (``os.pwrite``)."""

    def __init__(self, folder, name, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        fd, path = tempfile.mkstemp(prefix=f'.{name}.', suffix='.npy.tmp', dir=folder)
        self.path = Path(path)
        with os.fdopen(fd, 'wb') as f:
            np.lib.format.write_array_header_1_0(f, {'descr': np.lib.format.dtype_to_descr(self.dtype),
                                                     'fortran_order': False, 'shape': self.shape})
            self.offset = f.tell()
            f.truncate(self.offset + int(np.prod(self.shape)) * self.dtype.itemsize)
        self.fd = os.open(self.path, os.O_WRONLY)
        self.row = int(np.prod(self.shape[1:])) * self.dtype.itemsize      # bytes per image row

    def write_block(self, block, i0, j0):
        """Write ``block`` (n, m, ...) at rows i0.., columns j0.. (one positioned write per row)."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        per_pixel = int(np.prod(self.shape[2:])) * self.dtype.itemsize
        for r in range(block.shape[0]):
            os.pwrite(self.fd, block[r].tobytes(), self.offset + (i0 + r) * self.row + j0 * per_pixel)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def remove(self):
        self.close()
        self.path.unlink(missing_ok=True)


def _zip_info(name, method):
    info = zipfile.ZipInfo(f'{name}.npy', date_time=_DATE)
    info.compress_type = method
    info.external_attr = 0o644 << 16
    return info


class KernelFileWriter:
    """Write one image's kernel file tile by tile; a :class:`~blindsr.engine.tile_sinks.TileSink`.

    Use as a context manager: ``add`` every tile, then ``finish(arrays)`` with the small arrays
    (``sr_img``, ``lr_img``, ``gt_ker``); leaving the block by an exception removes everything.

    Args:
        path (str | Path): the target ``.npz``.
        scale (int): the SR factor.
        basis (Tensor | ndarray): the PCA basis (l*l, k) the network codes kernels with, or None.
    """

    def __init__(self, path, scale, basis=None):
        self.path = Path(path)
        self.scale = int(scale)
        self.basis = None if basis is None else np.asarray(basis, np.float32).reshape(-1, np.shape(basis)[-1])
        self.streams = {}

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.abort()
        return False

    def _open(self, tile):
        import torch
        h, w = tile.image_size
        l1, l2 = tile.field.shape[-2:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.streams['est_ker_lr'] = _NpyStream(self.path.parent, f'{self.path.name}.est_ker_lr', (h, w, l1, l2),
                                                np.float16)
        if self.basis is not None:
            self.streams['est_codes'] = _NpyStream(self.path.parent, f'{self.path.name}.est_codes',
                                                   (h, w, self.basis.shape[1]), np.float32)
            self._basis_t = torch.from_numpy(self.basis)

    def sr_band(self, band, row0):
        """Stream the SR picture (``sr_img``, stored BGR) band by band: ``band`` (n, W[, 3]) holds RGB
        or gray rows ``row0 ..`` of the picture announced by :meth:`expect_sr`."""
        rgb = band.ndim == 3
        self.streams['sr_img'].write_block(band[:, :, ::-1] if rgb else band, row0, 0)

    def expect_sr(self, shape):
        """Announce a streamed ``sr_img`` of ``shape`` (H, W[, 3]) uint8; then feed :meth:`sr_band`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.streams['sr_img'] = _NpyStream(self.path.parent, f'{self.path.name}.sr_img', shape, np.uint8)

    def add(self, tile):
        if 'est_ker_lr' not in self.streams:
            self._open(tile)
        core = tile.core_field()[0]
        cy0, _, cx0, _ = tile.core
        rows = max(1, CHUNK_BYTES // max(1, core[0].numel() * 4))   # bounded even for an expanded view
        for r in range(0, core.shape[0], rows):
            part = core[r:r + rows].float()
            self.streams['est_ker_lr'].write_block(part.half().cpu().numpy(), cy0 + r, cx0)
            if 'est_codes' in self.streams:
                # in float64, so that a code does not depend on the tile it came in (float32 matmul
                # rounding follows the BLAS blocking of the tile's size on some CPUs)
                codes = (part.flatten(-2).double() @ self._basis_t.to(part.device).double()).float()
                self.streams['est_codes'].write_block(codes.cpu().numpy(), cy0 + r, cx0)

    def finish(self, arrays):
        """Assemble the file from the streamed members and ``arrays`` (name -> array); returns the path."""
        if 'est_ker_lr' not in self.streams:
            raise ValueError(f'{self.path}: no tile was written')
        small = dict(arrays, format=np.int64(FORMAT), scale=np.int64(self.scale))
        if 'sr_img' in self.streams:
            small.pop('sr_img', None)
        if self.basis is not None:
            small['pca_basis'] = self.basis
        for s in self.streams.values():
            s.close()
        with atomic_path(self.path) as tmp:
            with zipfile.ZipFile(tmp, 'w', allowZip64=True) as zf:
                for name, value in small.items():
                    with zf.open(_zip_info(name, zipfile.ZIP_DEFLATED), 'w', force_zip64=True) as f:
                        np.lib.format.write_array(f, np.asanyarray(value), allow_pickle=False)
                for name, stream in self.streams.items():
                    method = zipfile.ZIP_STORED if name in STREAMED else zipfile.ZIP_DEFLATED
                    with zf.open(_zip_info(name, method), 'w', force_zip64=True) as f, \
                            open(stream.path, 'rb') as src:
                        shutil.copyfileobj(src, f, 16 * 2 ** 20)
        self.abort()
        return self.path

    def abort(self):
        """Remove the temporaries (after ``finish``: only they exist; the file stays)."""
        for s in self.streams.values():
            s.remove()


def image_arrays(out):
    """The small arrays of a kernel file from a TestOutput (with ``sr``): ``sr_img`` (uint8 BGR,
    empty without SR), ``lr_img`` and, when known, ``gt_ker`` ((l, l) or (h, w, l, l))."""
    from .image_io import tensor2img
    arrays = {'sr_img': tensor2img(out['sr'][0]) if 'sr' in out else np.zeros((0,), np.uint8),
              'lr_img': tensor2img(out['lr'][0])}     # the explorer's background without SR (stage 1)
    gt = out.get('kernel_field', out.get('kernel'))
    if gt is not None:
        arrays['gt_ker'] = gt[0].float().cpu().numpy()
    return arrays


def _member_offset(f, info):
    """File offset of a stored zip member's data (after its local header)."""
    f.seek(info.header_offset)
    local = f.read(30)
    if local[:4] != b'PK\x03\x04':
        raise zipfile.BadZipFile(f'bad local header for {info.filename}')
    name_len = int.from_bytes(local[26:28], 'little')
    extra_len = int.from_bytes(local[28:30], 'little')
    return info.header_offset + 30 + name_len + extra_len


def _map_member(path, f, info):
    """A read-only memory map of an uncompressed ``.npy`` member."""
    start = _member_offset(f, info)
    f.seek(start)
    version = np.lib.format.read_magic(f)
    shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                             else np.lib.format.read_array_header_2_0(f))
    return np.memmap(path, dtype=dtype, mode='r', offset=f.tell(), shape=shape, order='F' if fortran else 'C')


def read_kernel_file(path):
    """Arrays of a kernel file (any format): stored per-pixel members as read-only memory maps,
    the others loaded. Raises what ``zipfile``/``numpy`` raise on a bad file."""
    path = Path(path)
    data = {}
    with open(path, 'rb') as f, zipfile.ZipFile(f) as zf:
        for info in zf.infolist():
            name = info.filename[:-4] if info.filename.endswith('.npy') else info.filename
            if info.compress_type == zipfile.ZIP_STORED and name in STREAMED and info.file_size:
                data[name] = _map_member(path, f, info)
            else:
                with zf.open(info) as member:
                    data[name] = np.lib.format.read_array(member, allow_pickle=False)
    return data


def decode_codes(codes, basis):
    """Kernels (..., l, l) float32 from codes (..., k) and the basis (l*l, k): the network's view."""
    basis = np.asarray(basis, np.float32)
    side = round(basis.shape[0] ** 0.5)
    flat = np.asarray(codes, np.float32) @ basis.T
    return flat.reshape(*flat.shape[:-1], side, side)
