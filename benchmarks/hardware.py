"""What machine a benchmark ran on, how fast its fp32 matmul is, and how much memory a run used.

Every benchmark in this folder records :func:`describe_machine` in its JSON and prints
:func:`machine_line`, so a number is never quoted without the hardware that produced it.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import time
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    """The SIMD/matrix-unit flags that matter for fp32, bf16 and int8 kernels, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in SIMD_FLAGS if flag in present]
    except OSError:
        pass
    return []


def describe_machine() -> dict:
    """CPU, cores, torch threads and versions, as a JSON-ready dict."""
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags": cpu_flags(),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        "memory_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def code_version() -> dict:
    """The git commit the benchmark ran on, and whether translator/ or training/ had local edits."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "HEAD") or "unknown",
        "library_edited_since_commit": bool(git("status", "--porcelain", "--", "translator", "training")),
    }


def machine_line(machine: dict) -> str:
    """One line naming the hardware, for the top of a printed table."""
    return (
        f"{machine['cpu_model']} ({machine['cpu_capability']}"
        f"{' + AMX' if 'amx_bf16' in machine.get('cpu_flags', []) else ''}), {machine['cores_usable']} cores, "
        f"torch {machine['torch_version']} with {machine['torch_threads']} "
        f"thread{'s' if machine['torch_threads'] != 1 else ''}, "
        f"Python {machine['python']}"
    )


def matmul_gflops(
    rows: int = 320, inner: int = 512, cols: int = 8000, seconds: float = 1.0, trials: int = 5
) -> dict:
    """fp32 GFLOP/s of a (rows x inner) @ (inner x cols) product, repeated.

    The default shape is one decoding step's output projection for 64 sentences x 5 beams with a
    512-wide layer and an 8k vocabulary, so "sentences/s per GFLOP/s" reads as "how much of the
    machine's matmul speed turns into translations". Each trial repeats the product for about
    ``seconds``; the median trial is the machine's figure (the best one is recorded too).
    """
    generator = torch.Generator().manual_seed(0)
    left = torch.randn(rows, inner, generator=generator)
    right = torch.randn(inner, cols, generator=generator)
    out = torch.empty(rows, cols)
    flop = 2.0 * rows * inner * cols
    for _ in range(5):  # warm-up: thread pool start, MKL kernel choice
        torch.mm(left, right, out=out)
    start = time.perf_counter()
    torch.mm(left, right, out=out)
    repeats = max(1, int(seconds / max(time.perf_counter() - start, 1e-6)))
    rates = []
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(left, right, out=out)
        rates.append(flop * repeats / (time.perf_counter() - start) / 1e9)
    return {
        "shape": f"{rows}x{inner} @ {inner}x{cols}",
        "gflop_per_product": flop / 1e9,
        "repeats_per_trial": repeats,
        "trials": trials,
        "gflops_median": statistics.median(rates),
        "gflops_best": max(rates),
        "gflops_trials": rates,
    }


class PeakMemory:
    """Peak resident memory (RSS) of this process over a block of code, in MiB.

    Linux lets a process reset its own high-water mark (``echo 5 > /proc/self/clear_refs``),
    so each measured block gets its own peak. Where that is not possible the figure is the
    process's peak since it started (``getrusage``), and ``per_block`` says so.

    >>> with PeakMemory() as peak:   # doctest: +SKIP
    ...     run()
    >>> peak.mib
    """

    def __init__(self) -> None:
        self.mib = float("nan")
        self.per_block = False

    def __enter__(self) -> "PeakMemory":
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")
            self.per_block = _status_kib("VmHWM") is not None
        except OSError:
            self.per_block = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        peak_kib = _status_kib("VmHWM") if self.per_block else None
        if peak_kib is None:
            peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        self.mib = peak_kib / 1024


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status, or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def print_and_save(table: str, results: dict, json_path: Path | None) -> None:
    """Print a benchmark's table and, when asked, write its results as JSON."""
    import json

    print()
    print(table)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {json_path}")
