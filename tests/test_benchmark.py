"""The cross-method benchmark (codes/benchmark.py), in process, on a tiny synthetic prepared set.

The set is two 64x64 HR crops of Set5 blurred with one strongly anisotropic kernel, in the FKP
protocol's layout and geometry (``DIPFKP_lr_x4`` + ``DIPFKP_gt_k_x4/<img>.mat``, circular blur, as
``prepare_testset.py --protocol dipfkp`` writes it): small enough that the whole file runs in well
under two minutes on two busy CPU cores, large enough that the kernel matters to USRNet. (On
MANet-protocol LR, made with replicate padding, USRNet's circular data step rings at the borders,
which on such tiny crops can outweigh the kernel: the README's benchmark notes say so.)
"""
import csv
import math

import pytest
import torch
import yaml

from blindsr.commands.benchmark import main
from blindsr.benchmark.kernel_conventions import FKP, MANET, convert
from blindsr.degradation.kernels import anisotropic_kernels
from blindsr.degradation.noise import quantize
from blindsr.fkp.io import save_kernel_mat
from blindsr.fkp.ops import blur_downsample
from blindsr.utils.image_io import img2tensor, read_image, tensor2img, write_image
from blindsr.utils.paths import REPO_ROOT

SCALE = 4
HR_SIDE = 64
IMAGES = ('bird', 'butterfly')
DETERMINISTIC = ['bicubic', 'true -> usrnet', 'mean -> usrnet']
METRIC_COLUMNS = ('psnr_y', 'ssim_y', 'psnr_k', 'lr_psnr_y')


@pytest.fixture(scope='module')
def official():
    """The FKP authors' released files the parts need (../shared)."""
    from conftest import shared_file
    return {'usrnet': shared_file('pretrained_models/official/usrnet_tiny.pth'),
            'fkp_x4': shared_file('pretrained_models/official/FKP_x4.pt')}


@pytest.fixture(scope='module')
def tiny_set(tmp_path_factory):
    """HR / DIPFKP_lr_x4 / DIPFKP_gt_k_x4, the layout of prepare_testset.py --protocol dipfkp."""
    root = tmp_path_factory.mktemp('sets') / 'Tiny'
    manet = anisotropic_kernels(torch.tensor([9.5]), torch.tensor([0.8]), torch.tensor([math.pi / 4]), SCALE, 21)[0]
    kernel = convert(manet.double(), MANET, FKP, SCALE, max_cut=1).float()    # 19x19, FKP's own size at x4
    for stem in IMAGES:
        hr = read_image(REPO_ROOT / 'datasets' / 'Set5' / 'HR' / f'{stem}.png')
        top, left = (hr.shape[0] - HR_SIDE) // 2, (hr.shape[1] - HR_SIDE) // 2
        hr = img2tensor(hr[top:top + HR_SIDE, left:left + HR_SIDE])[None]
        lr = quantize(blur_downsample(hr, kernel, SCALE))
        write_image(root / 'HR' / f'{stem}.png', tensor2img(hr[0]), channel_order='bgr')
        write_image(root / 'DIPFKP_lr_x4' / f'{stem}.png', tensor2img(lr[0]), channel_order='bgr')
        save_kernel_mat(root / 'DIPFKP_gt_k_x4' / f'{stem}.mat', kernel.numpy())
        write_image(root / 'real' / 'LR' / f'{stem}.png', tensor2img(lr[0]), channel_order='bgr')   # no HR, no kernel
    return root


def write_options(path, name, methods, tiny_set, official, seeds=2, **extra):
    opt = {'name': name, 'device': 'cpu', 'seeds': seeds, 'methods': methods,
           'sets': {'Tiny_x4': {'dataroot_GT': str(tiny_set / 'HR'), 'dataroot_LQ': str(tiny_set / 'DIPFKP_lr_x4')}},
           'parts': {'usrnet': {'weights': str(official['usrnet'])},
                     'dipfkp': {'prior': str(official['fkp_x4']), 'max_iters': 2}},
           **extra}
    path.write_text(yaml.safe_dump(opt))
    return path


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def metric_rows(rows):
    """The rows without their costs (time and memory differ between runs)."""
    return [{k: r[k] for k in ('set', 'method', 'image', 'seed', 'status') + METRIC_COLUMNS} for r in rows]


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory, tiny_set, official):
    """One uninterrupted run of the quick methods (and DIP-FKP, 2 iterations, 2 seeds)."""
    tmp = tmp_path_factory.mktemp('quick')
    opt = write_options(tmp / 'quick.yml', 'quick', DETERMINISTIC + ['dipfkp -> usrnet'], tiny_set, official,
                        grid={'images': [{'set': 'Tiny_x4', 'image': 'bird'}], 'crop': 48})
    raw = yaml.safe_load(opt.read_text())
    raw['sets']['Tiny_real'] = {'dataroot_LQ': str(tiny_set / 'real' / 'LR'), 'methods': ['bicubic', 'mean -> usrnet']}
    opt.write_text(yaml.safe_dump(raw))
    with torch.random.fork_rng():
        status = main(['--opt', str(opt), '--results', str(tmp / 'results')])
    return status, tmp / 'results' / 'quick'


def test_quick_run_writes_the_table_csv_and_pictures(quick_run):
    status, out = quick_run
    assert status == 0
    rows = read_csv(out / 'benchmark.csv')
    real = [r for r in rows if r['set'] == 'Tiny_real']
    rows = [r for r in rows if r['set'] == 'Tiny_x4']
    assert list(rows[0]) == ['set', 'method', 'image', 'seed', 'status', 'kernel_source', 'psnr_y', 'ssim_y', 'psnr_k',
                             'lr_psnr_y', 'wall_s', 'peak_mem_mb', 'device', 'reason']
    # 2 images x (3 deterministic methods + DIP-FKP x 2 seeds)
    assert len(rows) == 2 * (3 + 2) and all(r['status'] == 'ok' for r in rows)
    table = (out / 'table.md').read_text()
    assert ('| method | PSNR_Y (dB) | SSIM_Y | kernel PSNR (dB) | LR-PSNR_Y (dB) | time (s) | peak mem (MB) '
            '| items ok |') in table
    dip = next(line for line in table.splitlines() if line.startswith('| dipfkp -> usrnet'))
    assert '±' in dip and '(2 seeds)' in dip
    # kernel PSNR only where a kernel is estimated: DIP-FKP and the mean kernel, not the truth
    by_method = {r['method']: r for r in rows}
    assert by_method['true -> usrnet']['psnr_k'] == '' and by_method['bicubic']['psnr_k'] == ''
    assert float(by_method['mean -> usrnet']['psnr_k']) > 0 and float(by_method['dipfkp -> usrnet']['psnr_k']) > 0
    assert float(by_method['true -> usrnet']['wall_s']) > 0
    assert (out / 'quality_vs_time_Tiny_x4.png').stat().st_size > 0
    assert (out / 'grids' / 'Tiny_x4_bird.png').stat().st_size > 0
    # a set without HR (real photos): only the methods it names, and LR consistency as the kernel-aware number
    assert sorted((r['method'], r['image']) for r in real) == sorted(
        (m, i) for m in ('bicubic', 'mean -> usrnet') for i in IMAGES)
    assert all(r['psnr_y'] == '' and r['psnr_k'] == '' for r in real)
    assert all(float(r['lr_psnr_y']) > 20 for r in real if r['method'] == 'mean -> usrnet')
    assert '### Tiny_real' in table and (out / 'quality_vs_time_Tiny_real.png').is_file()


def test_true_kernel_beats_the_mean_kernel_for_usrnet(quick_run):
    _, out = quick_run
    rows = read_csv(out / 'benchmark.csv')
    psnr = {(r['method'], r['image']): float(r['psnr_y']) for r in rows if r['set'] == 'Tiny_x4'}
    for image in IMAGES:
        assert psnr[('true -> usrnet', image)] > psnr[('mean -> usrnet', image)] + 0.5, image
        assert psnr[('true -> usrnet', image)] > psnr[('bicubic', image)]


def test_resume_skips_stored_items_and_gives_the_same_table(tmp_path, tiny_set, official, quick_run):
    opt = write_options(tmp_path / 'resume.yml', 'quick', DETERMINISTIC, tiny_set, official)
    results = tmp_path / 'results'
    assert main(['--opt', str(opt), '--results', str(results), '--max-items', '2']) == 0
    items = sorted((results / 'quick' / 'items').glob('*/*/*.json'))
    assert len(items) == 2
    before = {p: p.read_bytes() for p in items}
    assert main(['--opt', str(opt), '--results', str(results)]) == 0
    assert {p: p.read_bytes() for p in items} == before       # the stored items were not recomputed
    resumed = read_csv(results / 'quick' / 'benchmark.csv')
    assert len(resumed) == 2 * 3
    full = [r for r in read_csv(quick_run[1] / 'benchmark.csv') if r['method'] in DETERMINISTIC and r['set'] == 'Tiny_x4']
    assert metric_rows(resumed) == metric_rows(full)
    table = (results / 'quick' / 'table.md').read_text()
    assert main(['--opt', str(opt), '--results', str(results)]) == 0    # nothing left: the same table
    assert (results / 'quick' / 'table.md').read_text() == table


def test_shards_together_are_the_full_run(tmp_path, tiny_set, official, quick_run):
    opt = write_options(tmp_path / 'shard.yml', 'quick', DETERMINISTIC, tiny_set, official)
    results = tmp_path / 'results'
    counts = []
    for k in (1, 2, 3):
        assert main(['--opt', str(opt), '--results', str(results), '--shard', f'{k}/3']) == 0
        counts.append(len(list((results / 'quick' / 'items').glob('*/*/*.json'))))
    assert counts == [2, 4, 6]       # 6 items, every third one per shard
    full = [r for r in read_csv(quick_run[1] / 'benchmark.csv') if r['method'] in DETERMINISTIC and r['set'] == 'Tiny_x4']
    assert metric_rows(read_csv(results / 'quick' / 'benchmark.csv')) == metric_rows(full)


def test_a_failing_item_is_recorded_and_the_rest_go_on(tmp_path, tiny_set, official):
    # 16x16 LR images are too small for KernelGAN-FKP's crops: failed rows, exit 1, bicubic still done
    opt = write_options(tmp_path / 'fail.yml', 'fail', ['kernelganfkp -> usrnet', 'bicubic'], tiny_set, official,
                        seeds=1)
    assert main(['--opt', str(opt), '--results', str(tmp_path / 'results')]) == 1
    rows = read_csv(tmp_path / 'results' / 'fail' / 'benchmark.csv')
    status = {(r['method'], r['image']): r['status'] for r in rows}
    assert status == {('kernelganfkp -> usrnet', 'bird'): 'failed', ('kernelganfkp -> usrnet', 'butterfly'): 'failed',
                      ('bicubic', 'bird'): 'ok', ('bicubic', 'butterfly'): 'ok'}
    assert 'crops' in next(r['reason'] for r in rows if r['status'] == 'failed')


@pytest.mark.parametrize('methods, sets, expected', [
    (['bicubic', 'magic -> usrnet'], None, "unknown estimator 'magic'; known estimators: dipfkp"),
    (['true -> sharpen'], None, "unknown restorer 'sharpen'; known restorers: bicubic"),
    (['manet_s4'], None, "unknown method 'manet_s4': end-to-end methods are bicubic, kulnet, manet_s3"),
    (['manet -> usrnet'], None, "restorer usrnet takes one kernel per image but manet gives a kernel field on set "
                                "Tiny_x4; use 'manet_mean -> usrnet'"),
    (['bicubic'], {'BSD100_x4_SV1': {'dataroot_LQ': 'LR_mode1_noise0'}}, 'set BSD100_x4_SV1 is not prepared'),
])
def test_bad_input_is_one_line_and_exit_2_before_any_work(tmp_path, tiny_set, official, capsys, methods, sets,
                                                          expected):
    opt = write_options(tmp_path / 'bad.yml', 'bad', methods, tiny_set, official)
    if sets:
        raw = yaml.safe_load(opt.read_text())
        raw['sets'] = {name: {'dataroot_LQ': str(tmp_path / 'prepared' / spec['dataroot_LQ'])}
                       for name, spec in sets.items()}
        (tmp_path / 'prepared' / 'LR_mode0_noise0').mkdir(parents=True)
        opt.write_text(yaml.safe_dump(raw))
    assert main(['--opt', str(opt), '--results', str(tmp_path / 'results')]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    if sets:
        assert 'LR_mode0_noise0' in err        # what does exist there
    assert not (tmp_path / 'results').exists()


def test_shard_argument_is_checked(tmp_path, tiny_set, official, capsys):
    opt = write_options(tmp_path / 'bad.yml', 'bad', ['bicubic'], tiny_set, official)
    assert main(['--opt', str(opt), '--results', str(tmp_path / 'results'), '--shard', '3/2']) == 2
    assert 'k must be between 1 and n' in capsys.readouterr().err


def test_weights_of_another_scale_are_refused_before_any_work(tmp_path, tiny_set, official, capsys):
    opt = write_options(tmp_path / 'x2.yml', 'x2', ['manet_s3'], tiny_set, official)
    raw = yaml.safe_load(opt.read_text())
    raw['sets']['Tiny_x4']['scale'] = 2
    opt.write_text(yaml.safe_dump(raw))
    assert main(['--opt', str(opt), '--results', str(tmp_path / 'results')]) == 2
    err = capsys.readouterr().err
    assert 'parts.manet_s3.weights' in err and 'x4' in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize('profile', ['quick', 'full_x4', 'bsd100_x4_subset', 'bsd100_optimisers'])
def test_profiles_name_existing_methods_and_parts(profile):
    from blindsr.benchmark.methods import Method, PartCache
    from blindsr.benchmark.options import load_benchmark_options
    from blindsr.benchmark.parts import settings_for
    opt = load_benchmark_options(REPO_ROOT / 'options' / 'benchmark' / f'{profile}.yml')
    cache = PartCache(opt['parts'], 'cpu')
    methods = {m.spec: m for m in (Method(spec, cache) for spec in opt['methods'])}
    for name, spec in opt['sets'].items():
        assert set(spec.get('methods') or ()) <= set(methods), name
        for m in spec.get('methods') or methods:
            methods[m].parts(spec.get('scale') or opt['scale'])      # settings and scale accepted
    assert all(settings_for(opt['parts'], n) is not None for n in opt['parts'])


def test_kulnet_parts_run_from_a_saved_checkpoint(tmp_path, tiny_set, official):
    """KULNet's estimator, restorer and whole network as parts, from any saved checkpoint (random weights)."""
    from blindsr.kulnet.kulnet_arch import KULNet
    torch.manual_seed(0)
    weights = tmp_path / 'kulnet_G.pth'
    torch.save(KULNet(scale=SCALE).state_dict(), weights)
    weights.with_suffix('.yml').write_text(yaml.safe_dump(
        {'model': 'blind', 'scale': SCALE, 'kernel_size': 21, 'code_length': 15,
         'network_G': {'which_model_G': 'KULNet'}}))
    methods = ['kulnet', 'kulnet -> usrnet', 'true -> kulnet']
    opt = write_options(tmp_path / 'kulnet.yml', 'kulnet', methods, tiny_set, official)
    raw = yaml.safe_load(opt.read_text())
    raw['parts']['kulnet'] = {'weights': str(weights)}
    raw['sets']['Tiny_x4']['images'] = ['bird']
    opt.write_text(yaml.safe_dump(raw))
    assert main(['--opt', str(opt), '--results', str(tmp_path / 'results')]) == 0
    rows = read_csv(tmp_path / 'results' / 'kulnet' / 'benchmark.csv')
    assert [r['method'] for r in rows] == methods and all(r['status'] == 'ok' for r in rows)
    assert float(rows[0]['psnr_k']) > 0 and rows[2]['psnr_k'] == ''


def test_kulnet_without_weights_is_one_line(tmp_path, tiny_set, official, capsys):
    opt = write_options(tmp_path / 'kulnet.yml', 'kulnet', ['kulnet'], tiny_set, official)
    raw = yaml.safe_load(opt.read_text())
    raw['parts']['kulnet'] = {'weights': None}
    opt.write_text(yaml.safe_dump(raw))
    assert main(['--opt', str(opt), '--results', str(tmp_path / 'results')]) == 2
    err = capsys.readouterr().err
    assert 'parts.kulnet.weights: not set; give a KULNet checkpoint' in err and len(err.strip().splitlines()) == 1


def test_the_table_follows_the_option_file(tmp_path, tiny_set, official):
    """Items of a method taken out of the option file stay on disk but leave the table."""
    results = tmp_path / 'results'
    opt = write_options(tmp_path / 'a.yml', 'quick', ['bicubic', 'mean -> usrnet'], tiny_set, official)
    assert main(['--opt', str(opt), '--results', str(results)]) == 0
    opt = write_options(tmp_path / 'a.yml', 'quick', ['bicubic'], tiny_set, official)
    assert main(['--opt', str(opt), '--results', str(results), '--report-only']) == 0
    assert {r['method'] for r in read_csv(results / 'quick' / 'benchmark.csv')} == {'bicubic'}
    assert 'mean -> usrnet' not in (results / 'quick' / 'table.md').read_text()
    assert len(list((results / 'quick' / 'items').glob('*/*/*.json'))) == 4


def test_a_run_killed_mid_item_resumes_to_the_same_table(tmp_path, tiny_set, official, quick_run, monkeypatch):
    from blindsr.benchmark.runner import Benchmark
    opt = write_options(tmp_path / 'kill.yml', 'quick', DETERMINISTIC, tiny_set, official)
    results = tmp_path / 'results'
    real_run_item, calls = Benchmark.run_item, []

    def interrupted(self, item, sample, method):
        calls.append(item)
        if len(calls) == 4:
            raise KeyboardInterrupt      # Ctrl-C (or a kill) in the middle of the 4th item
        return real_run_item(self, item, sample, method)

    monkeypatch.setattr(Benchmark, 'run_item', interrupted)
    assert main(['--opt', str(opt), '--results', str(results)]) == 130
    monkeypatch.setattr(Benchmark, 'run_item', real_run_item)
    items = results / 'quick' / 'items'
    assert len(list(items.glob('*/*/*.json'))) == 3 and not list(items.rglob('*.tmp'))
    assert main(['--opt', str(opt), '--results', str(results)]) == 0
    full = [r for r in read_csv(quick_run[1] / 'benchmark.csv') if r['method'] in DETERMINISTIC and r['set'] == 'Tiny_x4']
    assert metric_rows(read_csv(results / 'quick' / 'benchmark.csv')) == metric_rows(full)


def test_set_images_take_stems_and_shell_patterns(tiny_set):
    """``images`` keeps the set's order; a pattern that matches nothing is one line naming it."""
    from blindsr.benchmark.parts import PartError
    from blindsr.benchmark.testsets import BenchmarkSet
    spec = {'dataroot_GT': str(tiny_set / 'HR'), 'dataroot_LQ': str(tiny_set / 'DIPFKP_lr_x4')}
    whole = BenchmarkSet.from_options('Tiny', spec, SCALE)
    assert whole.images == ['bird', 'butterfly'] and whole.indices == [0, 1]
    some = BenchmarkSet.from_options('Tiny', {**spec, 'images': ['butt*']}, SCALE)
    assert some.images == ['butterfly'] and some.indices == [1]
    both = BenchmarkSet.from_options('Tiny', {**spec, 'images': ['butterfly', 'b?rd']}, SCALE)
    assert both.images == ['bird', 'butterfly'] and both.indices == [0, 1]
    with pytest.raises(PartError, match=r'sets\.Tiny\.images: no image img_0\?5\* in .*DIPFKP_lr_x4'):
        BenchmarkSet.from_options('Tiny', {**spec, 'images': ['bird', 'img_0?5*']}, SCALE)


def test_each_finished_item_logs_a_progress_line_with_what_is_left():
    from blindsr.benchmark.runner import progress_line
    from blindsr.benchmark.store import Item
    item = Item('BSD100_DIPFKP_x4', 0, 'img_005', 'dipfkp -> usrnet', 'dipfkp--usrnet', 2)
    ok = progress_line(3, 12, item, {'status': 'ok', 'psnr_y': 25.8312, 'wall_s': 600.04}, elapsed_s=1800.0)
    assert ok == '[3/12] dipfkp -> usrnet on BSD100_DIPFKP_x4/img_005 seed 2: 25.83 dB, 600.0 s; about 90 min left'
    real = progress_line(1, 2, item, {'status': 'ok', 'lr_psnr_y': 40.0, 'wall_s': 1.0}, elapsed_s=60.0)
    assert 'LR 40.00 dB' in real and 'about 1 min left' in real
    assert 'FAILED' in progress_line(2, 2, item, {'status': 'failed', 'reason': 'x'}, elapsed_s=5.0)
