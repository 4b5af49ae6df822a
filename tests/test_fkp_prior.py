"""FKP flow: strict loading of the released checkpoints and the authors' golden samples."""
import numpy as np
import pytest
import torch
from blindsr.archs.fkp_arch import KernelPrior, load_kernel_prior
from blindsr.registry import ARCHS

N_PARAMS = {2: 41270, 3: 98900, 4: 194470}
NORMALIZATION = {2: 0.2335, 3: 0.31311, 4: 0.16908}


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_released_checkpoint_loads_strictly(shared, scale):
    prior = load_kernel_prior(shared(f'pretrained_models/official/FKP_x{scale}.pt'), scale=scale)
    assert sum(p.numel() for p in prior.parameters()) == N_PARAMS[scale]
    assert prior.k == min(4 * scale + 3, 21)
    assert float(prior.normalization) == pytest.approx(NORMALIZATION[scale], abs=1e-6)
    # same tree built from the per-scale formulas: strict load must succeed there too
    fresh = KernelPrior.for_scale(scale)
    state = torch.load(shared(f'pretrained_models/official/FKP_x{scale}.pt'), map_location='cpu')['model_state']
    fresh.load_state_dict(state, strict=True)
    assert list(fresh.state_dict()) == list(state)      # same key order as the authors' files


def test_registered():
    assert ARCHS.get('KernelPrior') is KernelPrior


@pytest.mark.parametrize('scale', [2, 4])
def test_golden_samples(shared, scale):
    g = np.load(shared(f'golden/fkp/fkp_x{scale}_sample.npz'))
    prior = load_kernel_prior(shared(f'pretrained_models/official/FKP_x{scale}.pt'), scale=scale)
    torch.manual_seed(int(g['seed']))
    z = torch.randn(4, prior.input_size)
    np.testing.assert_array_equal(z.numpy(), g['z'])
    with torch.no_grad():
        x, logdet = prior.inverse(z)
        kernels = prior.post_process(x)
        pre = prior.pre_process(kernels)
        log_prob, u = prior.log_prob(pre)
        log_prob_raw, _ = prior.log_prob(x)
    np.testing.assert_allclose(kernels.numpy(), g['kernels'], rtol=0, atol=1e-6)
    np.testing.assert_allclose(x.numpy(), g['flow_inverse_out'], rtol=0, atol=1e-4)
    np.testing.assert_allclose(logdet.numpy(), g['inverse_logdet'], rtol=0, atol=1e-2)
    np.testing.assert_allclose(pre.numpy(), g['preprocessed'], rtol=0, atol=1e-4)
    np.testing.assert_allclose(log_prob.numpy(), g['log_prob_preprocessed'], rtol=0, atol=1e-2)
    np.testing.assert_allclose(log_prob_raw.numpy(), g['log_prob_flow_out'], rtol=0, atol=1e-2)
    np.testing.assert_allclose(u.numpy(), g['forward_u_of_preprocessed'], rtol=0, atol=1e-3)
    # kernels are not renormalised (sums 0.99-1.06 in the authors' samples)
    np.testing.assert_allclose(kernels.sum((1, 2, 3)).numpy(), g['kernels'].sum((1, 2, 3)), atol=1e-5)


def test_flow_round_trip_and_training_mode_batchnorm():
    torch.manual_seed(0)
    prior = KernelPrior.for_scale(2, kernel_size=11, alpha=1e-6, normalization=0.2335)
    x = torch.randn(64, 121)
    prior.train()
    u, logdet_f = prior(x)
    back, logdet_i = prior.inverse(u)       # training-mode inverse reuses the batch statistics
    assert torch.allclose(back, x, atol=1e-4)
    assert torch.allclose(logdet_f + logdet_i, torch.zeros(64), atol=1e-3)
    # running statistics moved towards the batch (momentum 0.9 keeps 90% of the old value)
    bn = prior.net[1]
    assert torch.allclose(bn.running_var, 0.9 + 0.1 * bn._batch_stats[1].detach(), atol=1e-6)


def test_arch_modules_import_on_their_own():
    """Each FKP arch module must import first in a fresh interpreter (no import cycle with
    ``blindsr.fkp``, which the registry's suffix scan would hit)."""
    import subprocess
    import sys

    from blindsr.utils.paths import CODES_DIR
    code = ('import blindsr.archs.kernelgan_arch, blindsr.archs.dip_arch, blindsr.archs.usrnet_arch, '
            'blindsr.archs.fkp_arch, blindsr.fkp; from blindsr.registry import ARCHS; '
            'assert {"KernelPrior", "USRNet", "DIPSkip", "KernelGANFKPDiscriminator"} <= set(ARCHS.names())')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=CODES_DIR)
