"""What verifying a checkpoint costs: hashing every file, the full check, and a full load.

    flock /tmp/cpu-timing.lock python benchmarks/checkpoint_load.py models/de-en \
        --json benchmarks/results/checkpoint_load.json --pause-pid PID ...

Times (median of ``--repeats``) ``read_verified`` (read + sha256 of every file), ``verify_checkpoint``
(that, plus parsing config, metadata, weights and tokenizers, shapes and finiteness: what
``translator-serve`` runs before it starts) and ``load_checkpoint`` (that, plus building the model).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, machine_line, print_and_save  # noqa: E402

import pausing  # noqa: E402
from translator.store.checkpoint import load_checkpoint, verify_checkpoint  # noqa: E402
from translator.store.manifest import read_verified  # noqa: E402


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="a checkpoint directory, e.g. models/de-en")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per step (default 7)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--pause-pid", type=int, nargs="*", default=[], help="processes to pause while timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = sum(p.stat().st_size for p in args.model_dir.iterdir())
    load_checkpoint(args.model_dir)  # warm the page cache and imports
    with pausing.paused(args.pause_pid):
        rows = [
            {"step": "read_verified (read + sha256 of every file)",
             "seconds": median_seconds(lambda: read_verified(args.model_dir), args.repeats)},
            {"step": "verify_checkpoint (what translator-serve checks before starting)",
             "seconds": median_seconds(lambda: verify_checkpoint(args.model_dir), args.repeats)},
            {"step": "load_checkpoint (verified load, model built)",
             "seconds": median_seconds(lambda: load_checkpoint(args.model_dir), args.repeats)},
        ]
    machine = describe_machine()
    lines = [f"{machine_line(machine)}; {args.model_dir} ({size / 1e6:.1f} MB), torch threads {args.threads}, "
             f"median of {args.repeats}"]
    lines += [f"  {row['step']:<70} {row['seconds'] * 1000:8.1f} ms" for row in rows]
    results = {"model_dir": str(args.model_dir), "bytes": size, "threads": args.threads, "repeats": args.repeats,
               "machine": machine, "rows": rows}
    print_and_save("\n".join(lines), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
