"""Real LR images without ground truth (e.g. old photos): test-time only, no crop."""
import logging

from blindsr.data.base import SRDataset
from blindsr.data.folders import image_paths, load_image
from blindsr.registry import DATASETS

logger = logging.getLogger(__name__)


@DATASETS.register('LQ')
class LQDataset(SRDataset):
    """Images of ``dataroot_LQ`` as they are (no crop or augmentation in any phase).

    Item: ``{'LQ': (3, h, w) float32 RGB in [0, 1], 'LQ_path': str}`` plus ``'kernel'`` (l, l)
    or ``'kernel_field'`` (h, w, l, l) when a ``kernels_*`` sibling folder holds them.
    """

    def __init__(self, opt):
        super().__init__(opt)
        self.paths = image_paths(opt.get('dataroot_LQ'), 'dataroot_LQ')
        self._find_kernels(self.paths)
        logger.info('dataset %s (LQ): %d images in %s', self.name, len(self.paths), opt.get('dataroot_LQ'))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        img = load_image(path)
        item = {'LQ': self._tensor(img, (False, False, False)), 'LQ_path': str(path)}
        kernel = self._load_kernel(index, img.shape[:2])
        if kernel is not None:
            key, arr = kernel
            item[key] = self._kernel_item(key, arr, (False, False, False))
        return item
