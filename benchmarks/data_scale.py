"""Training on a corpus of millions of pairs: memory, preparation speed, time to the first step,
and the same for ``--resume``.

Synthesizes ``--pairs`` line pairs from the Multi30k training files in a scratch directory
(outside the repository): the first copy is Multi30k itself, every further copy perturbs each
sentence (one word dropped, two neighbours swapped, per side, seeded), so sentencepiece and the
workers see mostly new sentences rather than one corpus repeated. Then it runs, as a user would::

    python -m training --config configs/multi30k_de_en.yaml --data.train_src <big>.de ...
        --train.max_steps 3          # prepare + 3 steps + the validation at the last step
    python -m training ... --resume --train.max_steps 6   # 3 more steps + a validation

and reports for each run: wall time, time from launch to the end of the first step, preparation
time and pairs/s (from the run's prepare.json), the training process's peak RSS (its VmHWM,
sampled every 0.2 s) and the peak of the summed RSS of it and its preparation workers.

Usage::

    flock /tmp/cpu-timing.lock python benchmarks/data_scale.py --pairs 5000000 \\
        --json benchmarks/results/data_scale_5M.json --pause-pid 1234 --pause-pid 1235
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, required=True, help="line pairs to synthesize, e.g. 5000000")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "multi30k_de_en.yaml",
                        help="training config (default: configs/multi30k_de_en.yaml)")
    parser.add_argument("--source", type=Path, default=MULTI30K / "train.de", help="source lines to synthesize from")
    parser.add_argument("--target", type=Path, default=MULTI30K / "train.en", help="target lines to synthesize from")
    parser.add_argument("--workdir", type=Path,
                        help="scratch directory for the corpus and runs (default: a new one under /tmp; deleted after)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch directory; a later run with the same --workdir reuses its corpus")
    parser.add_argument("--synthesize-only", action="store_true",
                        help="only write the corpus into --workdir (e.g. before taking the timing lock)")
    parser.add_argument("--steps", type=int, default=3, help="steps per run (default: 3)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) during the two timed runs; repeatable")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def synthesize(source: Path, target: Path, pairs: int, directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ``pairs`` line pairs: the originals, then perturbed copies of them (kept files are reused)."""
    src_path, tgt_path = directory / f"train.{pairs}{source.suffix}", directory / f"train.{pairs}{target.suffix}"
    done = directory / f"train.{pairs}.complete"
    if done.exists():
        return src_path, tgt_path
    src_lines = source.read_text(encoding="utf-8").splitlines()
    tgt_lines = target.read_text(encoding="utf-8").splitlines()
    rng = random.Random(seed)
    with open(src_path, "w", encoding="utf-8") as src_file, open(tgt_path, "w", encoding="utf-8") as tgt_file:
        written, copy = 0, 0
        while written < pairs:
            count = min(len(src_lines), pairs - written)
            if copy == 0:
                src_block, tgt_block = src_lines[:count], tgt_lines[:count]
            else:
                src_block = [_perturb(line, rng) for line in src_lines[:count]]
                tgt_block = [_perturb(line, rng) for line in tgt_lines[:count]]
            src_file.write("\n".join(src_block) + "\n")
            tgt_file.write("\n".join(tgt_block) + "\n")
            written += count
            copy += 1
    done.touch()
    return src_path, tgt_path


def _perturb(line: str, rng: random.Random) -> str:
    words = line.split()
    if len(words) > 3:
        del words[rng.randrange(len(words))]
        position = rng.randrange(len(words) - 1)
        words[position], words[position + 1] = words[position + 1], words[position]
    return " ".join(words)


class TreeMemory(threading.Thread):
    """Samples a process and its descendants: each one's peak RSS (VmHWM) and the summed RSS."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.main_peak_kib, self.tree_peak_kib, self.processes_seen = 0, 0, set()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            pids = _descendants(self.pid)
            total = 0
            for pid in pids:
                status = _status(pid)
                total += status.get("VmRSS", 0)
                if pid == self.pid:
                    self.main_peak_kib = max(self.main_peak_kib, status.get("VmHWM", 0))
            self.processes_seen.update(pids)
            self.tree_peak_kib = max(self.tree_peak_kib, total)
            time.sleep(self.interval)


def _children_cpu_seconds() -> float:
    """User + system CPU time of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _descendants(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                found = [int(child) for child in children.read_text().split()]
            except OSError:
                continue
            pids.extend(found)
            frontier.extend(found)
    return pids


def _status(pid: int) -> dict[str, int]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            return {line.split(":")[0]: int(line.split()[1]) for line in handle
                    if line.startswith(("VmRSS:", "VmHWM:"))}
    except OSError:
        return {}


def run_training(flags: list[str], run_dir: Path, pause_pids: list[int]) -> dict:
    """One ``python -m training`` run, timed and memory-sampled; its figures."""
    with pausing.paused(pause_pids):
        load_before = os.getloadavg()[0]
        cpu_before = _children_cpu_seconds()
        launched = time.time()
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "training", *flags], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        memory = TreeMemory(process.pid)
        memory.start()
        output, _ = process.communicate()
        seconds = time.perf_counter() - start
        memory.stopped.set()
        memory.join()
        cpu_seconds = _children_cpu_seconds() - cpu_before
        load_after = os.getloadavg()[0]
    if process.returncode != 0:
        raise SystemExit(f"training failed ({process.returncode}):\n{output[-4000:]}")
    prepared = json.loads((run_dir / "prepare.json").read_text())
    record = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()][-1]
    preparation = prepared["total_seconds"]
    return {
        "seconds": seconds,
        "seconds_to_first_step": record["first_step_time"] - launched,
        "preparation_seconds": preparation,
        "cache_reused": prepared["reused"],
        "tokenizer_seconds": prepared.get("tokenizer_seconds"),
        "cache_build_seconds": prepared["build_seconds"],
        "prepared_pairs_per_second": prepared["pairs_in_files"] / preparation,
        "pairs_in_files": prepared["pairs_in_files"],
        "pairs_kept": prepared["pairs_kept"],
        "peak_rss_mib": memory.main_peak_kib / 1024,
        "peak_rss_process_tree_mib": memory.tree_peak_kib / 1024,
        "processes": len(memory.processes_seen),
        "last_step": record["step"],
        "cpu_seconds": cpu_seconds,
        "load_average_1min_before_after": [load_before, load_after],
        "output_tail": output[-600:],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="data_scale-", dir="/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.synthesize_only
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    try:
        started = time.perf_counter()
        src, tgt = synthesize(args.source, args.target, args.pairs, workdir)
        print(f"synthesized {args.pairs:,} pairs in {time.perf_counter() - started:.0f} s "
              f"({(src.stat().st_size + tgt.stat().st_size) / 2**20:.0f} MiB) in {workdir}", flush=True)
        if args.synthesize_only:
            return 0
        run_dir = workdir / "run"
        shutil.rmtree(run_dir, ignore_errors=True)
        flags = ["--config", str(args.config), "--data.train_src", str(src), "--data.train_tgt", str(tgt),
                 "--train.output_dir", str(run_dir), "--train.validate_every", "1000000"]
        first = run_training(flags + ["--train.max_steps", str(args.steps)], run_dir, args.pause_pid)
        print(f"first run: {first['seconds']:.1f} s", flush=True)
        resumed = run_training(flags + ["--resume", "--train.max_steps", str(2 * args.steps)], run_dir,
                               args.pause_pid)
        print(f"resumed run: {resumed['seconds']:.1f} s", flush=True)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = [("first run", first), ("--resume", resumed)]
    table = "\n".join(
        [f"{args.pairs:,} pairs, {args.steps} steps + a validation per run ({machine_line(machine)})",
         f"{'run':<10} {'wall s':>7} {'to 1st step s':>13} {'prepare s':>9} {'pairs/s':>9} "
         f"{'peak RSS MiB':>12} {'+workers MiB':>12}"]
        + [f"{name:<10} {row['seconds']:>7.1f} {row['seconds_to_first_step']:>13.1f} "
           f"{row['preparation_seconds']:>9.1f} {row['prepared_pairs_per_second']:>9.0f} "
           f"{row['peak_rss_mib']:>12.0f} {row['peak_rss_process_tree_mib']:>12.0f}  "
           f"(CPU {row['cpu_seconds']:.0f} s, load {row['load_average_1min_before_after'][0]:.1f})"
           for name, row in rows])
    results = {
        "benchmark": "data_scale",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "code": code_version(),
        "pairs": args.pairs,
        "config": str(args.config),
        "paused_pids": args.pause_pid,
        "paused_seconds": pausing.total_paused_seconds,
        "first_run": first,
        "resume": resumed,
    }
    print_and_save(table, results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
