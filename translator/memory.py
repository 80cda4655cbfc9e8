"""Keep freed memory in the process instead of handing it back to the operating system.

glibc serves every allocation above its mmap threshold (128 KiB at first, at most 32 MiB as it adapts)
with a fresh ``mmap`` and returns it with ``munmap`` on free. A training step allocates and frees the same
large activations and gradients every step, so each step page-faults hundreds of megabytes back in,
zero-filled by the kernel: on the general-domain M model (20M parameters, 1 thread) that was a third of
the step's CPU time. Raising the mmap and trim thresholds makes freed blocks stay in the heap and be
reused, at the cost of the process keeping its peak memory; a long run also accumulates fragmented
free blocks beyond it (the M model's RSS grew from 6 to 8.4 GB in 20 minutes while ``malloc_trim``
showed 2.1 GB in use between steps), so the trainer, when glibc serves it, calls :func:`release_freed_memory` every 200
steps, which costs one re-fault of the working set per 200 steps instead of one per step. This is what Intel's PyTorch CPU guide does
with jemalloc or tcmalloc via LD_PRELOAD, without a system package or an environment to set up.

The effect is measured by ``benchmarks/train_loop_speed.py`` (``--no-keep-memory`` for the before).

Even so, glibc's ``malloc`` itself stays slow for a training step: sorting thousands of freed blocks of
ever-varying sizes (every batch has its own shape) into its bins took 13% of a general-domain run's CPU, and
zero-filling pages it had handed back another 8% (``perf``, this machine). tcmalloc keeps freed blocks in
per-size free lists instead; with it preloaded the same training runs faster (``benchmarks/
train_loop_speed.py --env``, ``benchmarks/results/train_loop_speed_allocators.json``; jemalloc was slower
than glibc). The training commands call :func:`restart_with_tcmalloc` first: when the system has tcmalloc
(Debian's ``libtcmalloc-minimal4``) and it is not loaded yet, the process re-executes itself with it in
``LD_PRELOAD`` (same process id, arguments and environment), as Intel's PyTorch CPU launcher does.
``TRANSLATOR_MALLOC=system`` keeps the system's allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Mapping

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


ALLOCATOR_VARIABLE = "TRANSLATOR_MALLOC"
"""``system``: keep the system's allocator; unset or ``tcmalloc``: preload tcmalloc when the system has it."""
_PRELOADED = "TRANSLATOR_MALLOC_PRELOADED"  # set by the restart, so that it happens at most once
TCMALLOC_NAMES = ("tcmalloc_minimal", "tcmalloc")


def tcmalloc_library() -> str | None:
    """The system's tcmalloc shared library (e.g. ``libtcmalloc_minimal.so.4``), or None."""
    if not sys.platform.startswith("linux"):
        return None
    return next(filter(None, (ctypes.util.find_library(name) for name in TCMALLOC_NAMES)), None)


def tcmalloc_restart_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
    """The environment to re-execute this process with so that tcmalloc is preloaded, or None when it should
    not be: asked not to (``TRANSLATOR_MALLOC=system``), restarted already, another allocator preloaded by the
    user, or no tcmalloc on the system (or not Linux).

    Raises:
        ValueError: ``TRANSLATOR_MALLOC`` is neither ``system`` nor ``tcmalloc``.
    """
    choice = environ.get(ALLOCATOR_VARIABLE, "tcmalloc")
    if choice not in ("system", "tcmalloc"):
        raise ValueError(f"{ALLOCATOR_VARIABLE}={choice!r}: expected 'tcmalloc' (the default) or 'system'")
    preload = environ.get("LD_PRELOAD", "")
    if choice == "system" or environ.get(_PRELOADED) or "malloc" in preload:
        return None
    library = tcmalloc_library()
    if library is None:
        return None
    return {**environ, _PRELOADED: library, "LD_PRELOAD": f"{preload} {library}".strip()}


def restart_with_tcmalloc() -> None:
    """Re-execute this process (same id, arguments and environment) with tcmalloc preloaded, when
    :func:`tcmalloc_restart_environment` says so; otherwise return. Call it first thing in a command's entry
    point, before any work or thread: nothing after it survives a restart.

    Raises:
        ValueError: ``TRANSLATOR_MALLOC`` is neither ``system`` nor ``tcmalloc``.
    """
    environment = tcmalloc_restart_environment(os.environ)
    if environment is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environment)


def allocator_in_use() -> str:
    """``tcmalloc`` when this process has tcmalloc loaded, otherwise ``system``."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            return "tcmalloc" if "libtcmalloc" in maps.read() else "system"
    except OSError:
        return "system"
