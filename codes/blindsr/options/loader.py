"""Load, override, validate and resolve an option file — once, at start-up.

The result is a plain nested dict in which every schema key is present (``None`` when
unset), so a typo in code raises ``KeyError`` instead of silently reading ``None``.
"""
import copy
import difflib
import inspect
import logging
import math
from pathlib import Path

import yaml

from ..utils.paths import REPO_ROOT, resolve_path
from .kernel_sweep import check_kernel_sweep
from .schema import DATASET, EXTRA_SECTIONS, LOSS_TERM, NETWORK_G, SECTIONS, TOP_LEVEL, Key


logger = logging.getLogger(__name__)
_warned_unused = set()


def _warn_unused(where, key):
    """One warning per process and key name for an accepted-but-ignored option."""
    if where not in _warned_unused:
        _warned_unused.add(where)
        logger.warning("option '%s' is accepted for the authors' files but not used here%s", where,
                       f' ({key.help})' if key.help else '')


class OptionsError(ValueError):
    """A bad option file or override; the message is one line naming the file and key."""


# ----------------------------------------------------------------------------- types
def _check_type(value, key: Key, where):
    """Return ``value`` converted to the key's type, or raise ``OptionsError``."""
    if value is None:
        return None
    t = key.type
    if t == 'any':
        return value
    if t == 'float|list[float]':
        if isinstance(value, (list, tuple)):
            if not value:
                raise OptionsError(f"'{where}' must be a number or a non-empty list of numbers, got []")
            return [_check_type(v, Key(float), f'{where}[{i}]') for i, v in enumerate(value)]
        return _check_type(value, Key(float), where)
    if t in ('list[int]', 'list[float]', list):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and t != list:
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise OptionsError(f"'{where}' must be a list, got {value!r}")
        if t == list:
            return list(value)
        item = Key(int if t == 'list[int]' else float)
        return [_check_type(v, item, f'{where}[{i}]') for i, v in enumerate(value)]
    if t is bool:
        if isinstance(value, bool):
            return value
        raise OptionsError(f"'{where}' must be true or false, got {value!r}")
    if t is int:
        if isinstance(value, bool):
            raise OptionsError(f"'{where}' must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)      # the authors write `val_freq: !!float 5e3`
        raise OptionsError(f"'{where}' must be an integer, got {value!r}")
    if t is float:
        if isinstance(value, str):
            try:               # YAML 1.1 reads `1e-3` (no dot) as a string
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OptionsError(f"'{where}' must be a number, got {value!r}")
        return float(value)
    if t is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise OptionsError(f"'{where}' must be a string, got {value!r}")
        return value
    raise TypeError(f'bad schema type {t!r} for {where}')


def _check_range(value, key: Key, where):
    """Raise ``OptionsError`` naming the option and its allowed range when ``value`` is outside it."""
    if value is None or not key.range_text() or key.type not in (int, float, 'list[int]', 'list[float]',
                                                                  'float|list[float]'):
        return
    for v in value if isinstance(value, list) else [value]:
        if not key.in_range(v):
            raise OptionsError(f"'{where}' = {value!r} must be {key.range_text()}")


def _unknown(key, valid, where):
    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ''
    return OptionsError(f"unknown key '{where}'{hint}")


def _validate_section(raw, schema, prefix, extra_keys=(), optional=()):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise OptionsError(f"'{prefix}' must be a mapping, got {raw!r}")
    out = {}
    for k, v in raw.items():
        where = f'{prefix}.{k}' if prefix else str(k)
        if k in schema:
            out[k] = _check_type(v, schema[k], where)
            if schema[k].unused and out[k] is not None and out[k] != schema[k].default:
                _warn_unused(where, schema[k])
            choices = schema[k].choices
            if choices and out[k] is not None and out[k] not in choices:
                raise OptionsError(f"'{where}' must be one of {list(choices)}, got {v!r}")
            _check_range(out[k], schema[k], where)
        elif k in extra_keys:
            out[k] = v
        else:
            raise _unknown(k, list(schema) + list(extra_keys), where)
    for k, spec in schema.items():
        if k not in out or out[k] is None:
            where = f'{prefix}.{k}' if prefix else k
            if spec.required and where not in optional:
                raise OptionsError(f"missing required key '{where}'" + (f' ({spec.help})' if spec.help else ''))
            out[k] = copy.deepcopy(spec.default)
    return out


def _arch_kwargs(name):
    """Constructor keywords of a registered architecture (accepted in ``network_G``)."""
    from ..registry import ARCHS
    try:
        cls = ARCHS.get(name)
    except KeyError as e:
        raise OptionsError(f"'network_G.which_model_G': {e.args[0]}") from None
    names = []
    for klass in cls.__mro__:   # a subclass that forwards **kwargs accepts its base's keywords too
        params = inspect.signature(klass.__init__).parameters.values()
        names += [p.name for p in params if p.name != 'self' and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                  and p.name not in names]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


# ----------------------------------------------------------------------------- overrides
def parse_override(text):
    """``'a.b=value'`` -> (['a', 'b'], value parsed as YAML)."""
    if '=' not in text:
        raise OptionsError(f"--set {text!r}: expected key.path=value")
    path, value = text.split('=', 1)
    keys = [k for k in path.strip().split('.') if k]
    if not keys:
        raise OptionsError(f"--set {text!r}: empty key")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return keys, parsed


def apply_overrides(raw, overrides):
    for text in overrides or []:
        keys, value = parse_override(text)
        node = raw
        for k in keys[:-1]:
            if node.get(k) is None:
                node[k] = {}
            if not isinstance(node[k], dict):
                raise OptionsError(f"--set {text!r}: '{k}' is not a section")
            node = node[k]
        node[keys[-1]] = value
    return raw


# ----------------------------------------------------------------------------- main entry
def validate(raw, is_train, optional=()):
    """Validate a raw option dict; return the full dict (every key present).

    ``optional``: key paths (``'scale'``, ``'network_G.which_model_G'``) whose requirement a
    caller that does not use them waives (the authors' prepare_testset.yml leaves them null).
    """
    from ..registry import MODELS
    if not isinstance(raw, dict):
        raise OptionsError('the file must hold a mapping of options')
    model = raw.get('model') or TOP_LEVEL['model'].default
    try:
        MODELS.get(model)    # imports that model's module alone, which registers its option sections
    except KeyError as e:
        raise OptionsError(f"'model': {e.args[0]}") from None
    sections = dict(SECTIONS, **EXTRA_SECTIONS)
    for k, v in raw.items():
        if k in TOP_LEVEL or k in sections or k == 'datasets':
            continue
        raise _unknown(k, list(TOP_LEVEL) + list(sections) + ['datasets'], k)
    top_raw = {k: v for k, v in raw.items() if k in TOP_LEVEL}
    opt = _validate_section(top_raw, TOP_LEVEL, '', optional=optional)
    if opt['tile'] and opt['tile_overlap'] >= opt['tile']:
        raise OptionsError(f"'tile_overlap' = {opt['tile_overlap']} must be smaller than 'tile' = {opt['tile']}")
    try:
        check_kernel_sweep(opt, is_train)
    except ValueError as e:
        raise OptionsError(str(e)) from None
    if is_train and opt['train_sv_rate'] and opt['rate_iso']:
        raise OptionsError(f"'train_sv_rate' = {opt['train_sv_rate']} needs 'rate_iso' = 0 (got {opt['rate_iso']}): "
                           'the random training fields are anisotropic')

    datasets = raw.get('datasets') or {}
    if not isinstance(datasets, dict) or not datasets:
        raise OptionsError("missing required key 'datasets' (a mapping of phases such as train, val, test_1)")
    opt['datasets'] = {}
    for phase, ds in datasets.items():
        if ds is None:          # `test_2: ~` (or --set datasets.test_2=null) switches a set off
            continue
        d = _validate_section(ds, DATASET, f'datasets.{phase}')
        for rep in ('scale', 'kernel_size'):
            if d[rep] is not None and d[rep] != opt[rep]:
                raise OptionsError(f"'datasets.{phase}.{rep}' = {d[rep]} disagrees with the top-level '{rep}' = {opt[rep]}")
        d['scale'], d['kernel_size'] = opt['scale'], opt['kernel_size']
        d['phase'] = 'train' if phase == 'train' else ('val' if phase == 'val' else 'test')
        opt['datasets'][phase] = d
    if is_train and 'train' not in opt['datasets']:
        raise OptionsError("missing required key 'datasets.train'")

    net_raw = raw.get('network_G') or {}
    arch = net_raw.get('which_model_G') if isinstance(net_raw, dict) else None
    extra = _arch_kwargs(arch) if arch else ()
    opt['network_G'] = _validate_section(net_raw, NETWORK_G, 'network_G', extra_keys=extra, optional=optional)
    for name, schema in sections.items():
        if name == 'network_G':
            continue
        if name == 'train' and not is_train:
            # test files carry no train section; keep the authors' meaning of "absent"
            if raw.get('train') is None:
                opt['train'] = None
                continue
        opt[name] = _validate_section(raw.get(name), schema, name)
    if opt.get('train') and opt['train']['losses']:
        opt['train']['losses'] = [_loss_term(entry, f'train.losses[{i}]')
                                  for i, entry in enumerate(opt['train']['losses'])]
    return opt


def _loss_term(entry, where):
    from ..registry import LOSSES
    term = _validate_section(entry, LOSS_TERM, where)
    if term['type'] not in LOSSES:
        raise OptionsError(f"'{where}.type': unknown loss {term['type']!r}; available: {', '.join(LOSSES.names())}")
    return term


def _resolve_paths(opt, is_train):
    for phase, d in opt['datasets'].items():
        for key in ('dataroot_GT', 'dataroot_LQ'):
            if d[key] is not None:
                d[key] = str(resolve_path(d[key]))
    for key in ('pretrain_model_G', 'pretrain_model_K', 'resume_state'):
        if opt['path'][key] is not None:
            opt['path'][key] = str(resolve_path(opt['path'][key]))
    if opt['pca_path'] is not None:
        opt['pca_path'] = str(_find_pca(opt['pca_path']))
    root = REPO_ROOT / 'results' / opt['name']
    opt['path']['root'] = str(REPO_ROOT)
    opt['path']['experiments_root'] = str(root)
    opt['path']['results_root'] = str(root)
    if is_train:
        opt['path']['models'] = str(root / 'models')
        opt['path']['training_state'] = str(root / 'training_state')
        opt['path']['log'] = str(root)
        opt['path']['val_images'] = str(root / 'val_images')
        opt['path']['tb_logger'] = str(root / 'tb_logger')
    else:
        opt['path']['log'] = str(root)


def _find_pca(path):
    """The authors keep PCA matrices in ``codes/``; we keep them in ``pretrained_models/``."""
    p = resolve_path(path)
    if p.exists():
        return p
    for folder in (REPO_ROOT / 'pretrained_models', REPO_ROOT.parent / 'shared' / 'pretrained_models' / 'official'):
        cand = folder / Path(path).name
        if cand.exists():
            return cand
    return p


def load_options(path, is_train, overrides=None, optional=()):
    """Read ``path``, apply ``--set`` overrides, validate and resolve paths.

    ``optional`` lists required keys the caller does not need (see :func:`validate`).

    Raises ``OptionsError`` with a one-line message naming the file and the key.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise OptionsError(f'{path}: option file not found') from None
    except OSError as e:
        raise OptionsError(f'{path}: cannot read option file ({e.strerror})') from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = f' at line {mark.line + 1}' if mark else ''
        raise OptionsError(f'{path}: not valid YAML{where}: {getattr(e, "problem", e)}') from None
    if raw is not None and not isinstance(raw, dict):
        raise OptionsError(f'{path}: the file must hold a mapping of options, not a {type(raw).__name__}')
    try:
        raw = apply_overrides(raw if raw is not None else {}, overrides)
        opt = validate(raw, is_train, optional)
    except OptionsError as e:
        raise OptionsError(f'{path}: {e}') from None
    opt['is_train'] = is_train
    opt['opt_path'] = str(path.resolve())
    _resolve_paths(opt, is_train)
    return opt


def dump_options(opt):
    """YAML text of resolved options (written next to a run's outputs)."""
    return yaml.safe_dump(opt, sort_keys=False, default_flow_style=None)
