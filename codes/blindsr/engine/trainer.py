"""The iteration-based training loop shared by every model recipe."""
import logging
import math
import signal
import threading
import time
from pathlib import Path

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..data.folders import check_image_files
from ..data.loader import build_dataloader, build_dataset
from ..data.sampler import ResumableSampler, SeededSamples
from ..options import dump_options
from ..registry import MODELS
from ..utils.device import select_device
from ..utils.files import archive_folder, archives_of, atomic_write_text
from ..utils.logger import TensorBoard, setup_logging, timestamp
from . import checkpoint, distributed
from .evaluation import average, format_metrics

logger = logging.getLogger('blindsr')


def _prepare_run_folder(opt, resuming, rank):
    """Create ``results/<name>/``; a fresh run never overwrites an earlier one: it is archived.

    Called only after every check has passed, so a failed start leaves ``results/`` untouched.
    """
    root = Path(opt['path']['experiments_root'])
    if rank == 0 and not resuming:
        archive_folder(root)
    distributed.barrier()
    for key in ('experiments_root', 'models', 'training_state', 'val_images'):
        Path(opt['path'][key]).mkdir(parents=True, exist_ok=True)
    if rank == 0:
        remove_stale_temporaries(opt)


def remove_stale_temporaries(opt):
    """Delete the hidden temporaries an atomic save killed midway left in models/ and training_state/."""
    for key in ('models', 'training_state'):
        for p in sorted(Path(opt['path'][key]).glob('.*.tmp')):
            if p.is_file():
                p.unlink()
                logger.warning('removed %s, the temporary of a save that was interrupted', p)


class _Interrupt:
    """SIGINT while training: finish the current step, then save and stop (a second Ctrl-C stops at once)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)
        logger.warning('Ctrl-C: saving a checkpoint after this iteration (press again to stop without saving)')

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _resolve_resume(opt, resume):
    """The training state to resume from (a checked path) or None; 'auto' finds the newest one."""
    if resume == 'auto':
        found = checkpoint.latest_state(opt)
        if found is None:
            root = Path(opt['path']['experiments_root'])
            archives = archives_of(root)
            if archives:
                logger.warning('--resume auto: no training state in %s, starting afresh; earlier runs of '
                               'this name are archived in %s (pass --resume <archive>/training_state/<iter>.state '
                               'to continue one)', opt['path']['training_state'],
                               ', '.join(str(a) for a in archives))
            else:
                logger.info('--resume auto: no training state in %s, starting afresh',
                            opt['path']['training_state'])
        return found
    if resume and not Path(resume).is_file():
        raise FileNotFoundError(f'{resume}: training state not found (check path.resume_state or --resume)')
    return resume or None


def _build_train_loader(opt, seed, rank, world):
    """Loader whose order and augmentations depend only on (seed, epoch, position): exact resume."""
    d = opt['datasets']['train']
    dataset = SeededSamples(build_dataset(d), seed=seed)
    sampler = ResumableSampler(len(dataset), seed=seed, shuffle=d['use_shuffle'], rank=rank, world_size=world)
    loader = build_dataloader(dataset, d, 'train', seed, distributed=world > 1, rank=rank, world_size=world,
                              sampler=sampler)
    return dataset, sampler, loader


def _save_and_stop(model, opt, it, epoch, batches_done, log, rank):
    """Checkpoint iteration ``it`` (unless just saved) and stop with KeyboardInterrupt (exit 130)."""
    if rank == 0:
        if not (Path(opt['path']['training_state']) / f'{it}.state').is_file():
            checkpoint.save_checkpoint(model, opt, it, epoch, batches_done, keep=log['keep_checkpoints'])
        logger.warning('interrupted at iteration %d: checkpoint saved; resume with --resume auto from iteration %d',
                       it, it)
    distributed.barrier()       # no process exits (and makes torchrun stop the others) before the save
    raise KeyboardInterrupt


def train(opt, resume=None, launcher='none'):
    """Train ``opt`` (validated options). ``resume``: None, 'auto' or a training-state path."""
    # a bad file stops the run before results/ is touched; under torchrun one process per machine
    # reads the files (when it exits, torchrun stops the others)
    if distributed.local_rank_from_env(launcher) == 0:
        check_image_files(opt['datasets'])
    rank, world, local_rank = distributed.init_distributed(launcher)
    dist = world > 1
    resume = resume or opt['path']['resume_state']
    setup_logging(rank=rank)
    # every check (data, checkpoints, the state to resume) before anything under results/ is touched
    device = select_device(opt['gpu_ids'], local_rank)
    t = opt['train']
    seed = t['manual_seed']
    torch.manual_seed(seed)
    dataset, sampler, loader = _build_train_loader(opt, seed, rank, world)
    model = MODELS.get(opt['model'])(opt, device, dist=dist)
    if 'val' in opt['datasets']:
        model.validation_data(opt)         # built once, here, so that a bad validation set fails now
    resuming = bool(resume)
    resume = _resolve_resume(opt, resume)
    start_iter, epoch, batches_done = 0, 0, 0
    if resume:
        state = checkpoint.load_state(resume, model, device)
        start_iter, epoch, batches_done = state['iter'], state['epoch'], state['batches_in_epoch']

    _prepare_run_folder(opt, resuming=resuming, rank=rank)
    root = Path(opt['path']['experiments_root'])
    setup_logging(root / f'train_{opt["name"]}_{timestamp()}.log', rank=rank)
    if rank == 0:
        atomic_write_text(dump_options(opt), root / 'options.yml')
    logger.info('Model %s / %s on %s; %d training images, %d iterations per epoch, %d processes',
                opt['model'], opt['network_G']['which_model_G'], device, len(dataset), len(loader), world)
    tb = TensorBoard(root / 'tb_logger', enabled=opt['use_tb_logger'] and rank == 0)

    niter, log = t['niter'], opt['logger']
    it = start_iter
    bar = tqdm(total=niter, initial=start_iter, disable=True if rank != 0 else None, desc=opt['name'], dynamic_ncols=True)
    tick = time.time()
    with logging_redirect_tqdm(loggers=[logger]), _Interrupt() as interrupt:
        while it < niter:
            dataset.set_epoch(epoch)
            sampler.set_epoch(epoch, start=batches_done * loader.batch_size)
            for batch in loader:
                it += 1
                batches_done += 1
                model.update_learning_rate()
                gen = torch.Generator(device=device).manual_seed(seed * 1000003 + it * world + rank)
                model.feed_data(batch, generator=gen, train=True)
                logs = model.optimize_parameters(it)
                bar.update(1)
                if it % log['print_freq'] == 0 or it == niter:
                    lr = model.get_current_learning_rate()
                    rate = log['print_freq'] / max(1e-9, time.time() - tick)
                    tick = time.time()
                    logger.info('<epoch:%3d, iter:%8d, lr:%.3e, %.2f it/s> %s', epoch, it, lr, rate,
                                ' '.join(f'{k}: {v:.4e}' for k, v in logs.items()))
                    tb.scalars(dict(logs, lr=lr), it, prefix='train/')
                    bar.set_postfix({k: f'{v:.3g}' for k, v in logs.items()})
                if it % log['save_checkpoint_freq'] == 0 and rank == 0:
                    checkpoint.save_checkpoint(model, opt, it, epoch, batches_done, keep=log['keep_checkpoints'])
                if t['val_freq'] and it % t['val_freq'] == 0 and 'val' in opt['datasets']:
                    if rank == 0:
                        rows = model.validate(opt, it)
                        avg = average(rows)
                        logger.info('# Validation at iter %d # %s', it, format_metrics(avg))
                        tb.scalars({k: v for k, v in avg.items() if math.isfinite(v)}, it, prefix='val/')
                    distributed.barrier()
                if distributed.any_rank(interrupt.requested, device):     # a Ctrl-C to any process stops all
                    _save_and_stop(model, opt, it, epoch, batches_done, log, rank)
                if it >= niter:
                    break
            else:
                epoch += 1
                batches_done = 0
    bar.close()
    if rank == 0:
        for label, net in model.networks().items():
            model.save_network(net, label, 'latest')
        logger.info('End of training: %d iterations; weights in %s', it, opt['path']['models'])
    tb.close()
    distributed.cleanup()
    return model
