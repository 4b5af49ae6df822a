"""Does a restorer listen to its kernel: code standardisation, the sensitivity table, the diagnostics."""
import math

import pytest
import torch

from blindsr.archs.manet_stages_arch import MANet_s2, MANet_s3
from blindsr.degradation.kernels import random_kernels
from blindsr.degradation.pca import code_statistics, load_pca_matrix, pca_encode
from blindsr.inference.kernel_sensitivity import TRUE_BLURS, aniso, fed_kernels, markdown, sensitivity_table

from conftest import ROOT

PCA_X4 = ROOT / 'pretrained_models' / 'pca_matrix_aniso21_15_x4.pth'
TINY = dict(nf=8, nb=1, gc=4, scale=4)


def test_code_norm_standardises_the_codes_of_training_kernels():
    net = MANet_s2(pca_path=str(PCA_X4), code_norm=True, **TINY)
    mean, std = code_statistics(net.pca_matrix.reshape(441, 15), 4)
    torch.testing.assert_close(net.code_mean, mean)
    torch.testing.assert_close(net.code_std, std)
    raw = pca_encode(random_kernels(4000, 4, 21, 0.7, 10.0, 0.0, torch.Generator().manual_seed(5))[0], net.pca_matrix)
    # raw codes: tiny and alike (why the option exists); standardised: zero mean, unit spread per channel
    assert raw.std(0).mean() < 0.05
    z = (raw - net.code_mean) / net.code_std
    assert z.mean(0).abs().max() < 0.1
    assert ((z.std(0) - 1).abs() < 0.1).all()


def test_code_norm_reaches_the_sft_layers_and_keeps_the_authors_keys():
    plain = MANet_s2(pca_path=str(PCA_X4), **TINY)
    normed = MANet_s2(pca_path=str(PCA_X4), code_norm=True, **TINY)
    assert set(normed.state_dict()) - set(plain.state_dict()) == {'code_mean', 'code_std'}
    assert not any(k.startswith('code_') for k in MANet_s3(pca_path=str(PCA_X4), **TINY).state_dict())
    seen = []
    normed.RRDB_trunk[0].SFT.register_forward_pre_hook(lambda m, a: seen.append(a[1]))
    kernel = random_kernels(1, 4, 21, 0.7, 10.0, 0.0, torch.Generator().manual_seed(0))[0]
    with torch.no_grad():
        normed(torch.rand(1, 3, 6, 5), kernel)
    expected = (pca_encode(kernel, normed.pca_matrix) - normed.code_mean) / normed.code_std
    torch.testing.assert_close(seen[0][:, :, 2, 3], expected)


def test_code_norm_statistics_travel_with_the_checkpoint():
    a = MANet_s2(pca_path=str(PCA_X4), code_norm=True, **TINY)
    a.code_mean.fill_(0.5)
    b = MANet_s2(pca_path=str(PCA_X4), code_norm=True, **TINY)
    b.load_state_dict(a.state_dict())
    assert float(b.code_mean[0]) == 0.5


def test_sensitivity_table_rewards_only_a_restorer_that_uses_its_kernel():
    torch.manual_seed(0)
    hr = [torch.rand(3, 48, 40)]
    mean = torch.full((21, 21), 1 / 441)

    def deaf(lr, k):
        return torch.nn.functional.interpolate(lr, scale_factor=4, mode='bicubic', align_corners=False).clamp(0, 1)

    truth = {}

    def oracle(lr, k):   # the HR itself when fed the true kernel, bicubic otherwise
        return hr[0][None] if any(torch.equal(k[0], t) for t in truth.values()) else deaf(lr, k)

    for blur in TRUE_BLURS:
        truth[blur.label] = blur.kernel(4)
    deaf_table = sensitivity_table(deaf, hr, 4, mean)
    oracle_table = sensitivity_table(oracle, hr, 4, mean)
    assert list(deaf_table) == [b.label for b in TRUE_BLURS]
    for label, row in deaf_table.items():
        assert set(row) == set(fed_kernels(TRUE_BLURS[0], 4, mean))
        assert max(row.values()) - min(row.values()) < 1e-9          # a deaf restorer: one number per row
        assert oracle_table[label]['true'] == math.inf or oracle_table[label]['true'] > row['true'] + 20
    text = markdown(deaf_table)
    assert text.count('\n') == 1 + len(TRUE_BLURS) and '+0.00 | +0.00 |' in text


def test_wrong_kernels_are_wrong():
    true = aniso(8, 2, math.pi / 4)
    feds = fed_kernels(true, 4, torch.full((21, 21), 1 / 441))
    for label, k in feds.items():
        assert k.shape == (21, 21) and abs(float(k.sum()) - 1) < 1e-5, label
        if label != 'true':
            assert (k - feds['true']).abs().max() > 1e-3, label
    assert load_pca_matrix(PCA_X4).shape == (441, 15)


def test_mean_kernel_baseline_accepts_the_stage2_keywords():
    from blindsr.options import load_options
    opt = load_options(ROOT / 'options' / 'test' / 'curve_bsd68_x4_stage2.yml', is_train=False,
                       overrides=['network_G.which_model_G=MANet_s2_mean', 'network_G.train_sv_rate=0.5'])
    assert opt['network_G']['code_norm'] is True and opt['network_G']['train_sv_rate'] == 0.5
    # network_G's value reaches the network (the top-level default 0 once overrode it: the mean kernel
    # of the authors' distribution was fed where the training mix's was meant)
    from blindsr.archs.baselines_arch import mean_training_kernel
    from blindsr.archs.build import build_network, network_kwargs
    assert opt['train_sv_rate'] == 0.0 and network_kwargs(opt)[1]['train_sv_rate'] == 0.5
    net = build_network(dict(opt, pca_path=None))
    mix, authors = mean_training_kernel(4, train_sv_rate=0.5), mean_training_kernel(4)
    fed = net.kernel_estimation(torch.zeros(1, 3, 2, 2))[0, 0, 0].double()
    assert torch.allclose(fed, mix.double(), atol=1e-6) and (fed - authors.double()).abs().max() > 1e-4
    top = load_options(ROOT / 'options' / 'test' / 'curve_bsd68_x4_stage2.yml', is_train=False,
                       overrides=['network_G.which_model_G=MANet_s2_mean', 'train_sv_rate=0.5'])
    assert network_kwargs(top)[1]['train_sv_rate'] == 0.5          # the top-level key still works alone


def _script(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT / 'scripts' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('weights, spread_range', [('MANet_s2_x4_SunHays80.pth', (0.0, 0.02)),
                                                   ('MANet_s2_x4_SunHays80_codenorm.pth', (0.4, 1.0))])
def test_sft_conditioning_shows_the_code_spread_the_shipped_weights_see(weights, spread_range, shared, capsys):
    hr = shared('datasets/Sun_Hays80/HR')
    code = _script('sft_conditioning').main(['--model', str(ROOT / 'pretrained_models' / weights), '--set', str(hr),
                                              '--batch', '4', '--crop', '48'])
    assert code == 0
    rows = [line.split('|')[1:-1] for line in capsys.readouterr().out.splitlines() if line.startswith('| ') and
            line.split('|')[1].strip().isdigit()]
    assert len(rows) == 4                                    # one row per SFT layer (nb 4)
    for cells in rows:
        feature_spread, code_spread = float(cells[2]), float(cells[3])
        assert spread_range[0] <= code_spread <= spread_range[1]
        assert 0.05 < feature_spread < 0.3


def test_pca_fidelity_shows_the_code_describes_sv3_worst(capsys):
    """The authors' 15 codes rebuild typical kernels ~80 dB, SV3's thin long kernels ~63 dB, both far above
    the mean kernel; longer fitted codes rebuild every family better."""
    code = _script('pca_fidelity').main(['--pca', str(ROOT / 'pretrained_models' / 'pca_matrix_aniso21_15_x4.pth'),
                                         '--kernels', '3000', '--code_lengths', '32'])
    assert code == 0
    rows = {cells[0].strip(): [tuple(float(v) for v in c.split('/')) for c in cells[1:]]
            for cells in (line.split('|')[1:-1] for line in capsys.readouterr().out.splitlines()
                          if line.startswith('| ') and not line.startswith('| kernels'))}
    assert list(rows) == ['training kernels', 'SI grid', 'SV1', 'SV2', 'SV3', 'SV4', 'SV5']
    for name, ((mean_med, _), (ours_med, ours_min), (long_med, long_min)) in rows.items():
        assert ours_med > mean_med + 15, name
        assert long_med > ours_med and long_min > ours_min, name
    assert 60 < rows['SV3'][1][0] < 66 and rows['training kernels'][1][0] > 78


def test_kernel_gain_curve_rewards_the_true_kernel_and_resumes(tmp_path, shared, one_thread):
    """One checkpoint (the shipped code_norm stage 2) on two BSD68 crops blurred with a sharp kernel
    (iso 0.7, far from the mean kernel): the true kernel beats the mean one by over a dB (the
    kernel-sensitivity table: +2.3 on whole images); a rerun computes nothing new."""
    import csv
    import shutil
    import numpy as np
    from blindsr.degradation.blur import blur_subsample
    from blindsr.degradation.kernels import isotropic_kernels
    from blindsr.utils.image_io import img2tensor, read_image, write_image
    kernel = isotropic_kernels(0.7, 4)[0]
    for d in ('HR', 'LR_sharp', 'kernels_sharp'):
        (tmp_path / 'set' / d).mkdir(parents=True)
    for name in ('3096', '12084'):
        hr = read_image(shared(f'datasets/BSD68/HR/{name}.png'))[112:208, 192:288]
        write_image(tmp_path / 'set' / 'HR' / f'{name}.png', hr)
        lr = blur_subsample(img2tensor(read_image(tmp_path / 'set' / 'HR' / f'{name}.png'))[None], kernel, 4)
        write_image(tmp_path / 'set' / 'LR_sharp' / f'{name}.png', lr[0].permute(1, 2, 0).numpy())
        np.savez(tmp_path / 'set' / 'kernels_sharp' / f'{name}.npz', kernel=kernel.numpy())
    models = tmp_path / 'run' / 'models'
    models.mkdir(parents=True)
    shutil.copy(ROOT / 'pretrained_models' / 'MANet_s2_x4_SunHays80_codenorm.pth', models / '10000_G.pth')
    opt = tmp_path / 'curve.yml'
    opt.write_text(f"""name: pytest_curve
model: blind
scale: 4
pca_path: {ROOT / 'pretrained_models' / 'pca_matrix_aniso21_15_x4.pth'}
datasets:
  sharp: {{name: sharp, mode: GTLQ, dataroot_GT: {tmp_path / 'set' / 'HR'}, dataroot_LQ: {tmp_path / 'set' / 'LR_sharp'}}}
network_G: {{which_model_G: MANet_s2, in_nc: 3, out_nc: 3, nf: 32, nb: 4, gc: 16, code_norm: true}}
path: {{strict_load: true, pretrain_model_G: ~}}
""")
    out = tmp_path / 'curve'
    script = _script('kernel_gain_curve')
    try:
        assert script.main(['--models', str(models), '--opt', str(opt), '--output', str(out)]) == 0
    finally:
        for kind in ('true', 'mean'):
            shutil.rmtree(ROOT / 'results' / f'kernel_gain_curve_run_10000_{kind}', ignore_errors=True)
    rows = list(csv.DictReader(open(out / 'curve.csv')))
    assert [(r['iteration'], r['set']) for r in rows] == [('10000', 'sharp')]
    true, mean, gain = (float(rows[0][k]) for k in ('psnr_y_true', 'psnr_y_mean', 'gain'))
    assert 20 < mean < true and gain == pytest.approx(true - mean, abs=2e-4) and gain > 1.0
    assert '| 10000 | ' in (out / 'curve.md').read_text() and (out / 'curve.png').stat().st_size > 10_000
    stamp = (out / 'curve.csv').stat().st_mtime_ns
    assert script.main(['--models', str(models), '--opt', str(opt), '--output', str(out)]) == 0
    assert (out / 'curve.csv').stat().st_mtime_ns == stamp                 # nothing recomputed
    (out / 'curve.png').unlink()
    assert script.main(['--plot', str(out / 'curve.csv')]) == 0 and (out / 'curve.png').is_file()
    (tmp_path / 'other.csv').write_text('a,b\n1,2\n')
    assert script.main(['--plot', str(tmp_path / 'other.csv')]) == 2 and not (tmp_path / 'other.png').exists()
