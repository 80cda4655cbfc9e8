"""Decoding speed of the library on Multi30k test2016, beside a naive baseline and the machine's matmul.

Translates the test set's source side with greedy search and beam 5 at several batch sizes and
reports sentences/s, target pieces/s, peak memory (RSS) and BLEU, so a speed trick that changes
the output shows up. In the same run it measures two references, so claims are ratios taken
side by side on a noisy machine:

* a naive baseline (:mod:`naive_search`): one sentence and one hypothesis at a time;
* the machine's fp32 matmul speed (:func:`hardware.matmul_gflops`), to report sentences/s per
  GFLOP/s, comparable across machines.

Usage::

    python benchmarks/decode_speed.py --model models/de-en --json benchmarks/results/decode_speed.json

This machine's speed drifts by 2x within seconds (shared virtual cores), so every configuration
runs ``--rounds`` times, interleaved with the others, and each run is bracketed by a short matmul
measurement: "sent/s per GFLOP/s" divides each run by the matmul speed measured beside it, and
the table gives medians over rounds. Slow configurations (the naive baseline and batch size 1)
run on an evenly spaced sample of the test set (``--slow-sample``, 100 sentences by default) and
the table says so; the "same as batch 64" column gives how many outputs equal the batch-64 output
of the same search.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import sacrebleu
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import PeakMemory, code_version, describe_machine, machine_line, matmul_gflops, print_and_save  # noqa: E402

import pausing  # noqa: E402
from translator.translate import Translator  # noqa: E402

try:
    from translator.search.options import DEFAULT_SEARCH
    from translator.text.lines import read_lines
except ImportError:  # a checkout before the sub-packages (e.g. e49a02c), timed through before_after.py
    from translator.lines import read_lines
    from translator.options import DEFAULT_SEARCH

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"
REFERENCE_BATCH = 64  # the batch size whose outputs the others are compared with


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/de-en", help="model directory (default: models/de-en)")
    parser.add_argument("--source", type=Path, default=DATA / "test2016.de", help="source sentences, one a line")
    parser.add_argument("--reference", type=Path, default=DATA / "test2016.en", help="reference translations for BLEU")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64, 256],
                        help="max_batch_sentences values to measure (default: 1 16 64 256)")
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5],
                        help="beam sizes to measure; 1 is greedy (default: 1 5)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N test sentences (0: all)")
    parser.add_argument("--slow-sample", type=int, default=100,
                        help="sentences (evenly spaced) for the naive baseline and batch size 1; 0: all")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times each configuration runs, interleaved; figures are medians (default: 3)")
    parser.add_argument("--length-penalty", type=float, default=DEFAULT_SEARCH.length_penalty,
                        help=f"GNMT length penalty alpha (default: {DEFAULT_SEARCH.length_penalty})")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                        help="model weights' dtype (default: float32)")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization of the model")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) while timing; repeatable")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def evenly_spaced(count: int, total: int) -> list[int]:
    """``count`` indices spread over range(total), so a sample has the test set's length mix."""
    if count <= 0 or count >= total:
        return list(range(total))
    return [round(i * total / count) for i in range(count)]


def target_pieces(translator: Translator, outputs: list[str]) -> int:
    """Target pieces generated: the outputs re-tokenized, plus one EOS per sentence."""
    return sum(len(ids) + 1 for ids in translator.target_tokenizer.encode(outputs))


def quick_gflops() -> float:
    """A short matmul measurement (median of 3 x ~0.15 s), taken beside each timed run."""
    return matmul_gflops(seconds=0.15, trials=3)["gflops_median"]


def measure(run, pause_pids: list[int]) -> dict:
    """Time ``run()`` with its peak memory, between two matmul measurements; the raw figures."""
    with pausing.paused(pause_pids):
        before = quick_gflops()
        with PeakMemory() as peak:
            start = time.perf_counter()
            outputs = run()
            seconds = time.perf_counter() - start
        after = quick_gflops()
    return {"seconds": seconds, "gflops": (before + after) / 2, "peak_rss_mib": peak.mib, "outputs": outputs}


def configurations(args: argparse.Namespace) -> list[dict]:
    """Every (search, batch size) to time, naive baseline included, in table order."""
    configs = []
    for beam in args.beams:
        search = "greedy" if beam == 1 else f"beam {beam}"
        for batch_size in args.batch_sizes:
            configs.append({"search": search, "beam_size": beam, "batch_size": batch_size, "kind": "batched"})
        if not args.no_naive:
            configs.append({"search": search, "beam_size": beam, "batch_size": 1, "kind": "naive"})
    return configs


def summarise(config: dict, runs: list[dict], translator: Translator, indices: list[int],
              references: list[str]) -> dict:
    """One table row from a configuration's runs: medians over rounds, BLEU of the first round."""
    outputs = runs[0]["outputs"]
    rates = [len(indices) / run["seconds"] for run in runs]
    per_gflops = [rate / run["gflops"] for rate, run in zip(rates, runs)]
    pieces = target_pieces(translator, outputs)
    return {
        **config,
        "sentences": len(indices),
        "rounds": len(runs),
        "sentences_per_second": statistics.median(rates),
        "sentences_per_second_rounds": rates,
        "target_pieces_per_second": statistics.median(pieces / run["seconds"] for run in runs),
        "gflops_beside": [run["gflops"] for run in runs],
        "per_gflops": statistics.median(per_gflops),
        "peak_rss_mib": max(run["peak_rss_mib"] for run in runs),
        "bleu": sacrebleu.corpus_bleu(outputs, [[references[i] for i in indices]]).score,
        "outputs_stable_across_rounds": all(run["outputs"] == outputs for run in runs),
        # compared across checkouts by before_after.py: equal digests, equal translations
        "outputs_sha256": hashlib.sha256(json.dumps(outputs, ensure_ascii=False).encode()).hexdigest(),
        "outputs": dict(zip(indices, outputs)),
    }


def run_benchmark(args: argparse.Namespace) -> dict:
    """Run every configuration ``args.rounds`` times, interleaved; the JSON-ready results."""
    if args.threads:
        torch.set_num_threads(args.threads)
    sources, references = read_lines(args.source), read_lines(args.reference)  # \n only: stay aligned
    if args.limit:
        sources, references = sources[: args.limit], references[: args.limit]
    everything = list(range(len(sources)))
    sample = evenly_spaced(args.slow_sample, len(sources))
    translator = Translator.from_pretrained(args.model, device="cpu", dtype=args.dtype, quantize=args.quantize)
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    translator.translate(sources[:32], beam_size=max(args.beams))  # warm-up: allocator, kernels

    configs = configurations(args)
    runs: list[list[dict]] = [[] for _ in configs]
    # Rounds interleave the configurations, so a slow spell of the machine hits all of them alike.
    for round_number in range(args.rounds):
        for config, config_runs in zip(configs, runs):
            slow = config["kind"] == "naive" or config["batch_size"] == 1
            texts = [sources[i] for i in (sample if slow else everything)]
            if config["kind"] == "naive":
                from naive_search import naive_translate  # only here: it imports the library's model modules

                def run(texts=texts, beam=config["beam_size"]):
                    return naive_translate(translator, texts, beam, args.length_penalty)
            else:
                def run(texts=texts, beam=config["beam_size"], batch_size=config["batch_size"]):
                    return translator.translate(texts, beam_size=beam, length_penalty=args.length_penalty,
                                                max_batch_sentences=batch_size, max_batch_tokens=10**9)
            config_runs.append(measure(run, args.pause_pid))
            rate = len(texts) / config_runs[-1]["seconds"]
            print(f"  round {round_number + 1}: {config['search']}, "
                  f"{config['kind'] if config['kind'] == 'naive' else 'batch ' + str(config['batch_size'])}: "
                  f"{rate:.1f} sentences/s (matmul {config_runs[-1]['gflops']:.0f} GFLOP/s)", flush=True)

    rows = []
    for config, config_runs in zip(configs, runs):
        slow = config["kind"] == "naive" or config["batch_size"] == 1
        rows.append(summarise(config, config_runs, translator, sample if slow else everything, references))
    for row in rows:
        naive = next((r for r in rows if r["kind"] == "naive" and r["beam_size"] == row["beam_size"]), None)
        reference = next((r for r in rows if r["kind"] == "batched" and r["beam_size"] == row["beam_size"]
                          and r["batch_size"] == REFERENCE_BATCH), None)
        if naive is not None:
            row["times_naive"] = row["sentences_per_second"] / naive["sentences_per_second"]
            row["times_naive_per_gflops"] = row["per_gflops"] / naive["per_gflops"]
        if reference is not None:
            same = [out == reference["outputs"][i] for i, out in row["outputs"].items()]
            row["same_as_batch_64"] = sum(same) / len(same)
    for row in rows:
        del row["outputs"]
    gflops = [run["gflops"] for config_runs in runs for run in config_runs]
    return {
        "benchmark": "decode_speed",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "code": code_version(),
        "model": {"path": str(args.model), "dtype": args.dtype, "quantized": args.quantize,
                  "metadata": translator.metadata.get("training", {})},
        "data": {"source": str(args.source), "sentences": len(sources), "slow_sample": len(sample)},
        "length_penalty": args.length_penalty,
        "rounds": args.rounds,
        "matmul": {
            "shape": "320x512 @ 512x8000", "gflops_median": statistics.median(gflops),
            "gflops_min": min(gflops), "gflops_max": max(gflops), "measurements": len(gflops),
        },
        "paused_pids": args.pause_pid,
        "paused_seconds": pausing.total_paused_seconds,
        "rows": rows,
    }


def format_table(results: dict) -> str:
    """The results as a Markdown table, with the hardware line and matmul figure above it."""
    matmul = results["matmul"]
    lines = [
        f"Hardware: {machine_line(results['machine'])}",
        f"Model: {results['model']['path']} ({results['model']['dtype']}"
        f"{', int8 dynamic quantization' if results['model']['quantized'] else ''}), "
        f"length penalty {results['length_penalty']}; "
        + (f"medians of {results['rounds']} interleaved rounds" if results["rounds"] > 1 else "one round"),
        f"fp32 matmul {matmul['shape']} beside each run: median {matmul['gflops_median']:.0f} GFLOP/s "
        f"(range {matmul['gflops_min']:.0f}-{matmul['gflops_max']:.0f} over {matmul['measurements']} measurements)",
        "",
        "| search | batch | sentences | sent/s | tgt pieces/s | sent/s per GFLOP/s | x naive "
        "| x naive per GFLOP/s | peak RSS MiB | BLEU | same as batch 64 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        batch = "naive" if row["kind"] == "naive" else str(row["batch_size"])
        times = f"{row['times_naive']:.1f}" if "times_naive" in row else "-"
        normalised = f"{row['times_naive_per_gflops']:.1f}" if "times_naive_per_gflops" in row else "-"
        same = f"{100 * row['same_as_batch_64']:.0f}%" if "same_as_batch_64" in row else "-"
        subset = "" if row["sentences"] == results["data"]["sentences"] else " (sample)"
        lines.append(
            f"| {row['search']} | {batch} | {row['sentences']}{subset} | {row['sentences_per_second']:.1f} "
            f"| {row['target_pieces_per_second']:.0f} | {row['per_gflops']:.3f} | {times} | {normalised} "
            f"| {row['peak_rss_mib']:.0f} | {row['bleu']:.2f} | {same} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_benchmark(args)
    print_and_save(format_table(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
