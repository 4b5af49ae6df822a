"""The trainer builds the validation data once and stops all DDP processes at one iteration."""
import shutil

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from blindsr.engine import distributed, trainer, validation
from blindsr.options.loader import load_options
from blindsr.utils.paths import REPO_ROOT


def test_validation_data_is_built_once_per_run(monkeypatch):
    name = 'pytest_val_once'
    opt = load_options(REPO_ROOT / 'options/train/train_stage1_demo.yml', is_train=True,
                       overrides=[f'name={name}', 'train.niter=3', 'train.val_freq=1', 'use_tb_logger=false',
                                  'network_G.manet_nf=16', 'logger.save_checkpoint_freq=3', 'gpu_ids=null'])
    calls = []
    real = validation.build_eval_loader
    monkeypatch.setattr(validation, 'build_eval_loader', lambda d: calls.append(d['name']) or real(d))
    try:
        model = trainer.train(opt)
        assert calls == ['toy_dataset']                 # at start (the check), then reused by 3 validations
        images = sorted(p.name for p in (REPO_ROOT / 'results' / name / 'val_images').rglob('*_kernel.png'))
        assert len(images) == 2 * 3                     # 2 validation images x 3 validations
        assert model.validation_data(opt) is model.validation_data(opt)
    finally:
        shutil.rmtree(REPO_ROOT / 'results' / name, ignore_errors=True)


def _vote(rank, port, flags, out):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=len(flags))
    out[rank] = distributed.any_rank(flags[rank], torch.device('cpu'))
    dist.destroy_process_group()


@pytest.mark.parametrize('flags, expected', [((False, True), True), ((False, False), False)])
def test_a_stop_requested_on_one_process_stops_every_process(flags, expected):
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    out = mp.get_context('spawn').Manager().dict()
    mp.spawn(_vote, args=(port, flags, out), nprocs=len(flags), join=True)
    assert dict(out) == {0: expected, 1: expected}


def test_any_rank_without_a_process_group_is_the_flag():
    assert distributed.any_rank(True, torch.device('cpu')) is True
    assert distributed.any_rank(False, torch.device('cpu')) is False
