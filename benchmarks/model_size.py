"""Model size by measurement: the validation BLEU of two (or more) training runs of different sizes on the same
data, compared at equal CPU time rather than at equal steps.

Each run's validation record is its ``log.jsonl`` (BLEU per named set and the combined score that selects
checkpoints). The cost of a step comes from a ``train_loop_speed.py`` result that timed the same settings in
one sitting (``--code NAME=. --flags NAME=...``; the names must match): runs of one mixture draw the same batches
(the same ``batch_tokens``), so a step's CPU time is proportional to 1 / target tokens per second, and the
``reference`` run's steps are the unit. For each validation step of the reference run, every other run's scores
are interpolated linearly at the step that costs the same CPU time (when it got that far).

Usage::

    python benchmarks/model_size.py --run M=$HOME/runs/general_de_en_m --run S=$HOME/runs/general_de_en_s \\
        --reference M --speed benchmarks/results/train_loop_speed_sizes.json \\
        --json benchmarks/results/model_size_de_en.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import print_and_save  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, metavar="NAME=DIR",
                        help="a training run's output_dir (with log.jsonl), named as in the speed result; repeatable")
    parser.add_argument("--reference", required=True, help="the run whose steps are the unit of CPU time")
    parser.add_argument("--speed", type=Path, required=True, help="a train_loop_speed.py JSON result with every name")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def validations(run: Path) -> list[dict]:
    """The run's validation records in step order (a resumed run's repeated steps: the last one)."""
    records = {}
    for line in (run / "log.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "valid_bleu" in record:
            records[record["step"]] = record
    return [records[step] for step in sorted(records)]


def scores(record: dict) -> dict[str, float]:
    """The combined validation BLEU and each set's BLEU of one record."""
    return {"combined": record["valid_bleu"],
            **{key.split("/", 1)[1]: value for key, value in record.items() if key.startswith("bleu/")}}


def at_step(records: list[dict], step: float) -> dict[str, float] | None:
    """Scores interpolated linearly at ``step`` between the validations around it; None outside the run."""
    for before, after in zip(records, records[1:]):
        if before["step"] <= step <= after["step"]:
            share = (step - before["step"]) / (after["step"] - before["step"])
            low, high = scores(before), scores(after)
            return {name: low[name] + share * (high[name] - low[name]) for name in low}
    if records and records[-1]["step"] == step:
        return scores(records[-1])
    return None


def compare(runs: dict[str, Path], reference: str, speed: dict) -> dict:
    """Every run's scores at each of the reference run's validation steps, converted to equal CPU time."""
    tokens_per_second = speed["median_target_tokens_per_second"]
    missing = sorted(set(runs) - set(tokens_per_second))
    if missing:
        raise SystemExit(f"the speed result has no figure for {', '.join(missing)}")
    # A step of run X costs tokens_per_second[reference] / tokens_per_second[X] reference steps.
    cost = {name: tokens_per_second[reference] / tokens_per_second[name] for name in runs}
    records = {name: validations(path) for name, path in runs.items()}
    rows = []
    for record in records[reference]:
        row = {"reference_step": record["step"], "runs": {}}
        for name in runs:
            step = record["step"] / cost[name]
            row["runs"][name] = {"step": step, "scores": at_step(records[name], step)}
        rows.append(row)
    return {"cost_per_step_in_reference_steps": cost, "target_tokens_per_second": tokens_per_second,
            "validations": {name: [{"step": r["step"], "scores": scores(r)} for r in rs] for name, rs in records.items()},
            "equal_cpu": rows}


def table(result: dict, reference: str) -> str:
    names = list(result["cost_per_step_in_reference_steps"])
    sets = sorted({key for row in result["equal_cpu"] for run in row["runs"].values() if run["scores"]
                   for key in run["scores"]} - {"combined"})
    lines = ["cost of a step, in steps of " + reference + ": "
             + ", ".join(f"{name} {cost:.2f}" for name, cost in result["cost_per_step_in_reference_steps"].items()),
             f"{reference + ' step':>10}  " + "  ".join(f"{name:>6} step {'combined':>8} "
                                                         + " ".join(f"{s[:10]:>10}" for s in sets) for name in names)]
    for row in result["equal_cpu"]:
        cells = []
        for name in names:
            run = row["runs"][name]
            got = run["scores"]
            cells.append(f"{run['step']:>11.0f} " + (f"{got['combined']:>8.2f} " + " ".join(
                f"{got.get(s, float('nan')):>10.2f}" for s in sets) if got else f"{'-':>8} " + " ".join(
                f"{'-':>10}" for _ in sets)))
        lines.append(f"{row['reference_step']:>10}  " + "  ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = {name: Path(path).expanduser() for name, path in (item.split("=", 1) for item in args.run)}
    if args.reference not in runs:
        raise SystemExit(f"--reference {args.reference} is not one of the runs ({', '.join(runs)})")
    speed = json.loads(args.speed.read_text(encoding="utf-8"))
    result = {"benchmark": "model_size", "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
              "speed_result": str(args.speed), "speed_machine": speed.get("machine"),
              "runs": {name: str(path) for name, path in runs.items()}, "reference": args.reference,
              **compare(runs, args.reference, speed)}
    print_and_save(table(result, args.reference), result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
