"""This process's resident memory from ``/proc/self/status`` (Linux), for the benchmark scripts.

VmHWM is the peak resident set of this process image; unlike ``ru_maxrss`` it is not inherited
over ``exec``, and writing ``5`` to ``/proc/self/clear_refs`` resets it to the current RSS, so the
memory one call needs can be measured inside a long-lived process.
"""
from pathlib import Path


def status_mb(field):
    """``VmRSS``, ``VmHWM``, ... of this process in MB."""
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f'/proc/self/status has no {field} (peak memory is measured on Linux only)')


def reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        Path('/proc/self/clear_refs').write_text('5')
        return True
    except OSError:
        return False
