"""The benchmark's test sets: folders that ``prepare_testset.py`` wrote (or the shipped ones).

A set is an LR folder, optionally its HR folder (no HR: a real photo set, scored without a
reference) and the true kernels that ``prepare_testset.py`` puts beside the LR (MANet's
``kernels_*/<img>.npz`` or FKP's ``*_gt_k_x<s>/<img>.mat``), read by the project's GTLQ / LQ
datasets. Which folder held the kernels tells their convention: FKP's ``.mat`` files are in the
FKP convention, ours in MANet's.
"""
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..data.errors import DatasetError
from ..data.folders import kernel_folder, load_kernel
from ..registry import DATASETS
from ..utils.image_io import list_images
from ..utils.paths import resolve_path
from .kernel_conventions import FKP, MANET
from .parts import PartError, Sample


def _what_exists(path):
    """The folders beside the nearest existing ancestor of ``path``, for the error message."""
    parent = Path(path).parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    names = sorted(p.name for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []
    return f'{parent} holds {", ".join(names[:20]) + (" ..." if len(names) > 20 else "") if names else "no folders"}'


def _check_folder(set_name, key, folder):
    path = resolve_path(folder)
    if not path.is_dir() or not list_images(path):
        raise PartError(f'set {set_name} is not prepared: {key} {path} {"has no images" if path.is_dir() else "does not exist"} '
                        f'({_what_exists(path)}; make it with codes/prepare_testset.py)')
    return path


@dataclass
class BenchmarkSet:
    """One prepared set of the option file's ``sets`` section."""
    name: str
    scale: int
    dataroot_LQ: Path
    dataroot_GT: Optional[Path] = None
    methods: Optional[list] = None     # the methods run on this set (None: all of the option file's)

    @classmethod
    def from_options(cls, name, spec, default_scale):
        if not isinstance(spec, dict) or 'dataroot_LQ' not in spec:
            raise PartError(f'sets.{name}: give dataroot_LQ (and dataroot_GT for sets with ground truth)')
        unknown = sorted(set(spec) - {'dataroot_LQ', 'dataroot_GT', 'scale', 'images', 'methods'})
        if unknown:
            raise PartError(f'sets.{name}: unknown key(s) {", ".join(unknown)}; known: dataroot_LQ, dataroot_GT, scale, '
                            'images, methods')
        lq = _check_folder(name, 'dataroot_LQ', spec['dataroot_LQ'])
        gt = _check_folder(name, 'dataroot_GT', spec['dataroot_GT']) if spec.get('dataroot_GT') else None
        test_set = cls(name, int(spec.get('scale') or default_scale), lq, gt)
        if spec.get('images'):
            test_set.keep([str(s) for s in spec['images']])
        test_set.methods = [' '.join(str(m).split()) for m in spec['methods']] if spec.get('methods') else None
        return test_set

    def __post_init__(self):
        opt = {'name': self.name, 'phase': 'test', 'scale': self.scale, 'dataroot_LQ': str(self.dataroot_LQ),
               'mode': 'GTLQ' if self.dataroot_GT else 'LQ'}
        if self.dataroot_GT:
            opt['dataroot_GT'] = str(self.dataroot_GT)
        try:
            self.dataset = DATASETS.get(opt['mode'])(opt)
        except DatasetError as e:
            raise PartError(f'set {self.name}: {e}') from None
        paths = self.dataset.lq_paths if self.dataroot_GT else self.dataset.paths
        self.images = [p.stem for p in paths]
        self.indices = list(range(len(paths)))   # dataset index of each image of the set
        folder = kernel_folder(self.dataroot_LQ)
        self.has_kernels = bool(self.dataset.kernel_paths)
        self.kernel_convention = (FKP if folder is not None and '_gt_k_x' in folder.name else MANET) \
            if self.has_kernels else None
        self.kernel_is_field = self.has_kernels and load_kernel(self.dataset.kernel_paths[0])[0] == 'kernel_field'

    def keep(self, stems):
        """Restrict the set to ``stems`` (the option ``images``): image stems or shell patterns
        (``img_0?5*``: every tenth BSD100 image with all its kernels), in the set's order."""
        missing = [s for s in stems if not fnmatch.filter(self.images, s)]
        if missing:
            raise PartError(f'sets.{self.name}.images: no image {", ".join(missing)} in {self.dataroot_LQ} '
                            f'(it has {", ".join(self.images[:10])}{" ..." if len(self.images) > 10 else ""})')
        kept = [i for i, stem in enumerate(self.images) if any(fnmatch.fnmatchcase(stem, s) for s in stems)]
        self.indices = [self.indices[i] for i in kept]
        self.images = [self.images[i] for i in kept]

    @property
    def has_gt(self):
        return self.dataroot_GT is not None

    def sample(self, index, device):
        """Image ``index`` (of :attr:`images`) as a :class:`Sample` on ``device``."""
        item = self.dataset[self.indices[index]]
        kernel = item.get('kernel', item.get('kernel_field'))
        return Sample(self.name, self.images[index], self.scale, item['LQ'][None].to(device),
                      item['GT'][None].to(device) if 'GT' in item else None,
                      kernel.to(device, dtype=item['LQ'].dtype) if kernel is not None else None,
                      self.kernel_convention)
