"""The benchmark's option file (``options/benchmark/<name>.yml``), loaded and checked.

Keys: ``name`` (results go to ``results/<name>/``), ``methods`` (list of end-to-end names and
``"estimator -> restorer"`` pairs), ``sets`` (name -> ``dataroot_LQ``, optional ``dataroot_GT``,
``scale``, ``images`` (a subset: stems or shell patterns such as ``img_0?5*``) and ``methods`` (the subset of methods run on it)), ``seeds`` (runs of per-image optimisers, default 3), ``scale`` (default of the
sets, 4), ``device`` (auto, cpu, cuda, cuda:<i>), ``parts`` (name -> settings of that part),
``grid`` (``images``: list of ``{set, image}``; ``crop``: HR side of the crops, default 96),
``plot`` (the quality-vs-time pictures, default true). Top-level keys starting with ``_`` are
ignored (they hold YAML anchors, e.g. method lists shared by sets). A wrong key or type is one line.
"""
from pathlib import Path

import yaml

from ..options import OptionsError
from ..utils.paths import resolve_path

KEYS = {'name': str, 'methods': list, 'sets': dict, 'seeds': int, 'scale': int, 'device': str, 'parts': dict,
        'grid': dict, 'plot': bool}
DEFAULTS = {'seeds': 3, 'scale': 4, 'device': 'auto', 'parts': {}, 'grid': {}, 'plot': True}


def load_benchmark_options(path):
    path = resolve_path(path)
    if not Path(path).is_file():
        raise OptionsError(f'{path}: option file not found')
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise OptionsError(f'{path}: not valid YAML ({getattr(e, "problem", e)})') from None
    if not isinstance(raw, dict):
        raise OptionsError(f'{path}: expected a mapping of options')
    raw = {k: v for k, v in raw.items() if not str(k).startswith('_')}
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise OptionsError(f'{path}: unknown key(s) {", ".join(unknown)}; known: {", ".join(KEYS)}')
    opt = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    for key in ('name', 'methods', 'sets'):
        if not opt.get(key):
            raise OptionsError(f'{path}: {key} is required')
    for key, typ in KEYS.items():
        if key in opt and not isinstance(opt[key], typ) or typ is int and isinstance(opt.get(key), bool):
            raise OptionsError(f'{path}: {key} must be {typ.__name__}, got {opt[key]!r}')
    if opt['seeds'] < 1:
        raise OptionsError(f'{path}: seeds must be >= 1, got {opt["seeds"]}')
    unknown = sorted(set(opt['grid']) - {'images', 'crop'})
    if unknown:
        raise OptionsError(f'{path}: grid: unknown key(s) {", ".join(unknown)}; known: images, crop')
    for entry in opt['grid'].get('images') or []:
        if not isinstance(entry, dict) or set(entry) != {'set', 'image'}:
            raise OptionsError(f'{path}: grid.images entries are {{set: <set name>, image: <image stem>}}, got {entry!r}')
    opt['opt_path'] = str(path)
    return opt
