"""Overheads around the model in greedy search: each removed one, put back, timed in the same run.

- ``torch max``: the step's best piece by torch's ``max(dim=-1)`` instead of ``kernels.fast_max``;
- ``threaded decode``: the hypotheses decoded by sentencepiece's list form, one call (and one
  thread pool) per sentence, instead of ``Tokenizer.decode``'s one sequence at a time.

Times ``kernels.fast_max`` and torch's max alone on (rows, vocab) log-probabilities, then whole greedy
translations of a test set by the current code and by the code with each overhead (and both) put
back, in interleaved rounds, so a slow spell of the machine hits all alike, and checks that the
outputs are identical. Prints a table and writes JSON.

Usage::

    python benchmarks/greedy_overheads.py --model models/en-de-fast --json benchmarks/results/greedy_overheads.json
    python benchmarks/greedy_overheads.py --threads 1 --json benchmarks/results/greedy_overheads_threads1.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402

from translator.search import greedy, kernels  # noqa: E402
from translator.model.inference import OUTPUT_ALIGNMENT  # noqa: E402
from translator.text.lines import read_lines  # noqa: E402
from translator.text.tokenizer import SPECIAL_IDS, Tokenizer  # noqa: E402
from translator.translate import Translator  # noqa: E402


def torch_max(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return values.max(dim=-1)


def threaded_decode(self: Tokenizer, ids: list[list[int]]) -> list[str]:
    return self._sp.decode([[i for i in seq if i not in SPECIAL_IDS] for seq in ids])


OVERHEADS = {"torch max": (greedy, "fast_max", torch_max), "threaded decode": (Tokenizer, "decode", threaded_decode)}
VARIANTS = {"current": (), "torch max": ("torch max",), "threaded decode": ("threaded decode",),
            "both (before)": ("torch max", "threaded decode")}


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
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    translator = Translator.from_pretrained(args.model, device="cpu")
    language = translator.metadata["source_language"]
    source = args.source or f"../shared/data/multi30k/test2016.{language}"
    sentences = read_lines(source)
    # InferenceModel's logits: the vocabulary padded to a multiple of OUTPUT_ALIGNMENT
    width = -(-translator.target_tokenizer.vocab_size // OUTPUT_ALIGNMENT) * OUTPUT_ALIGNMENT
    log_probs = torch.log_softmax(torch.randn(args.batch_size, width, generator=torch.Generator().manual_seed(0)), -1)

    speeds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    outputs: dict[str, list[str]] = {}
    with pausing.paused(args.pause_pid):
        operation = {"kernels.fast_max": per_call_us(kernels.fast_max, log_probs),
                     "torch max": per_call_us(torch_max, log_probs)}
        for _ in range(args.rounds):
            for name, overheads in VARIANTS.items():
                with ExitStack() as stack:
                    for overhead in overheads:
                        stack.enter_context(mock.patch.object(*OVERHEADS[overhead]))
                    start = time.perf_counter()
                    outputs[name] = translator.translate(sentences, beam_size=1, max_batch_sentences=args.batch_size)
                    speeds[name].append(len(sentences) / (time.perf_counter() - start))

    machine = describe_machine()
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    identical = all(output == outputs["current"] for output in outputs.values())
    results = {
        "model": args.model, "source": source, "sentences": len(sentences), "batch_size": args.batch_size,
        "best_piece_us_per_call": {"shape": list(log_probs.shape), **operation},
        "greedy_sentences_per_second": speeds, "median_sentences_per_second": medians,
        "current_speedup_over": {name: medians["current"] / median for name, median in medians.items()},
        "identical_outputs": identical, "machine": machine, "code": code_version(),
    }
    shape = "x".join(map(str, log_probs.shape))
    lines = [machine_line(machine), f"{args.model}, {len(sentences)} sentences of {source}, batch {args.batch_size}, "
             f"{args.rounds} interleaved rounds",
             f"best piece of {shape} log-probabilities: kernels.fast_max {operation['kernels.fast_max']:.1f} us, "
             f"torch max {operation['torch max']:.1f} us",
             f"{'greedy search with':<20}{'sent/s (median)':>17}{'current is':>12}"]
    lines += [f"{name:<20}{medians[name]:>17.1f}{results['current_speedup_over'][name]:>11.3f}x" for name in VARIANTS]
    lines.append(f"identical outputs: {identical}")
    print_and_save("\n".join(lines), results, args.json)
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
