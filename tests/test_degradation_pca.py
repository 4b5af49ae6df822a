"""The authors' released PCA matrices are rebuilt by blindsr.degradation.pca."""
import numpy as np
import torch

from blindsr.degradation import pca as P

OFFICIAL = 'pretrained_models/official/pca_matrix_aniso21_15_x{}.pth'


def test_released_x4_matrix_rebuilt_from_the_authors_numpy_stream(shared):
    """train.py: np.random.seed(0), 150000 random x4 kernels (0.7..10, rate_iso 0), util.PCA, k=15.

    Same columns up to sign (the SVD/eigh sign is arbitrary); x2/x3 reproduce the same way.
    """
    ref = P.load_pca_matrix(shared(OFFICIAL.format(4)))
    assert ref.shape == (441, 15)
    mat = P.build_pca_matrix(150000, 4, sig_min=0.7, sig_max=10.0, rate_iso=0,
                             numpy_rng=np.random.RandomState(0), chunk=25000)
    np.testing.assert_allclose((mat * ref).sum(0).abs().numpy(), 1.0, atol=1e-5)
    signs = torch.sign((mat * ref).sum(0))
    np.testing.assert_allclose(mat.numpy(), (ref * signs).numpy(), atol=1e-5)


def test_torch_sampled_matrix_spans_the_released_subspace(shared):
    ref = P.load_pca_matrix(shared(OFFICIAL.format(4)))
    mat = P.build_pca_matrix(30000, 4, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose((mat.T @ mat).numpy(), np.eye(15), atol=1e-5)
    # principal angles between the two 15-d subspaces are all tiny
    assert torch.linalg.svdvals(mat.T @ ref).min() > 0.99
    # columns: largest-magnitude entry positive (our sign convention)
    idx = mat.abs().argmax(0)
    assert (mat[idx, torch.arange(15)] > 0).all()
