"""Keep freed tile buffers out of the process's resident memory (glibc on Linux).

glibc serves allocations above its mmap threshold with their own mappings, returned to the
system when freed; but it raises that threshold (up to 32 MB) each time such a block is freed,
after which the next tiles' buffers come from the heap, where freed space stays resident and
fragments. Over many tiles the peak RSS then creeps up with the number of tiles, i.e. with the
image size. Fixing the threshold (which also stops its adjustment) keeps every large buffer in
its own mapping: the resident memory follows what is alive. Elsewhere this does nothing.
"""
import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3          # glibc's mallopt parameter number
THRESHOLD = 1 << 20            # blocks of 1 MB and more get their own mapping
_done = False


def keep_heap_small(threshold=THRESHOLD):
    """Fix glibc's mmap threshold (once per process); returns whether it was set."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        _done = bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        _done = False
    if not _done:
        logger.debug('mallopt unavailable: the heap keeps its default policy')
    return _done
