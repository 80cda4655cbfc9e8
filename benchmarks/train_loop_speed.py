"""End-to-end training throughput of ``translator-train`` for two or more checkouts of the code
(e.g. before and after a change) or settings (e.g. two model sizes), run alternately in one sitting
so the machine's drift hits both alike.

The data is Multi30k for a config of one pair of files (the shipped caption configs), and the
config's own corpora for a mixture (``data.corpora``; pass ``--data.cache_dir`` in ``--flags`` to
reuse a prepared cache), validated on the first ``--valid-lines`` pairs of each of its sets.

Each run is ``python -m training`` with the checkout on PYTHONPATH, the shipped config and
``--train.max_steps N``, validating once at step N on the first ``--valid-lines`` validation
pairs (so the validation does not dominate); the figure is the run's own log: target tokens/s
over its N steps (the trainer's ``target_tokens_per_second``; warm-up steps included, the same
for every checkout).

``--flags NAME=FLAGS`` adds training flags to one checkout's runs, so one checkout can be measured
in two settings (e.g. ``--flags fp32="--train.precision fp32 --train.keep_freed_memory false"``).
``--env NAME=VAR=VALUE`` sets an environment variable for one checkout's runs: ``python -m training``
preloads tcmalloc where the system has it (``translator/memory.py``), so the system allocator is
``--env glibc=TRANSLATOR_MALLOC=system``. Each run's CPU seconds (user + system, from the kernel's
accounting of the child) are reported beside its speed: every run does the same work, so they compare
settings even while other processes share the cores.
With ``--valid-lines 0`` the whole validation set is used and its BLEU after the N steps is reported
beside the speed: the check that a faster setting learns as much per step.

Usage::

    git worktree add --detach /tmp/before <commit>
    flock /tmp/cpu-timing.lock python benchmarks/train_loop_speed.py --code before=/tmp/before \\
        --code after=. --json benchmarks/results/train_loop_speed.json --pause-pid 1234
    python benchmarks/train_loop_speed.py --config configs/general_de_en.yaml --steps 60 \\
        --code S=. --flags S="--data.cache_dir $HOME/runs/cache" --code M=. --flags M="--data.cache_dir \\
        $HOME/runs/cache --model.embedding_size 384 --model.encoder_hidden_size 384 --model.decoder_hidden_size 768 \\
        --model.output_size 384" --json benchmarks/results/train_loop_speed_sizes.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", action="append", required=True, metavar="NAME=PATH",
                        help="a checkout to measure (repeatable), e.g. before=/tmp/before")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "multi30k_de_en.yaml",
                        help="training config (default: configs/multi30k_de_en.yaml)")
    parser.add_argument("--steps", type=int, default=100, help="training steps per run (default: 100)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per checkout, alternating (default: 2)")
    parser.add_argument("--threads", type=int, default=0, help="train.threads for every run (0: the config's)")
    parser.add_argument("--flags", action="append", default=[], metavar="NAME=FLAGS",
                        help="extra training flags for the checkout NAME, e.g. fp32='--train.precision fp32'")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VAR=VALUE",
                        help="an environment variable for the checkout NAME's runs (repeatable), e.g. "
                        "jemalloc=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    parser.add_argument("--valid-lines", type=int, default=20,
                        help="validation pairs used (default: 20; 0: all, and report their BLEU)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) during each run; repeatable")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def _valid_sets(config: Path) -> list[dict] | None:
    """The config's named validation sets (``data.valid``), or None for a config of one pair of files."""
    data = yaml.safe_load(config.read_text(encoding="utf-8")).get("data", {})
    return data.get("valid") if data.get("corpora") else None


def write_validation(config: Path, scratch: Path, lines: int) -> None:
    """The first ``lines`` pairs (0: all) of each validation set into ``scratch``: Multi30k's val for a config of
    one pair of files (as always), each of ``data.valid`` for a mixture."""
    sets = _valid_sets(config)
    files = ([(MULTI30K / f"val.{language}", scratch / f"valid.{language}") for language in ("de", "en")]
             if sets is None else
             [(ROOT / one[side], scratch / f"valid.{one['name']}.{side}") for one in sets for side in ("src", "tgt")])
    for source, copy in files:
        kept = source.read_text(encoding="utf-8").splitlines()
        copy.write_text("\n".join(kept[:lines] if lines else kept) + "\n", encoding="utf-8")


def data_flags(config: Path, scratch: Path) -> list[str]:
    """Training flags for the data: Multi30k for a config of one pair of files; a mixture's own corpora, with its
    validation sets cut to the copies of :func:`write_validation`."""
    sets = _valid_sets(config)
    if sets is None:
        return ["--data.train_src", str(MULTI30K / "train.de"), "--data.train_tgt", str(MULTI30K / "train.en"),
                "--data.valid_src", str(scratch / "valid.de"), "--data.valid_tgt", str(scratch / "valid.en")]
    cut = [{**one, "src": str(scratch / f"valid.{one['name']}.src"), "tgt": str(scratch / f"valid.{one['name']}.tgt")}
           for one in sets]
    return ["--data.valid", json.dumps(cut)]


def run_once(code: Path, args: argparse.Namespace, scratch: Path, name: str, extra: list[str],
             variables: dict[str, str] | None = None) -> dict:
    """One training run of ``code``; its logged throughput and loss."""
    run_dir = scratch / name
    flags = ["--config", str(args.config), "--train.output_dir", str(run_dir), *data_flags(args.config, scratch),
             "--train.max_steps", str(args.steps), "--train.validate_every", str(args.steps),
             "--train.keep_snapshots", "0", "--train.attention_plots", "0"]
    if args.threads:
        flags += ["--train.threads", str(args.threads)]
    flags += extra
    env = {**os.environ, "PYTHONPATH": str(code), **(variables or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with pausing.paused(args.pause_pid):
        result = subprocess.run([sys.executable, "-m", "training", *flags], cwd=code, env=env,
                                capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    record = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()][-1]
    return {"target_tokens_per_second": record["target_tokens_per_second"], "train_loss": record["train_loss"],
            "step": record["step"], "valid_bleu": record["valid_bleu"],
            "cpu_seconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "load_average_1min_after": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    codes = dict(item.split("=", 1) for item in args.code)
    extra = {name: shlex.split(flags) for name, flags in (item.split("=", 1) for item in args.flags)}
    variables: dict[str, dict[str, str]] = {}
    for item in args.env:
        name, variable, value = item.split("=", 2)
        variables.setdefault(name, {})[variable] = value
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory(prefix="train_loop_speed-") as directory:
        scratch = Path(directory)
        write_validation(args.config, scratch, args.valid_lines)
        for round_number in range(args.rounds):
            for name, path in codes.items():
                row = run_once(Path(path).resolve(), args, scratch, f"{name}-{round_number}", extra.get(name, []),
                               variables.get(name))
                runs[name].append(row)
                print(f"  {name} round {round_number + 1}: {row['target_tokens_per_second']:.0f} target tokens/s, "
                      f"{row['cpu_seconds']:.0f} CPU s, valid BLEU {row['valid_bleu']:.2f}", flush=True)
    summary = {name: statistics.median(r["target_tokens_per_second"] for r in rows) for name, rows in runs.items()}
    cpu = {name: statistics.median(r["cpu_seconds"] for r in rows) for name, rows in runs.items()}
    table = "\n".join([f"{args.steps} steps of {args.config.name}, median of {args.rounds} runs ({machine_line(machine)})"]
                      + [f"{name:<10} {value:>8.0f} target tokens/s, {cpu[name]:6.0f} CPU s  (runs: "
                         + ", ".join(f"{r['target_tokens_per_second']:.0f}" for r in runs[name]) + ")"
                         + (f"  valid BLEU {statistics.median(r['valid_bleu'] for r in runs[name]):.2f}"
                            if not args.valid_lines else "")
                         for name, value in summary.items()])
    results = {
        "benchmark": "train_loop_speed",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "code": code_version(),
        "checkouts": {name: {"path": path, "flags": extra.get(name, []), "env": variables.get(name, {}),
                             **_commit(Path(path))}
                      for name, path in codes.items()},
        "steps": args.steps,
        "paused_pids": args.pause_pid,
        "paused_seconds": pausing.total_paused_seconds,
        "runs": runs,
        "median_target_tokens_per_second": summary,
        "median_cpu_seconds": cpu,
    }
    print_and_save(table, results, args.json)
    return 0


def _commit(path: Path) -> dict:
    result = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return {"commit": result.stdout.strip()}


if __name__ == "__main__":
    raise SystemExit(main())
