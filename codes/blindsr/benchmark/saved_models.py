"""Test-time models from checkpoints saved by this project, for the benchmark's MANet parts.

The MANet stages already run through the ``blind`` recipe (tiling, AMP, the kernel a non-blind
stage is fed); the benchmark drives that recipe instead of calling the networks itself, so a
stage behaves in the table exactly as it does in ``test.py`` and ``infer.py``.
"""
import logging

from ..inference.checkpoint_options import checkpoint_options
from ..options import OptionsError
from ..registry import MODELS
from ..utils.paths import resolve_path
from .parts import PartError

logger = logging.getLogger(__name__)


def load_blind_model(weights, device, scale=None, opt_path=None, overrides=()):
    """The test-time recipe of the network in ``weights`` (its ``.yml`` record, or ``opt_path``);
    ``overrides``: ``key=value`` option overrides, as ``--set``."""
    path = resolve_path(weights)
    if not path.is_file():
        raise FileNotFoundError(f'{weights}: checkpoint not found')
    opt = checkpoint_options(path, opt_path=resolve_path(opt_path) if opt_path else None, scale=scale,
                             overrides=list(overrides))
    model = MODELS.get(opt['model'])(opt, device)
    logger.info('benchmark: loaded %s (%s)', path, opt['network_G']['which_model_G'])
    return model


def check_checkpoint(part, scale, missing_hint=''):
    """Before any work: ``part``'s weights exist and their record says ``scale`` (one-line PartError)."""
    weights, opt_path = part.settings['weights'], part.settings['opt']
    if not weights:
        raise PartError(f'parts.{part.name}.weights: not set{missing_hint}')
    try:
        checkpoint_options(resolve_path(weights), opt_path=resolve_path(opt_path) if opt_path else None, scale=scale)
    except (OptionsError, FileNotFoundError) as e:
        raise PartError(f'parts.{part.name}.weights: {e}') from None


def run_blind_model(model, lr, tile=None, tile_overlap=32, kernel=None):
    """``model.test()`` on one LR image (1, 3, h, w); ``kernel`` (l, l) or (h, w, l, l) feeds a
    non-blind stage. Tiles only when the image is larger than ``tile``."""
    batch = {'LQ': lr}
    if kernel is not None:
        batch['kernel_field' if kernel.dim() == 4 else 'kernel'] = kernel[None].to(lr)
    model.feed_data(batch, train=False)
    tile = tile if tile and max(lr.shape[-2:]) > tile else None
    return model.test(tile=tile, tile_overlap=tile_overlap)


class SavedBlindModelPart:
    """Mixin for a part backed by a saved ``blind``-recipe checkpoint (``settings['weights']``):
    checked before any work, loaded once on first use, run one image at a time.
    ``missing_hint`` ends the error for unset weights; ``overrides`` are option overrides of the model."""
    missing_hint = ''
    overrides = ()

    def __init__(self, settings, scale, device):
        super().__init__(settings, scale, device)
        self.model = None

    def check(self, test_set):
        check_checkpoint(self, test_set.scale, self.missing_hint)

    def prepare(self):
        if self.model is None:
            self.model = load_blind_model(self.settings['weights'], self.device, self.scale, self.settings['opt'],
                                          overrides=self.overrides)

    def run_model(self, lr, kernel=None):
        self.prepare()
        return run_blind_model(self.model, lr, self.settings.get('tile'), self.settings.get('tile_overlap', 32),
                               kernel=kernel)
