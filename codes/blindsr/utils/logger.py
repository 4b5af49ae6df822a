"""Console + file logging for runs, and an optional TensorBoard writer."""
import logging
import sys
import time
from pathlib import Path

FORMAT = '%(asctime)s %(levelname)s %(message)s'


def setup_logging(log_file=None, rank=0, level=logging.INFO):
    """Configure the ``blindsr`` logger: console on rank 0, plus a file when given."""
    logger = logging.getLogger('blindsr')
    logger.setLevel(level if rank == 0 else logging.WARNING)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    fmt = logging.Formatter(FORMAT, datefmt='%y-%m-%d %H:%M:%S')
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    logger.addHandler(console)
    if log_file is not None and rank == 0:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file)
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    return logger


def timestamp():
    return time.strftime('%y%m%d-%H%M%S')


class TensorBoard:
    """A SummaryWriter that does nothing when disabled (or on ranks other than 0)."""

    def __init__(self, log_dir, enabled=True):
        self._writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(log_dir=str(log_dir))

    def scalars(self, values, step, prefix=''):
        if self._writer is None:
            return
        for k, v in values.items():
            self._writer.add_scalar(f'{prefix}{k}', v, step)

    def close(self):
        if self._writer is not None:
            self._writer.close()
