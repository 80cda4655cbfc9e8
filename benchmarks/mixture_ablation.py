"""Mixture ablations: short training runs that each change the weights of some corpora of a mixture config, scored
per validation set against a base run of the unchanged mixture at the same steps.

Each variant is a run of ``python -m training`` on a copy of the config whose weights are changed (``NAME=W``;
``W`` 0 leaves the corpus out; ``NAME`` may be a shell pattern such as ``news*``), with the base run's vocabulary
(``tokenizer.from_dir``, so the caches are shared and the vocabulary is no confound), the same seed and schedule,
stopped after ``--steps`` updates. A variant whose run directory exists is continued with ``--resume`` (or only
reported, when it got that far), so an ablation survives the end of a session. The table gives each variant's BLEU
per validation set and the combined score at every validation step, and the difference from the base run.

With ``--init-from CHECKPOINT`` the variants are continuations instead: each starts from that checkpoint of the
base run (``train.init_from``: weights only, a fresh optimizer and warm-up) and trains to ``--steps`` (the run's
step count goes on from the checkpoint's), beside a ``control`` continuation with the mixture unchanged, and the
differences are taken from the control. This asks what a corpus adds to a model that has already learnt the rest,
for a fraction of the CPU of runs from scratch, which at a few thousand steps mostly measure how fast a run starts.
``--set KEY=VALUE`` passes further settings (``train.validate_every=250``) to every run.

Usage::

    python benchmarks/mixture_ablation.py --config configs/general_de_en.yaml --base $HOME/runs/general_de_en_s \\
        --runs $HOME/runs/ablations_de_en --steps 2000 --cache-dir $HOME/runs/cache \\
        --variant "no-lexicon: lexicon=0 lexicon-examples=0" --variant "no-ui: software-ui=0" \\
        --json benchmarks/results/mixture_ablation_de_en.json
    python benchmarks/mixture_ablation.py --config configs/general_de_en_m.yaml --base $HOME/runs/general_de_en_m \
        --init-from $HOME/runs/de_en_m_step4800 --steps 5400 --set train.validate_every=300 \
        --runs $HOME/runs/ablations_de_en_m --cache-dir $HOME/runs/cache --variant "no-lexicon: lexicon=0" \
        --json benchmarks/results/mixture_ablation_de_en_m.json
"""

from __future__ import annotations

import argparse
import fnmatch
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import code_version, describe_machine, print_and_save  # noqa: E402
from model_size import scores, validations  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONTROL = "control"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="the mixture config of the base run")
    parser.add_argument("--base", type=Path, required=True, help="the base run's output_dir (its log and vocabulary)")
    parser.add_argument("--runs", type=Path, required=True, help="directory for the variants' runs")
    parser.add_argument("--variant", action="append", default=[], metavar="'NAME: CORPUS=W ...'",
                        help="a variant: a name, a colon, and weight changes (repeatable)")
    parser.add_argument("--steps", type=int, default=2000,
                        help="updates per variant (default 2000); with --init-from, the step to reach")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                        help="continue each variant, and a control, from this checkpoint of the base run")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a further setting for every run, e.g. train.validate_every=250 (repeatable)")
    parser.add_argument("--cache-dir", type=Path, help="data.cache_dir for the variants (default: the config's)")
    parser.add_argument("--report-only", action="store_true", help="train nothing; report the runs as they are")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def parse_variant(text: str) -> tuple[str, dict[str, float]]:
    """``"no-ui: software-ui=0 news*=1"`` -> ``("no-ui", {"software-ui": 0.0, "news*": 1.0})``."""
    name, _, changes = text.partition(":")
    if not name.strip() or not changes.strip():
        raise SystemExit(f"--variant {text!r}: write it as 'NAME: CORPUS=WEIGHT ...'")
    weights = {}
    for change in changes.split():
        corpus, _, weight = change.partition("=")
        try:
            weights[corpus] = float(weight)
        except ValueError:
            raise SystemExit(f"--variant {text!r}: {change!r} is not CORPUS=WEIGHT") from None
    return name.strip(), weights


def changed_config(raw: dict, weights: dict[str, float]) -> dict:
    """The config with the corpora's weights changed (0: left out); every pattern must name a corpus."""
    corpora = raw["data"]["corpora"]
    for pattern in weights:
        if not any(fnmatch.fnmatchcase(corpus["name"], pattern) for corpus in corpora):
            raise SystemExit(f"no corpus of the config is called {pattern!r}: "
                             f"{', '.join(corpus['name'] for corpus in corpora)}")
    kept = []
    for corpus in corpora:
        weight = next((w for pattern, w in weights.items() if fnmatch.fnmatchcase(corpus["name"], pattern)),
                      corpus.get("weight", 1.0))
        if weight > 0:
            kept.append({**corpus, "weight": weight})
    return {**raw, "data": {**raw["data"], "corpora": kept}}


def run_variant(raw: dict, weights: dict[str, float], run_dir: Path, args: argparse.Namespace) -> None:
    """Train (or continue) one variant up to ``--steps`` updates."""
    done = [r for r in validations(run_dir) if r["step"] >= args.steps] if (run_dir / "log.jsonl").exists() else []
    if done or args.report_only:
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir.parent / f"{run_dir.name}.yaml"
    config.write_text(yaml.safe_dump(changed_config(raw, weights), sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "training", "--config", str(config), "--train.output_dir", str(run_dir),
               "--train.max_steps", str(args.steps), "--tokenizer.from_dir", str(args.base)]
    if args.init_from:
        command += ["--train.init_from", str(args.init_from)]
    for setting in args.settings:
        key, _, value = setting.partition("=")
        command += [f"--{key}", value]
    if args.cache_dir:
        command += ["--data.cache_dir", str(args.cache_dir)]
    if (run_dir / "last").exists():
        command.append("--resume")
    print(" ".join(command), flush=True)
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise SystemExit(f"the run of {run_dir.name} failed")


def report(base: Path, variants: dict[str, Path], steps: int) -> dict:
    """Each run's scores at the base run's validation steps up to ``steps``, and each variant's difference (from the
    ``control`` continuation when there is one, else from the base run)."""
    reference = variants.get(CONTROL, base)
    base_records = {r["step"]: scores(r) for r in validations(reference) if r["step"] <= steps} \
        if (reference / "log.jsonl").exists() else {}
    rows = {"control" if CONTROL in variants else "base": base_records}
    for name, run_dir in variants.items():
        if name == CONTROL:
            continue
        records = validations(run_dir) if (run_dir / "log.jsonl").exists() else []
        rows[name] = {r["step"]: scores(r) for r in records if r["step"] in base_records}
    differences = {name: {step: {key: got[key] - base_records[step][key] for key in got}
                          for step, got in by_step.items()} for name, by_step in rows.items() if by_step is not base_records}
    return {"scores": rows, "differences_from_base": differences}


def table(result: dict) -> str:
    sets = sorted({key for by_step in result["scores"].values() for got in by_step.values() for key in got}
                  - {"combined"})
    lines = [f"{'run':<16} {'step':>5} {'combined':>12} " + " ".join(f"{name[:12]:>12}" for name in sets)]
    for name, by_step in result["scores"].items():
        for step, got in sorted(by_step.items()):
            change = result["differences_from_base"].get(name, {}).get(step)
            cell = (lambda key: f"{got[key]:6.2f}" + (f" {change[key]:+5.2f}" if change else "      "))
            lines.append(f"{name:<16} {step:>5} {cell('combined'):>12} " + " ".join(f"{cell(s):>12}" for s in sets))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raw = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    if not raw.get("data", {}).get("corpora"):
        raise SystemExit(f"{args.config} is not a mixture config (no data.corpora)")
    variants = dict(parse_variant(text) for text in args.variant)
    if CONTROL in variants:
        raise SystemExit(f"--variant: the name {CONTROL!r} is the unchanged continuation's")
    if args.init_from:
        variants = {CONTROL: {}, **variants}
    for name, weights in variants.items():
        changed_config(raw, weights)  # every pattern names a corpus, before hours of training
    directories = {name: args.runs / name for name in variants}
    for name, weights in variants.items():
        run_variant(raw, weights, directories[name], args)
    result = {"benchmark": "mixture_ablation", "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
              "machine": describe_machine(), "code": code_version(), "config": str(args.config),
              "base": str(args.base), "init_from": None if args.init_from is None else str(args.init_from),
              "steps": args.steps, "variants": variants,
              **report(args.base, directories, args.steps)}
    print_and_save(table(result), result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
