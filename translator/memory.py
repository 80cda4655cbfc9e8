"""Keep freed memory in the process instead of handing it back to the operating system.

glibc serves every allocation above its mmap threshold (128 KiB at first, at most 32 MiB as it adapts)
with a fresh ``mmap`` and returns it with ``munmap`` on free. A training step allocates and frees the same
large activations and gradients every step, so each step page-faults hundreds of megabytes back in,
zero-filled by the kernel: on the general-domain M model (20M parameters, 1 thread) that was a third of
the step's CPU time. Raising the mmap and trim thresholds makes freed blocks stay in the heap and be
reused, at the cost of the process keeping its peak memory; a long run also accumulates fragmented
free blocks beyond it (the M model's RSS grew from 6 to 8.4 GB in 20 minutes while ``malloc_trim``
showed 2.1 GB in use between steps), so the trainer calls :func:`release_freed_memory` every 200
steps, which costs one re-fault of the working set per 200 steps instead of one per step. This is what Intel's PyTorch CPU guide does
with jemalloc or tcmalloc via LD_PRELOAD, without a system package or an environment to set up.

The effect is measured by ``benchmarks/train_loop_speed.py`` (``--no-keep-memory`` for the before).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_ONE_GIB = 1 << 30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds to 1 GiB; True if it took effect (False off glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, _ONE_GIB)) and bool(mallopt(_M_TRIM_THRESHOLD, _ONE_GIB))


def release_freed_memory() -> bool:
    """Hand the heap's free pages back to the operating system (glibc ``malloc_trim``); True if any were."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    return bool(trim(0))
