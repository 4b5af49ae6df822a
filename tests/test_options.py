"""Option files: the authors' schema loads, and every kind of mistake gives one clear line."""
import textwrap
from pathlib import Path

import pytest

from blindsr.options import OptionsError, dump_options, load_options
from blindsr.utils.paths import REPO_ROOT

TRAIN_FILES = sorted((REPO_ROOT / 'options' / 'train').glob('*.yml'))
TEST_FILES = sorted((REPO_ROOT / 'options' / 'test').glob('*.yml'))

MINIMAL = """
name: tiny
model: blind
scale: 4
gpu_ids: [0]
datasets:
  train: {name: toy, mode: GT, dataroot_GT: datasets/toy_dataset/HR_si, GT_size: 64, batch_size: 2}
  val: {name: toy, mode: GT, dataroot_GT: datasets/toy_dataset/HR_si}
network_G: {which_model_G: MANet_s1, in_nc: 3, manet_nf: 8, manet_nb: 1, split: 2}
path: {strict_load: true}
train: {lr_G: !!float 2e-4, niter: 10, val_freq: !!float 5e3, lr_steps: [5]}
logger: {print_freq: 1, save_checkpoint_freq: 5}
"""


def write(tmp_path, text, name='opt.yml'):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.mark.parametrize('path', TRAIN_FILES, ids=lambda p: p.name)
def test_shipped_train_files_load(path):
    opt = load_options(path, is_train=True)
    assert opt['train']['niter'] > 0 and isinstance(opt['train']['val_freq'], int)
    assert Path(opt['path']['experiments_root']) == REPO_ROOT / 'results' / opt['name']


@pytest.mark.parametrize('path', TEST_FILES, ids=lambda p: p.name)
def test_shipped_test_files_load(path):
    # prepare_testset*.yml: null scale and network, which that script does not use (the authors' file)
    optional = ('scale', 'network_G.which_model_G') if path.name.startswith('prepare_testset') else ()
    opt = load_options(path, is_train=False, optional=optional)
    assert opt['datasets']


def test_defaults_filled_and_types_converted(tmp_path):
    opt = load_options(write(tmp_path, MINIMAL), is_train=True)
    assert opt['train']['val_freq'] == 5000 and isinstance(opt['train']['val_freq'], int)
    assert opt['kernel_size'] == 21 and opt['code_length'] == 15      # authors' defaults
    assert opt['train']['beta2'] == 0.999
    assert opt['datasets']['train']['scale'] == 4
    assert opt['datasets']['train']['phase'] == 'train' and opt['datasets']['val']['phase'] == 'val'
    # every schema key is present: a typo in code raises instead of reading None
    with pytest.raises(KeyError):
        opt['train']['lr_sheme']


def test_relative_paths_resolve_against_repo_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opt = load_options(write(tmp_path, MINIMAL), is_train=True)
    assert opt['datasets']['train']['dataroot_GT'] == str(REPO_ROOT / 'datasets/toy_dataset/HR_si')


def test_authors_codes_relative_paths_still_work(tmp_path):
    # the authors ran from codes/, so their files say ../datasets/...
    text = MINIMAL.replace('dataroot_GT: datasets/toy_dataset/HR_si}', 'dataroot_GT: ../datasets/toy_dataset/HR_si}')
    opt = load_options(write(tmp_path, text), is_train=True)
    assert opt['datasets']['val']['dataroot_GT'] == str(REPO_ROOT / 'datasets/toy_dataset/HR_si')


@pytest.mark.parametrize('change, expected', [
    (('lr_steps: [5]', 'lr_steps: [5], lr_sheme: MultiStepLR'), "unknown key 'train.lr_sheme' (did you mean 'lr_scheme'?)"),
    (('model: blind', 'model: blind\nscael: 4'), "unknown key 'scael' (did you mean 'scale'?)"),
    (('niter: 10', 'niter: ten'), "'train.niter' must be an integer, got 'ten'"),
    (('niter: 10', 'niter: 10.5'), "'train.niter' must be an integer, got 10.5"),
    (('gpu_ids: [0]', 'gpu_ids: [zero]'), "'gpu_ids[0]' must be an integer"),
    (('name: tiny\n', ''), "missing required key 'name'"),
    (('lr_G: !!float 2e-4, ', ''), "missing required key 'train.lr_G'"),
    (('mode: GT, dataroot_GT: datasets/toy_dataset/HR_si, GT_size', 'mod: GT, dataroot_GT: datasets/toy_dataset/HR_si, GT_size'),
     "unknown key 'datasets.train.mod' (did you mean 'mode'?)"),
    (('which_model_G: MANet_s1', 'which_model_G: MANet_s9'), "unknown architecture 'MANet_s9'"),
    (('manet_nf: 8', 'manet_nff: 8'), "unknown key 'network_G.manet_nff' (did you mean 'manet_nf'?)"),
    (('model: blind', 'model: blind\ntrain_sv_rate: 2'), "'train_sv_rate' = 2.0 must be in [0, 1]"),
    (('model: blind', 'model: blind\ntrain_sv_rate: 0.5\nrate_iso: 1'), "'train_sv_rate' = 0.5 needs 'rate_iso' = 0"),
])
def test_errors_name_file_and_key(tmp_path, change, expected):
    text = MINIMAL.replace(*change)
    path = write(tmp_path, text)
    with pytest.raises(OptionsError) as e:
        load_options(path, is_train=True)
    msg = str(e.value)
    assert '\n' not in msg
    assert msg.startswith(str(path)), msg
    assert expected in msg, msg


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(OptionsError, match='option file not found'):
        load_options(tmp_path / 'nope.yml', is_train=True)
    with pytest.raises(OptionsError, match='not valid YAML at line 2'):
        load_options(write(tmp_path, 'name: a\n  b: [\n'), is_train=True)


def test_set_overrides_are_type_checked(tmp_path):
    path = write(tmp_path, MINIMAL)
    opt = load_options(path, is_train=True, overrides=['train.lr_G=1e-3', 'datasets.train.batch_size=4', 'name=other'])
    assert opt['train']['lr_G'] == 1e-3 and opt['datasets']['train']['batch_size'] == 4
    assert opt['name'] == 'other'
    with pytest.raises(OptionsError, match="'train.niter' must be an integer"):
        load_options(path, is_train=True, overrides=['train.niter=abc'])
    with pytest.raises(OptionsError, match="unknown key 'train.nitr'"):
        load_options(path, is_train=True, overrides=['train.nitr=3'])
    with pytest.raises(OptionsError, match='expected key.path=value'):
        load_options(path, is_train=True, overrides=['train.niter'])


@pytest.mark.parametrize('override, expected', [
    ('logger.print_freq=0', "'logger.print_freq' = 0 must be >= 1"),
    ('logger.save_checkpoint_freq=0', "'logger.save_checkpoint_freq' = 0 must be >= 1"),
    ('datasets.train.batch_size=0', "'datasets.train.batch_size' = 0 must be >= 1"),
    ('train.niter=-5', "'train.niter' = -5 must be >= 1"),
    ('kernel_size=20', "'kernel_size' = 20 must be an odd integer >= 1"),
    ('kernel_size=-3', "'kernel_size' = -3 must be an odd integer >= 1"),
    ('datasets.val.kernel_size=20', "'datasets.val.kernel_size' = 20 must be an odd integer >= 1"),
    ('train.lr_G=0', "'train.lr_G' = 0.0 must be > 0"),
    ('train.val_freq=-1', "'train.val_freq' = -1 must be >= 0"),
    ('rate_iso=1.5', "'rate_iso' = 1.5 must be in [0, 1]"),
    ('datasets.train.n_workers=-1', "'datasets.train.n_workers' = -1 must be >= 0"),
    ('train.lr_steps=[5, -1]', "'train.lr_steps' = [5, -1] must be >= 0"),
    ('scale=0', "'scale' must be one of [1, 2, 3, 4, 8], got 0"),
    ("train.losses=[{type: l1, weight: -1, compares: sr}]", "'train.losses[0].weight' = -1.0 must be >= 0"),
])
def test_out_of_range_values_are_one_line_naming_the_option(tmp_path, override, expected):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(OptionsError) as e:
        load_options(path, is_train=True, overrides=[override])
    msg = str(e.value)
    assert '\n' not in msg and msg.startswith(str(path)), msg
    assert expected in msg, msg


def test_tile_overlap_must_be_smaller_than_the_tile(tmp_path):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(OptionsError, match=r"'tile_overlap' = 32 must be smaller than 'tile' = 8"):
        load_options(path, is_train=False, overrides=['tile=8'])
    assert load_options(path, is_train=False, overrides=['tile=64'])['tile_overlap'] == 32


def test_a_top_level_list_is_one_line_naming_the_file(tmp_path):
    path = write(tmp_path, '- name: a\n- scale: 4\n')
    for overrides in (None, ['name=b']):
        with pytest.raises(OptionsError) as e:
            load_options(path, is_train=True, overrides=overrides)
        assert str(e.value) == f'{path}: the file must hold a mapping of options, not a list'


def test_range_edges_are_allowed(tmp_path):
    opt = load_options(write(tmp_path, MINIMAL), is_train=True, overrides=[
        'logger.print_freq=1', 'train.niter=1', 'kernel_size=1', 'rate_iso=1', 'datasets.train.n_workers=0'])
    assert (opt['logger']['print_freq'], opt['train']['niter'], opt['kernel_size']) == (1, 1, 1)


def test_dataset_scale_must_agree(tmp_path):
    text = MINIMAL.replace('mode: GT, dataroot_GT: datasets/toy_dataset/HR_si}', 'mode: GT, dataroot_GT: datasets/toy_dataset/HR_si, scale: 2}')
    with pytest.raises(OptionsError, match="'datasets.val.scale' = 2 disagrees"):
        load_options(write(tmp_path, text), is_train=True)


def test_resolved_options_round_trip(tmp_path):
    import yaml
    opt = load_options(write(tmp_path, MINIMAL), is_train=True)
    assert yaml.safe_load(dump_options(opt)) == opt


def test_accepted_but_unused_keys_warn_once(caplog):
    import logging
    from blindsr.options import loader
    loader._warned_unused.clear()
    raw = {'name': 'x', 'scale': 4, 'suffix': '_x', 'cal_lr_psnr': True,
           'datasets': {'test': {'name': 't', 'mode': 'LQ', 'dataroot_LQ': 'datasets/historical', 'LR_size': 48}},
           'network_G': {'which_model_G': 'MANet_s1', 'upscale': 4}}
    with caplog.at_level(logging.WARNING, logger='blindsr.options.loader'):
        loader.validate(dict(raw), is_train=False)
        loader.validate(dict(raw), is_train=False)
    warned = [r.getMessage() for r in caplog.records]
    for key in ('suffix', 'cal_lr_psnr', 'datasets.test.LR_size', 'network_G.upscale'):
        assert sum(f"'{key}'" in m for m in warned) == 1, (key, warned)
    assert not any("'scale'" in m for m in warned)
