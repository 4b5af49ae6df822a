"""CUDA agreement and AMP training of every trainable network; skipped where CUDA is absent.

Run by ``benchmarks/gpu_check.sh`` on a CUDA machine. Forwards are compared with TF32 off, so
the only differences left are the kernels' summation orders (atol 1e-4 on [0, 1] images).
"""
import math

import pytest
import torch

from blindsr.options.loader import load_options
from blindsr.registry import ARCHS, MODELS
from blindsr.utils.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device on this machine')

CUDA = torch.device('cuda', 0)
TINY_BLIND = ['datasets.train.GT_size=48', 'datasets.train.batch_size=2', 'datasets.train.n_workers=0',
              'gpu_ids=[0]', 'amp=true']
TRAIN_FILES = {
    'stage1': 'options/train/train_stage1_demo.yml',
    'stage2': 'options/train/train_stage2_cpu_codenorm.yml',
    'stage3': 'options/train/train_stage3_cpu_codenorm.yml',
    'kulnet': 'options/train/train_KULNet_x4_cpu.yml',
}


@pytest.fixture(autouse=True)
def no_tf32():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _forward_both(net, *inputs):
    net = net.eval()
    with torch.no_grad():
        cpu = net(*inputs)
        gpu = net.to(CUDA)(*[x.to(CUDA) for x in inputs])
    as_tuple = (lambda r: r if isinstance(r, tuple) else (r,))
    return as_tuple(cpu), tuple(t.cpu() for t in as_tuple(gpu))


@pytest.mark.parametrize('name, kwargs', [
    ('MANet_s1', {'manet_nf': 32, 'manet_nb': 1}),
    ('MANet_s3', {'manet_nf': 32, 'manet_nb': 1, 'nf': 16, 'nb': 2, 'gc': 8}),
])
def test_manet_forwards_agree_on_cpu_and_cuda(name, kwargs):
    torch.manual_seed(0)
    net = ARCHS.get(name)(**kwargs)
    cpu, gpu = _forward_both(net, torch.rand(1, 3, 40, 36))
    for a, b in zip(cpu, gpu):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() < 1e-4


def test_kulnet_forward_agrees_on_cpu_and_cuda():
    torch.manual_seed(0)
    net = ARCHS.get('KULNet')(scale=4, sample_latent=False)
    (sr_c, k_c, *_), (sr_g, k_g, *_) = _forward_both(net, torch.rand(1, 3, 32, 28))
    assert sr_c.shape == sr_g.shape == (1, 3, 128, 112)
    assert torch.allclose(k_g.sum((-2, -1)), torch.ones(1), atol=1e-5)
    assert (k_c - k_g).abs().max().item() < 1e-5
    assert (sr_c - sr_g).abs().max().item() < 1e-4


@pytest.mark.parametrize('stage', sorted(TRAIN_FILES))
def test_amp_training_steps_on_cuda(stage):
    """Three AMP steps through the real recipe: finite losses, the grad scaler in use, weights moved."""
    opt = load_options(REPO_ROOT / TRAIN_FILES[stage], is_train=True, overrides=TINY_BLIND)
    torch.manual_seed(0)
    model = MODELS.get(opt['model'])(opt, CUDA)
    assert model.use_amp and model.scaler.is_enabled()
    before = [p.detach().clone() for p in model.net.parameters() if p.requires_grad]
    gen = torch.Generator(device=CUDA).manual_seed(0)
    hr = torch.rand(2, 3, 48, 48)
    for step in range(3):
        model.feed_data({'GT': hr}, generator=gen, train=True)
        logs = model.optimize_parameters(step)
        assert logs and all(math.isfinite(v) for v in logs.values()), logs
    after = [p for p in model.net.parameters() if p.requires_grad]
    assert any((a.detach() - b).abs().max() > 0 for a, b in zip(after, before))
