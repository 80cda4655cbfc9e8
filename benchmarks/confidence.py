"""Confidence (issue 24): AUROC and calibration error on held-out validation data, and what it costs in speed.

For each calibrated model, the held-out part of every set its ``calibration.json`` was fitted with (the same
seeded sample and split as ``translator-calibrate``; never the fitting part) is translated again with the model's
default search and scored: AUROC of confidence for telling acceptable (sentence chrF >= the threshold) from
unacceptable translations, and expected calibration error over 10 equal-width bins, per domain and overall.
Targets: AUROC >= 0.80, ECE <= 0.05.

The overhead is the batch speed (sentences per CPU second of this process, batches of 64) of search with the
confidence trace and features against the search of
``--baseline-ref`` (the code before confidence existed, loaded from git), on the same batches in alternating
repetitions, at the model's default search and at beam 5:

    python benchmarks/confidence.py models/de-en models/en-de --threads 1 --json benchmarks/results/confidence.json
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402
from training.release.calibrate import judge, scores, split_set  # noqa: E402
from training.release.named_sets import NamedSet  # noqa: E402
from translator.translate import Translator  # noqa: E402

AUROC_TARGET, ECE_TARGET = 0.80, 0.05


def held_out_scores(translator: Translator) -> dict[str, dict[str, float]]:
    """Per set and overall scores of the model's calibration on its held-out sentences, measured again."""
    calibration = translator.calibration
    assert calibration is not None
    fitted = calibration.fitted
    judged = []
    for name, files in fitted["sets"].items():
        _, held_pairs = split_set(NamedSet(name, Path(files["src"]), Path(files["ref"])), fitted["max_sentences"],
                                  fitted["fit_share"], fitted["seed"])
        judged += judge(translator, name, held_pairs, fit=False)
    return scores(calibration, judged)


def baseline_search(ref: str):
    """``translator.search.beam.search`` as it was at git ``ref`` (before the confidence trace)."""
    source = subprocess.run(["git", "show", f"{ref}:translator/search/beam.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_beam.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_beam", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_beam"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module.search


def overhead(translator: Translator, sources: list[str], beam_size: int, old_search, repeats: int) -> dict:
    """Sentences per CPU second with and without confidence, same batches, alternating; best of ``repeats``.

    CPU time of this process, not wall time: on a machine shared with other work (training at raised priority)
    the wall time measures the neighbours; with one torch thread the CPU time measures the decoding."""
    options = translator.default_search.updated(beam_size=beam_size)
    module, calibration = sys.modules["translator.translate"], translator.calibration
    new_search = module.search
    times: dict[str, list[float]] = {"without": [], "with": []}
    try:
        for _ in range(repeats):
            for variant in ("without", "with"):
                module.search = old_search if variant == "without" else new_search
                translator.calibration = None if variant == "without" else calibration
                started = time.process_time()
                translator.translate_detailed(sources, options, max_batch_sentences=64)
                times[variant].append(time.process_time() - started)
    finally:
        module.search, translator.calibration = new_search, calibration
    without, with_ = min(times["without"]), min(times["with"])
    return {"beam_size": beam_size, "sentences": len(sources), "sent_per_s_without": round(len(sources) / without, 1),
            "sent_per_s_with": round(len(sources) / with_, 1), "overhead": round(with_ / without - 1, 4),
            "median_overhead": round(statistics.median(times["with"]) / statistics.median(times["without"]) - 1, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="calibrated model directories")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--baseline-ref", default="5be5be1",
                        help="git ref whose search has no confidence trace (default 5be5be1, before it existed)")
    parser.add_argument("--speed-src", type=Path, default=Path("../shared/data/multi30k/val"),
                        help="PREFIX of the sentences timed (PREFIX.<source language>; default Multi30k val)")
    parser.add_argument("--speed-sentences", type=int, default=128, help="sentences timed (default 128)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repetitions of each variant (default 2)")
    parser.add_argument("--skip-speed", action="store_true", help="only AUROC and ECE")
    parser.add_argument("--skip-held-out", action="store_true", help="only the speed overhead")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = describe_machine()
    old_search = None if args.skip_speed else baseline_search(args.baseline_ref)
    results = {"machine": machine, "code": code_version(), "targets": {"auroc": AUROC_TARGET, "ece": ECE_TARGET},
               "models": {}}
    lines = [machine_line(machine), "",
             "| model | held-out set | sentences | acceptable | mean confidence | AUROC | ECE |", "|---|---|---|---|---|---|---|"]
    speed_lines = ["| model | beam | sent/CPU-s without | sent/CPU-s with | overhead (best / median) |", "|---|---|---|---|---|"]
    for directory in args.models:
        translator = Translator.from_pretrained(directory, device="cpu")
        if translator.calibration is None:
            print(f"{directory}: no calibration.json; run translator-calibrate first", file=sys.stderr)
            return 2
        entry: dict = {"acceptable_chrf": translator.calibration.acceptable_chrf,
                       "search": translator.calibration.search,
                       "held_out": {} if args.skip_held_out else held_out_scores(translator)}
        for name, row in entry["held_out"].items():
            lines.append(f"| {directory.name} | {name} | {row['sentences']} | {row['acceptable']:.3f} | "
                         f"{row['mean_confidence']:.3f} | {row['auroc']:.3f} | {row['ece']:.3f} |")
        if not args.skip_speed:
            language = translator.metadata.get("source_language")
            sources = Path(f"{args.speed_src}.{language}").read_text(encoding="utf-8").splitlines()
            sources = sources[:args.speed_sentences]
            entry["speed"] = [overhead(translator, sources, beam, old_search, args.repeats)
                              for beam in sorted({translator.default_search.beam_size, 5})]
            for row in entry["speed"]:
                speed_lines.append(f"| {directory.name} | {row['beam_size']} | {row['sent_per_s_without']} | "
                                   f"{row['sent_per_s_with']} | {100 * row['overhead']:+.1f} % / "
                                   f"{100 * row['median_overhead']:+.1f} % |")
        results["models"][directory.name] = entry
    table = "\n".join(([] if args.skip_held_out else lines) + ([""] + speed_lines if not args.skip_speed else []))
    print_and_save(table, results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
