"""Options for running a saved network without an option file.

Weights saved by this project (``models/<iter>_G.pth``) have a sidecar ``<iter>_G.yml``
recording ``model, scale, kernel_size, code_length, network_G`` (``models/base_model.py``);
that is all a test-time model needs (the PCA matrix travels inside the weights). Weights
from elsewhere (the authors' releases) take those keys from an option file instead.
"""
from pathlib import Path

import yaml

from ..models.base_model import NETWORK_RECORD_KEYS
from ..options import OptionsError, load_options
from ..options.loader import validate


def record_path(model_path):
    """The sidecar of ``x.pth``: ``x.yml``."""
    return Path(model_path).with_suffix('.yml')


def read_record(model_path):
    """The network record saved beside ``model_path``, or None if there is none."""
    path = record_path(model_path)
    if not path.is_file():
        return None
    try:
        record = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise OptionsError(f'{path}: not valid YAML ({getattr(e, "problem", e)})') from None
    missing = [k for k in NETWORK_RECORD_KEYS if not isinstance(record, dict) or k not in record]
    if missing:
        raise OptionsError(f'{path}: network record lacks {", ".join(missing)}; pass --opt with the network options')
    return record


def checkpoint_options(model_path, opt_path=None, scale=None, overrides=()):
    """Validated test options for the network in ``model_path``.

    Args:
        model_path (str | Path): the weights (``.pth``).
        opt_path (str | Path): option file giving the network (its datasets are not used);
            default: the record beside the weights.
        scale (int): expected scale; an error if the network's differs. Default: the network's.
        overrides (list[str]): ``--set key=value`` overrides (with ``opt_path``, or on the record).
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f'{model_path}: checkpoint not found')
    if opt_path is not None:
        opt = load_options(opt_path, is_train=False, overrides=list(overrides))
        source = str(opt_path)
    else:
        record = read_record(model_path)
        if record is None:
            raise OptionsError(f'{model_path}: no {record_path(model_path).name} beside it (weights not saved by '
                               'this project, e.g. the authors\' release); pass --opt with their test option file')
        raw = dict(record, name='infer', datasets={'infer': {'name': 'infer', 'mode': 'LQ'}},
                   path={'strict_load': True})
        from ..options.loader import apply_overrides
        raw = apply_overrides(raw, overrides)
        try:
            opt = validate(raw, is_train=False)
        except OptionsError as e:
            raise OptionsError(f'{record_path(model_path)}: {e}') from None
        opt['is_train'] = False
        opt['opt_path'] = str(record_path(model_path))
        source = str(record_path(model_path))
    if scale is not None and scale != opt['scale']:
        raise OptionsError(f'--scale {scale} disagrees with {source}, which says the network is x{opt["scale"]}')
    opt['path']['pretrain_model_G'] = str(model_path.resolve())
    opt['path']['pretrain_model_K'] = None
    opt['path']['strict_load'] = True
    return opt
