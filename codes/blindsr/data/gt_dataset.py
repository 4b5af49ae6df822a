"""HR-only dataset: the LR is synthesised later, on the training device, by the model."""
import logging

from blindsr.data.base import SRDataset
from blindsr.data.errors import DatasetError
from blindsr.data.folders import image_paths, load_image
from blindsr.data.transforms import mod_crop, random_offset
from blindsr.registry import DATASETS

logger = logging.getLogger(__name__)


@DATASETS.register('GT')
class GTDataset(SRDataset):
    """Images of ``dataroot_GT``, mod-cropped to the scale.

    Training: a random ``GT_size`` crop, then flips/transposition per ``use_flip``/``use_rot``.
    Item: ``{'GT': (3, H, W) float32 RGB in [0, 1], 'GT_path': str}``.
    """

    def __init__(self, opt):
        super().__init__(opt)
        self.paths = image_paths(opt.get('dataroot_GT'), 'dataroot_GT')
        if self.train:
            self._require_gt_size()
        logger.info('dataset %s (GT): %d images in %s', self.name, len(self.paths), opt.get('dataroot_GT'))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        img = mod_crop(load_image(path), self.scale)
        h, w = img.shape[:2]
        if h == 0 or w == 0:
            raise DatasetError(f'{path}: image smaller than the scale {self.scale}; remove it from the set')
        if self.train:
            size = self.gt_size
            if h < size or w < size:
                raise DatasetError(f'{path}: image is {h}x{w} (after mod-crop to x{self.scale}), smaller '
                                   f'than GT_size {size}; lower GT_size or remove the image')
            top, left = random_offset(h, w, size)
            img = img[top:top + size, left:left + size]
        return {'GT': self._tensor(img, self._flips()), 'GT_path': str(path)}
