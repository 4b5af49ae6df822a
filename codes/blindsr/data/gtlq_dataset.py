"""Paired HR/LR images (pre-degraded test sets, or training on fixed pairs)."""
import logging

from blindsr.data.base import SRDataset
from blindsr.data.errors import DatasetError
from blindsr.data.folders import image_paths, load_image
from blindsr.data.transforms import mod_crop, random_offset
from blindsr.registry import DATASETS

logger = logging.getLogger(__name__)


def _pair_paths(gt_paths, lq_paths):
    """Pair by file stem when both folders hold the same stems, else by sorted order."""
    if len(gt_paths) != len(lq_paths):
        raise DatasetError(f'dataroot_GT {gt_paths[0].parent} has {len(gt_paths)} images but dataroot_LQ '
                           f'{lq_paths[0].parent} has {len(lq_paths)}; they must pair up one to one')
    by_stem = {p.stem: p for p in lq_paths}
    if len(by_stem) == len(lq_paths) and set(by_stem) == {p.stem for p in gt_paths}:
        return [by_stem[p.stem] for p in gt_paths]
    first = next((g, q) for g, q in zip(gt_paths, lq_paths) if g.stem != q.stem)
    logger.warning('GT and LQ file names differ (e.g. %s / %s): pairing them by sorted order',
                   first[0].name, first[1].name)
    return list(lq_paths)


@DATASETS.register('GTLQ')
class GTLQDataset(SRDataset):
    """HR of ``dataroot_GT`` (mod-cropped) with the LR of ``dataroot_LQ``; GT = scale x LQ in size.

    Training: aligned random crops (HR ``GT_size``, LR ``GT_size // scale``) and the same
    flips/transposition on both (and on the true kernel, if any).
    Item: ``{'GT', 'LQ', 'GT_path', 'LQ_path'}`` plus ``'kernel'``/``'kernel_field'`` when a
    ``kernels_*`` sibling of the LQ folder holds ``<LQ stem>.npz``.
    """

    def __init__(self, opt):
        super().__init__(opt)
        self.gt_paths = image_paths(opt.get('dataroot_GT'), 'dataroot_GT')
        self.lq_paths = _pair_paths(self.gt_paths, image_paths(opt.get('dataroot_LQ'), 'dataroot_LQ'))
        if self.train:
            self._require_gt_size()
        self._find_kernels(self.lq_paths)
        logger.info('dataset %s (GTLQ): %d pairs, x%d', self.name, len(self.gt_paths), self.scale)

    def __len__(self):
        return len(self.gt_paths)

    def __getitem__(self, index):
        gt_path, lq_path = self.gt_paths[index], self.lq_paths[index]
        gt = mod_crop(load_image(gt_path), self.scale)
        lq = load_image(lq_path)
        s = self.scale
        (h, w), (lh, lw) = gt.shape[:2], lq.shape[:2]
        if (h, w) != (lh * s, lw * s):
            raise DatasetError(f'{gt_path} is {h}x{w} after mod-crop but {lq_path} is {lh}x{lw} '
                               f'(x{s} gives {lh * s}x{lw * s}); GT must be scale x LQ in size')
        kernel = self._load_kernel(index, (lh, lw))
        if self.train:
            size, lq_size = self.gt_size, self.gt_size // s
            if lh < lq_size or lw < lq_size:
                raise DatasetError(f'{lq_path} is {lh}x{lw}, smaller than the LR crop {lq_size} '
                                   f'(GT_size {size} / x{s}; HR {gt_path}); lower GT_size')
            top, left = random_offset(lh, lw, lq_size)
            lq = lq[top:top + lq_size, left:left + lq_size]
            gt = gt[top * s:top * s + size, left * s:left * s + size]
            if kernel is not None and kernel[0] == 'kernel_field':          # one kernel per LR pixel
                kernel = ('kernel_field', kernel[1][top:top + lq_size, left:left + lq_size])
        flips = self._flips()
        item = {'GT': self._tensor(gt, flips), 'LQ': self._tensor(lq, flips),
                'GT_path': str(gt_path), 'LQ_path': str(lq_path)}
        if kernel is not None:
            item[kernel[0]] = self._kernel_item(kernel[0], kernel[1], flips)
        return item
