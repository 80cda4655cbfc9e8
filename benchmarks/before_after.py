"""Run one benchmark script of this folder against two or more checkouts, alternately, in one sitting.

The script is always this folder's copy (one measuring tool); each run is a subprocess whose
PYTHONPATH and working directory are the checkout, so ``translator`` (and, for a server the script
starts, ``service``) come from it. Rounds alternate the checkouts, reversing the order every other
round (A B, B A, ...), so the machine's drift hits all of them alike. Each run writes its own JSON;
this driver collects them, prints a median per checkout of each figure and, where a script records
``outputs_sha256`` (decode_speed.py), says whether every checkout translated identically.

``{code}`` in the script's arguments is replaced by the checkout's path. ``--pause-pid`` stops the given
processes (e.g. training runs) for each whole run, start-up included: on a loaded 2-core machine loading
torch and a model takes minutes otherwise.

Usage::

    git worktree add --detach /tmp/before e49a02c && git worktree add --detach /tmp/after main
    python benchmarks/before_after.py --code before=/tmp/before --code after=/tmp/after --rounds 2 \\
        --pause-pid 1234 --json benchmarks/results/before_after_decode.json -- \\
        decode_speed.py --model "$PWD/models/de-en" --batch-sizes 64 --beams 1 5 --no-naive --rounds 1
    python benchmarks/before_after.py --code before=/tmp/before --code after=/tmp/after --rounds 2 \\
        --pause-pid 1234 --json benchmarks/results/before_after_load.json -- \\
        load_test.py --code {code} --model-dir "$PWD/models/de-en" --clients 64 --duration 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from hardware import describe_machine, machine_line, print_and_save  # noqa: E402

HERE = Path(__file__).resolve().parent
# Figures summarised for a script whose JSON has no "rows" (load_test.py); dotted paths into its JSON.
FLAT_FIGURES = ("throughput_rps", "sentences_per_s", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--code", action="append", required=True, metavar="NAME=PATH",
                        help="a checkout to measure (repeatable, at least two), e.g. before=/tmp/before")
    parser.add_argument("--rounds", type=int, default=2, help="runs per checkout, alternating (default: 2)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process during each run (SIGCONT after); repeatable")
    parser.add_argument("--json", type=Path, help="write every run's JSON and the summary to this file")
    parser.add_argument("script", help="a script of benchmarks/, e.g. decode_speed.py")
    parser.add_argument("script_args", nargs=argparse.REMAINDER,
                        help="its arguments (after --); {code} stands for the checkout's path")
    args = parser.parse_args(argv)
    if len(args.code) < 2 or any("=" not in item for item in args.code):
        parser.error("give at least two --code NAME=PATH")
    if args.script_args[:1] == ["--"]:
        args.script_args = args.script_args[1:]
    return args


def run_once(script: Path, code: Path, script_args: list[str], pause_pids: list[int], out: Path) -> dict:
    """One run of ``script`` against ``code``; the JSON it wrote."""
    command = [sys.executable, str(script), *(a.replace("{code}", str(code)) for a in script_args),
               "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    with pausing.paused(pause_pids):
        result = subprocess.run(command, cwd=code, env=env)
    if result.returncode != 0:
        raise SystemExit(f"before_after: {script.name} on {code} exited with {result.returncode}")
    return json.loads(out.read_text(encoding="utf-8"))


def figures(result: dict) -> dict[str, float]:
    """The figures of one run, by name: a row per (search, batch) for decode_speed.py, else FLAT_FIGURES."""
    if "rows" in result:
        return {f"{row['search']}, batch {row['batch_size']}: sentences/s": row["sentences_per_second"]
                for row in result["rows"]} | {
                f"{row['search']}, batch {row['batch_size']}: sentences/s per GFLOP/s": row["per_gflops"]
                for row in result["rows"]}
    values = {}
    for name in FLAT_FIGURES:
        value = result
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            values[name] = value
    return values


def digests(result: dict) -> dict[str, str]:
    """``outputs_sha256`` of each row, where the script records it."""
    return {f"{row['search']}, batch {row['batch_size']}": row["outputs_sha256"]
            for row in result.get("rows", []) if "outputs_sha256" in row}


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Median of every figure per checkout, the ratio of each checkout to the first, and output identity."""
    names = list(runs)
    medians = {name: {key: statistics.median(figures(r)[key] for r in rows) for key in figures(rows[0])}
               for name, rows in runs.items()}
    first = names[0]
    ratios = {name: {key: value / medians[first][key] for key, value in medians[name].items() if medians[first][key]}
              for name in names[1:]}
    identical = {}
    for key in digests(runs[first][0]):
        seen = {digests(r).get(key) for rows in runs.values() for r in rows}
        identical[key] = len(seen) == 1
    return {"medians": medians, "ratio_to_" + first: ratios, "outputs_identical": identical}


def format_table(summary: dict, names: list[str], rounds: int) -> str:
    ratio_key = "ratio_to_" + names[0]
    lines = [f"medians of {rounds} alternating rounds",
             "| figure | " + " | ".join(names) + " | " + " | ".join(f"{n}/{names[0]}" for n in names[1:]) + " |",
             "|---" * (2 * len(names)) + "|"]
    for key in summary["medians"][names[0]]:
        values = " | ".join(f"{summary['medians'][n][key]:.3g}" for n in names)
        ratios = " | ".join(f"{summary[ratio_key][n].get(key, float('nan')):.3f}" for n in names[1:])
        lines.append(f"| {key} | {values} | {ratios} |")
    for key, same in summary["outputs_identical"].items():
        lines.append(f"translations identical across checkouts, {key}: {'yes' if same else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    codes = {name: Path(path).resolve() for name, path in (item.split("=", 1) for item in args.code)}
    script = HERE / args.script
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory(prefix="before_after-") as scratch:
        for round_number in range(args.rounds):
            order = list(codes) if round_number % 2 == 0 else list(reversed(codes))
            for name in order:
                print(f"== round {round_number + 1}: {name} ({codes[name]})", flush=True)
                out = Path(scratch) / f"{name}-{round_number}.json"
                runs[name].append(run_once(script, codes[name], args.script_args, args.pause_pid, out))
    summary = summarise(runs)
    results = {
        "benchmark": "before_after",
        "script": args.script,
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "checkouts": {name: {"path": str(path), "commit": _commit(path)} for name, path in codes.items()},
        "rounds": args.rounds,
        "paused_pids": args.pause_pid,
        "paused_seconds": pausing.total_paused_seconds,
        **summary,
        "runs": runs,
    }
    print_and_save(format_table(summary, list(codes), args.rounds), results, args.json)
    return 0 if all(summary["outputs_identical"].values()) else 1


def _commit(path: Path) -> str:
    result = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip()


if __name__ == "__main__":
    raise SystemExit(main())
