"""The weights shipped in pretrained_models/: checksums, strict loading, a short forward."""
import hashlib

import pytest
import torch
import yaml

from blindsr.archs.build import build_network
from blindsr.utils.checkpoint_io import load_state_dict
from blindsr.utils.paths import REPO_ROOT

FOLDER = REPO_ROOT / 'pretrained_models'
SUMS = [line.split() for line in (FOLDER / 'SHA256SUMS').read_text().splitlines() if line.strip()]


@pytest.mark.parametrize('digest, name', SUMS, ids=[n for _, n in SUMS])
def test_checksum(digest, name):
    assert hashlib.sha256((FOLDER / name).read_bytes()).hexdigest() == digest


WEIGHTS = [n for _, n in SUMS if n.startswith('MANet_s')]


@pytest.mark.parametrize('name', WEIGHTS)
def test_loads_strictly_and_runs(name):
    record = yaml.safe_load((FOLDER / name).with_suffix('.yml').read_text())
    net = build_network(dict(record, pca_path=None)).eval()
    load_state_dict(net, FOLDER / name, strict=True)
    lr = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        if record['network_G']['which_model_G'] == 'MANet_s2':
            from blindsr.degradation.kernels import anisotropic_kernels
            kernel = anisotropic_kernels(torch.tensor([6.0]), torch.tensor([1.0]), torch.tensor([0.5]), scale=4)
            sr, field = net(lr, kernel)
        else:
            sr, field = net(lr)
    assert sr.shape == (1, 3, 64, 80) and torch.isfinite(sr).all()
    if field.dim() == 5:
        torch.testing.assert_close(field.sum((-1, -2)), torch.ones(1, 16, 20), atol=1e-5, rtol=0)
