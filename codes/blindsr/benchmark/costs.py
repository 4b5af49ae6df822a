"""Wall time and peak memory of one benchmark item, measured around the work itself.

* CUDA: ``torch.cuda.max_memory_allocated`` after resetting the peak, i.e. the largest amount
  of tensor memory the item held at once (``peak_mem_mb``), exact.
* CPU: PyTorch's CPU allocations are invisible to ``tracemalloc`` (they bypass Python's
  allocator) and ``ru_maxrss`` is the peak of the whole process, so a thread samples the
  resident set size (``/proc/self/statm``) every ``interval`` seconds during the item;
  ``peak_mem_mb`` is the largest RSS seen minus the RSS at the item's start (memory the item
  added). Freed memory that the C allocator keeps would hide an item's needs behind an earlier
  item's, so the meter first returns it to the system (``gc.collect`` and glibc's
  ``malloc_trim(0)``, where available). Sampling can miss a spike shorter than the interval;
  where ``/proc`` is missing it falls back to the growth of ``ru_maxrss`` (0 once the process has
  been bigger before).
"""
import ctypes
import ctypes.util
import gc
import os
import resource
import sys
import threading
import time

import torch

MB = 2 ** 20


def _rss_bytes():
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == 'darwin' else peak * 1024


def _release_freed_memory():
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass     # not glibc: the baseline may include freed memory


class CostMeter:
    """``with CostMeter(device) as m: ...`` then ``m.wall_s`` and ``m.peak_mem_mb``."""

    def __init__(self, device, interval=0.005):
        self.device = torch.device(device)
        self.interval = interval
        self.wall_s = self.peak_mem_mb = None

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, _rss_bytes())

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            _release_freed_memory()
            self._base = self._peak = _rss_bytes()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        self.wall_s = time.perf_counter() - self._t0
        if self.device.type == 'cuda':
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._peak, _rss_bytes())
        self.peak_mem_mb = max(0, peak - self._base) / MB
        return False
