"""Greedy search's per-step best piece: torch's ``max(dim=-1)`` against ``search._max``.

Times the operation alone on (rows, vocab) log-probabilities, then whole greedy translations of a
test set with either, in interleaved rounds (the same run, so a slow spell of the machine hits
both), and checks that the outputs are identical. Prints a table and writes JSON.

Usage::

    python benchmarks/greedy_max.py --model models/en-de-fast --json benchmarks/results/greedy_max.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402

from translator import search  # noqa: E402
from translator.inference import OUTPUT_ALIGNMENT  # noqa: E402
from translator.lines import read_lines  # noqa: E402
from translator.translate import Translator  # noqa: E402

VARIANTS = {"torch max": lambda values: values.max(dim=-1), "search._max": search._max}


def per_call_us(function, values: torch.Tensor, calls: int = 300) -> float:
    for _ in range(20):
        function(values)
    start = time.perf_counter()
    for _ in range(calls):
        function(values)
    return (time.perf_counter() - start) / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/en-de-fast")
    parser.add_argument("--source", help="sentences to translate (default: test2016 of the model's source language)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--pause-pid", type=int, action="append", default=[], help="SIGSTOP this process while timing")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    translator = Translator.from_pretrained(args.model, device="cpu")
    language = translator.metadata["source_language"]
    source = args.source or f"../shared/data/multi30k/test2016.{language}"
    sentences = read_lines(source)
    # InferenceModel's logits: the vocabulary padded to a multiple of OUTPUT_ALIGNMENT
    width = -(-translator.target_tokenizer.vocab_size // OUTPUT_ALIGNMENT) * OUTPUT_ALIGNMENT
    log_probs = torch.log_softmax(torch.randn(args.batch_size, width, generator=torch.Generator().manual_seed(0)), -1)

    operation: dict[str, float] = {}
    speeds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    outputs: dict[str, list[str]] = {}
    original = search._max
    try:
        with pausing.paused(args.pause_pid):
            for name, function in VARIANTS.items():
                operation[name] = per_call_us(function, log_probs)
            for _ in range(args.rounds):
                for name, function in VARIANTS.items():
                    search._max = function
                    start = time.perf_counter()
                    outputs[name] = translator.translate(sentences, beam_size=1, max_batch_sentences=args.batch_size)
                    speeds[name].append(len(sentences) / (time.perf_counter() - start))
    finally:
        search._max = original

    machine = describe_machine()
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    baseline, candidate = VARIANTS
    results = {
        "model": args.model, "source": source, "sentences": len(sentences), "batch_size": args.batch_size,
        "log_probs_shape": list(log_probs.shape), "operation_us_per_call": operation,
        "greedy_sentences_per_second": speeds, "median_sentences_per_second": medians,
        "speedup": medians[candidate] / medians[baseline],
        "identical_outputs": outputs[baseline] == outputs[candidate],
        "machine": machine, "code": code_version(),
    }
    lines = [machine_line(machine), f"{args.model}, {len(sentences)} sentences of {source}, batch {args.batch_size}",
             f"{'variant':<14}{'us/call ' + 'x'.join(map(str, log_probs.shape)):>22}{'greedy sent/s (median)':>26}"]
    lines += [f"{name:<14}{operation[name]:>22.1f}{medians[name]:>26.1f}" for name in VARIANTS]
    lines.append(f"speed-up {results['speedup']:.3f}x over {args.rounds} rounds; "
                 f"identical outputs: {results['identical_outputs']}")
    print_and_save("\n".join(lines), results, args.json)
    return 0 if results["identical_outputs"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
