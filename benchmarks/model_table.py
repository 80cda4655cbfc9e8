"""Every model's speed and scores on its test set, timed in one run: the README's models table.

For each model directory it translates the test set of the model's language pair
(``<data>/test2016.<src>`` into ``.<tgt>``, read from the model's metadata) with greedy search
and with beam 5 at one batch size, and reports sentences/s, sent/s per GFLOP/s of the matmul
measured beside each run, BLEU and chrF (sacreBLEU, cased, 13a), and the number of parameters.
Configurations run ``--rounds`` times, interleaved across models, so a slow spell of this noisy
machine hits them alike; figures are medians.

``--tier FAST=TEACHER`` states that FAST is a cheaper tier of TEACHER (e.g. a distilled
student), and prints FAST's greedy speed as a multiple of TEACHER's beam-5 speed and the BLEU
difference between them, each taken from the same round and then the median over rounds.

A model given as ``DIR@DTYPE`` (``float32``, ``bfloat16`` or ``float16``) is loaded with that
dtype, so one run can time a model both ways (``models/de-en models/de-en@bfloat16``); tiers name
models as given (``--tier models/de-en-fast@bfloat16=models/de-en@bfloat16``).

Usage::

    python benchmarks/model_table.py models/de-en models/de-en-fast \\
        --tier models/de-en-fast=models/de-en --json benchmarks/results/model_table.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import sacrebleu
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_speed import DATA, measure  # noqa: E402
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402

from translator.text.lines import read_lines  # noqa: E402
from translator.translate import DTYPES, Translator  # noqa: E402

SEARCHES = {"greedy": 1, "beam 5": 5}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model directories, each optionally DIR@DTYPE")
    parser.add_argument("--tier", action="append", default=[], metavar="FAST=TEACHER",
                        help="compare FAST's greedy search with TEACHER's beam 5; repeatable")
    add_timing_arguments(parser)
    return parser.parse_args(argv)


def add_timing_arguments(parser: argparse.ArgumentParser) -> None:
    """The test set, batching, rounds, threads, pausing and JSON options of a test-set timing (also
    ``student_shapes.py``'s)."""
    parser.add_argument("--data", type=Path, default=DATA, help=f"folder of test2016.<lang> files (default {DATA})")
    parser.add_argument("--test-name", default="test2016", help="test file stem (default test2016)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N test sentences (0: all)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are medians (default 3)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) while timing; repeatable")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")


def model_spec(spec: str) -> tuple[Path, str]:
    """``DIR`` or ``DIR@DTYPE`` → (directory, dtype; float32 by default)."""
    path, at, dtype = spec.rpartition("@")
    if not at:
        return Path(spec), "float32"
    if dtype not in DTYPES:
        raise SystemExit(f"model_table: {spec!r}: the dtype after @ must be one of {', '.join(sorted(DTYPES))}")
    return Path(path), dtype


def parse_tiers(specs: list[str], models: list[str]) -> list[tuple[str, str]]:
    """``FAST=TEACHER`` pairs, both of them among the measured models."""
    names = {str(model) for model in models}
    tiers = []
    for spec in specs:
        fast, equals, teacher = spec.partition("=")
        if not equals or fast not in names or teacher not in names:
            raise SystemExit(f"model_table: --tier {spec!r}: expected FAST=TEACHER, both among the models given")
        tiers.append((fast, teacher))
    return tiers


def test_set(translator: Translator, data: Path, stem: str, limit: int) -> tuple[list[str], list[str], str]:
    """The model's test sources and references (from its languages), and a label for them."""
    src, tgt = translator.metadata.get("source_language"), translator.metadata.get("target_language")
    if not src or not tgt:
        raise SystemExit("model_table: a model's metadata names no source_language/target_language")
    sources, references = read_lines(data / f"{stem}.{src}"), read_lines(data / f"{stem}.{tgt}")
    if limit:
        sources, references = sources[:limit], references[:limit]
    return sources, references, f"{stem}.{src}-{tgt}"


def run_benchmark(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    tiers = parse_tiers(args.tier, args.models)
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    entries = []
    for spec in args.models:
        path, dtype = model_spec(spec)
        translator = Translator.from_pretrained(path, device="cpu", dtype=dtype)
        sources, references, label = test_set(translator, args.data, args.test_name, args.limit)
        translator.translate(sources[:32], beam_size=5)  # warm-up: allocator, kernels
        parameters = sum(p.numel() for p in translator.model.parameters())
        entries.append({"model": spec, "dtype": dtype, "translator": translator, "sources": sources,
                        "references": references, "test": label, "parameters": parameters,
                        "runs": {search: [] for search in SEARCHES}})

    by_model = {entry["model"]: entry for entry in entries}
    for fast, teacher in tiers:
        if by_model[fast]["test"] != by_model[teacher]["test"]:
            raise SystemExit(f"model_table: --tier {fast}={teacher}: the two models translate different pairs")
    for round_number in range(args.rounds):
        for entry in entries:
            for search, beam in SEARCHES.items():
                def run(entry=entry, beam=beam):
                    return entry["translator"].translate(entry["sources"], beam_size=beam,
                                                         max_batch_sentences=args.batch_size, max_batch_tokens=10**9)
                result = measure(run, args.pause_pid)
                result["rate"] = len(entry["sources"]) / result["seconds"]
                entry["runs"][search].append(result)
                print(f"  round {round_number + 1}: {entry['model']} {search}: {result['rate']:.1f} sentences/s "
                      f"(matmul {result['gflops']:.0f} GFLOP/s)", flush=True)

    rows = [summarise(entry) for entry in entries]
    comparisons = [compare(by_model[fast], by_model[teacher]) for fast, teacher in tiers]
    return {
        "benchmark": "model_table",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "code": code_version(),
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "paused_pids": args.pause_pid,
        "rows": rows,
        "tiers": comparisons,
    }


def summarise(entry: dict) -> dict:
    """One model's row: medians over rounds, scores of the first round's output."""
    row = {"model": entry["model"], "dtype": entry["dtype"], "test": entry["test"], "sentences": len(entry["sources"]),
           "parameters": entry["parameters"],
           "languages": [entry["translator"].metadata.get("source_language"),
                         entry["translator"].metadata.get("target_language")]}
    for search, runs in entry["runs"].items():
        outputs = runs[0]["outputs"]
        row[search] = {
            "sentences_per_second": statistics.median(run["rate"] for run in runs),
            "sentences_per_second_rounds": [run["rate"] for run in runs],
            "per_gflops": statistics.median(run["rate"] / run["gflops"] for run in runs),
            "peak_rss_mib": max(run["peak_rss_mib"] for run in runs),
            "bleu": sacrebleu.corpus_bleu(outputs, [entry["references"]]).score,
            "chrf": sacrebleu.corpus_chrf(outputs, [entry["references"]]).score,
            "outputs_stable_across_rounds": all(run["outputs"] == outputs for run in runs),
        }
    return row


def compare(fast: dict, teacher: dict) -> dict:
    """FAST's greedy search against TEACHER's beam 5, round by round on the same test set."""
    ratios = [f["rate"] / t["rate"] for f, t in zip(fast["runs"]["greedy"], teacher["runs"]["beam 5"])]
    bleu = {name: sacrebleu.corpus_bleu(entry["runs"][search][0]["outputs"], [entry["references"]]).score
            for name, entry, search in (("fast", fast, "greedy"), ("teacher", teacher, "beam 5"))}
    return {"fast": fast["model"], "teacher": teacher["model"], "test": fast["test"],
            "speed_ratio": statistics.median(ratios), "speed_ratio_rounds": ratios,
            "fast_greedy_bleu": bleu["fast"], "teacher_beam5_bleu": bleu["teacher"],
            "bleu_difference": bleu["fast"] - bleu["teacher"]}


def format_table(results: dict) -> str:
    lines = [
        f"Hardware: {machine_line(results['machine'])}",
        f"Batch {results['batch_size']} sentences; medians of {results['rounds']} interleaved rounds; "
        "BLEU/chrF: sacreBLEU, cased, 13a",
        "",
        "| model | test | parameters | greedy sent/s | beam 5 sent/s | greedy BLEU / chrF | beam 5 BLEU / chrF |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        greedy, beam = row["greedy"], row["beam 5"]
        lines.append(f"| `{row['model']}` | {row['test']} | {row['parameters'] / 1e6:.1f} M "
                     f"| {greedy['sentences_per_second']:.1f} | {beam['sentences_per_second']:.1f} "
                     f"| {greedy['bleu']:.2f} / {greedy['chrf']:.2f} | {beam['bleu']:.2f} / {beam['chrf']:.2f} |")
    for tier in results["tiers"]:
        lines.append(f"\n`{tier['fast']}` greedy vs `{tier['teacher']}` beam 5: "
                     f"{tier['speed_ratio']:.2f}x the sentences/s (rounds: "
                     + ", ".join(f"{r:.2f}" for r in tier["speed_ratio_rounds"])
                     + f"), BLEU {tier['fast_greedy_bleu']:.2f} vs {tier['teacher_beam5_bleu']:.2f} "
                     f"({tier['bleu_difference']:+.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_benchmark(args)
    print_and_save(format_table(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
