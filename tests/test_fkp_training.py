"""FKP prior training pieces: kernel stream, preprocessing, NLL, validation log-likelihood."""
import numpy as np
import torch
from blindsr.archs.fkp_arch import load_kernel_prior
from blindsr.fkp.kernels import fkp_normalization, gen_kernel_random, validation_grid
from blindsr.fkp.prior_training import (
    STEPS_PER_EPOCH,
    RandomKernelDataset,
    build_prior_optimizer,
    build_prior_scheduler,
    new_kernel_prior,
    nll_loss,
    preprocess_kernels,
    validation_data,
    validation_log_likelihood,
)
from scipy import ndimage


def test_kernel_distribution_and_geometry():
    ds = RandomKernelDataset(4, batch_size=8, seed=0)
    kernels = ds.sample_kernels(8, np.random.default_rng(0))
    assert kernels.shape == (8, 19, 19)
    np.testing.assert_allclose(kernels.sum((1, 2)), 1.0, atol=1e-9)
    for k in kernels:                                   # centre of mass at (k - s) / 2 = 7.5
        np.testing.assert_allclose(ndimage.center_of_mass(k), (7.5, 7.5), atol=0.05)
    assert [round(fkp_normalization(s), 5) for s in (2, 3, 4)] == [0.2335, 0.31311, 0.16908]
    assert len(validation_grid(2)) == 17 * 17 * 16


def test_stream_is_seeded_and_batched():
    a = next(iter(RandomKernelDataset(2, batch_size=5, seed=3)))
    b = next(iter(RandomKernelDataset(2, batch_size=5, seed=3)))
    c = next(iter(RandomKernelDataset(2, batch_size=5, seed=4)))
    assert a.shape == (5, 121) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len(list(RandomKernelDataset(2, batch_size=2, length=3, seed=0))) == 3


def test_preprocess_inverts_post_process():
    prior = new_kernel_prior(2)
    k = gen_kernel_random(11, 2, 0.35, 5.0, rng=np.random.default_rng(1))[None]
    x = preprocess_kernels(k, fkp_normalization(2))          # no dequantisation noise
    back = prior.post_process(x).squeeze().numpy()
    np.testing.assert_allclose(back, k[0], atol=1e-6)
    assert torch.allclose(prior.pre_process(torch.from_numpy(k)), x, atol=1e-4)


def test_short_training_run_improves_validation_likelihood(shared):
    torch.manual_seed(0)
    prior = new_kernel_prior(2)
    val = validation_data(2, limit=500)
    before = validation_log_likelihood(prior, val)
    opt = build_prior_optimizer(prior)                          # authors' Adam(1e-4, wd 1e-6)
    sched = build_prior_scheduler(opt)
    prior.train()
    losses = []
    for x in RandomKernelDataset(2, batch_size=100, length=120, seed=0):
        loss = nll_loss(prior, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = validation_log_likelihood(prior, val)
    assert prior.training                                       # mode restored
    assert after > before + 1000                                # measured: -2921 -> about -170
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    assert sched.get_last_lr() == [1e-4] and STEPS_PER_EPOCH == 500
    # the released x2 prior is far better than this short run
    released = load_kernel_prior(shared('pretrained_models/official/FKP_x2.pt'), scale=2)
    assert validation_log_likelihood(released, val) > after + 100
