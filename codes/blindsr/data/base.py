"""What the three dataset modes share: reading their options and returning tensors."""
import logging

import torch
from torch.utils.data import Dataset

from blindsr.data.errors import DatasetError
from blindsr.data.folders import kernel_files, kernel_folder, load_kernel
from blindsr.data.transforms import apply_flips, draw_flips
from blindsr.utils.image_io import img2tensor

logger = logging.getLogger(__name__)


class SRDataset(Dataset):
    """Base class: ``opt`` is one validated ``datasets.<phase>`` dict of the option file.

    ``None`` values take the authors' defaults (no flips/rotations, RGB).
    """

    def __init__(self, opt):
        super().__init__()
        self.opt = opt
        self.name = opt.get('name') or type(self).__name__
        self.scale = int(opt.get('scale') or 1)
        if self.scale < 1:
            raise DatasetError(f'datasets.{self.name}: scale must be >= 1, got {self.scale}')
        self.train = opt.get('phase') == 'train'
        self.use_flip = bool(opt.get('use_flip'))
        self.use_rot = bool(opt.get('use_rot'))
        color = opt.get('color')
        if color is not None and str(color).upper() != 'RGB':
            raise DatasetError(f"datasets.{self.name}: color {color!r} is not supported "
                               "(the networks take RGB); set color: RGB")
        self.gt_size = opt.get('GT_size')

    def _require_gt_size(self):
        """Training crops need ``GT_size``, a multiple of the scale."""
        if self.gt_size is None:
            raise DatasetError(f'datasets.{self.name}: GT_size is required for training (HR crop size)')
        if self.gt_size <= 0 or self.gt_size % self.scale:
            raise DatasetError(f'datasets.{self.name}: GT_size {self.gt_size} must be a positive '
                               f'multiple of the scale {self.scale}')

    def _flips(self):
        """Random (hflip, vflip, transpose) for this sample; none outside training."""
        if not self.train:
            return (False, False, False)
        return draw_flips(self.use_flip, self.use_rot)

    def _find_kernels(self, lq_paths):
        """Per-image true kernels from the ``LR_*`` -> ``kernels_*`` sibling folder, if any."""
        folder = kernel_folder(self.opt.get('dataroot_LQ'))
        self.kernel_paths = kernel_files(folder, lq_paths) if folder else None
        if folder:
            logger.info('dataset %s: true kernels from %s', self.name, folder)

    def _load_kernel(self, index, lq_hw):
        """(key, array) of image ``index``'s true kernel, or None. A field holds one kernel per
        *LR* pixel, (h, w, l, l), the layout the models estimate and evaluate."""
        if not self.kernel_paths:
            return None
        path = self.kernel_paths[index]
        key, arr = load_kernel(path)
        if key == 'kernel_field':
            h, w = lq_hw
            if arr.shape[:2] != (h, w):
                raise DatasetError(f'{path}: kernel_field covers {arr.shape[0]}x{arr.shape[1]} positions, '
                                   f'but the LR image is {h}x{w}; store one kernel per LR pixel')
        return key, arr

    @staticmethod
    def _kernel_item(key, arr, flips):
        """Flip a true kernel (and a field's positions) along with its images, as a tensor."""
        if key == 'kernel_field':
            arr = apply_flips(arr, flips, axes=(0, 1))
        arr = apply_flips(arr, flips, axes=(arr.ndim - 2, arr.ndim - 1))
        return torch.from_numpy(arr.copy())

    @staticmethod
    def _tensor(img, flips):
        return img2tensor(apply_flips(img, flips))
