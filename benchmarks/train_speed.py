"""Training throughput: target pieces/s of full training steps for the shipped config.

A step is what ``training.loop.trainer`` does per batch, by calling the trainer's own
``training_step``: build the padded batch, forward with teacher forcing and the label-smoothed loss
(under bf16 autocast when the precision is bf16), backward, gradient clipping and an AdamW update.
The process is set up as the trainer sets up its own (``configure_process``): torch threads and
glibc's freed-memory retention (``train.keep_freed_memory``; the trainer's ``malloc_trim`` every
200 steps does not come up in a run this short). ``--precision`` and ``--keep-freed-memory`` /
``--no-keep-freed-memory`` override the config's ``train.precision`` and ``train.keep_freed_memory``;
the retention is process-wide, so compare the two settings in separate runs. Batches
are real Multi30k training pairs, 128 sentences each (JoeyNMT's ``batch_size: 128``,
``batch_type: sentence``), tokenized with the model directory's sentencepiece models. Two
batchings are measured:

* ``random``: 128 random pairs per batch, as JoeyNMT 2.3 samples them (the comparison row);
* ``bucketed``: 128 pairs of similar length per batch, in shuffled order (less padding).

Each batching is bracketed by a short fp32 matmul measurement (see ``hardware.matmul_gflops``),
since this machine's speed drifts; tokens/s per GFLOP/s compares runs taken at different moments.

Usage::

    python benchmarks/train_speed.py --model models/de-en --json benchmarks/results/train_speed.json
    python benchmarks/train_speed.py --model models/de-en --precision bf16 --batching random
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from hardware import PeakMemory, code_version, describe_machine, machine_line, matmul_gflops, print_and_save  # noqa: E402

from training.config import OptimConfig, TrainConfig, load_config  # noqa: E402
from training.data.batching import make_batch  # noqa: E402
from training.data.clean import clean_pairs, filter_by_length, read_parallel  # noqa: E402
from training.loop.loss import LossModule, make_optimizer  # noqa: E402
from training.loop.trainer import configure_process, training_step  # noqa: E402
from translator.model.seq2seq import Seq2Seq  # noqa: E402
from translator.text.tokenizer import Tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "multi30k_de_en.yaml",
                        help="training config whose model and optimiser are measured")
    parser.add_argument("--model", type=Path, default=Path("models/de-en"),
                        help="model directory whose source.spm/target.spm tokenize the data (default: models/de-en)")
    parser.add_argument("--batch-sentences", type=int, default=128, help="sentences per batch (default: 128)")
    parser.add_argument("--batching", nargs="+", default=["random", "bucketed"], choices=["random", "bucketed"],
                        help="batchings to measure (default: random bucketed)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per batching (default: 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default: 3)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the config's train.threads, else torch's default)")
    parser.add_argument("--precision", choices=["fp32", "bf16"],
                        help="train.precision of the measured steps (default: the config's)")
    parser.add_argument("--keep-freed-memory", action=argparse.BooleanOptionalAction,
                        help="train.keep_freed_memory: keep freed memory in the process, as the trainer does "
                        "(default: the config's)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the batches, initialisation and dropout")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) while timing; repeatable")
    parser.add_argument("--profile", type=Path,
                        help="also run the first batching's timed steps under torch.profiler and write its tables here")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def sentence_batches(src_ids: list[list[int]], tgt_ids: list[list[int]], size: int, batching: str,
                     seed: int) -> list[list[int]]:
    """Index batches of ``size`` pairs: random, or similar lengths together, in shuffled order."""
    rng = random.Random(seed)
    order = list(range(len(src_ids)))
    if batching == "random":
        rng.shuffle(order)
    else:
        order.sort(key=lambda i: (len(tgt_ids[i]), len(src_ids[i]), rng.random()))
    batches = [order[start : start + size] for start in range(0, len(order) - size + 1, size)]
    if batching == "bucketed":
        rng.shuffle(batches)
    return batches


def measured_settings(config: TrainConfig, args: argparse.Namespace) -> OptimConfig:
    """The config's ``train`` section with the command line's threads, precision and memory setting."""
    overrides = {"threads": args.threads or config.train.threads}
    if args.precision is not None:
        overrides["precision"] = args.precision
    if args.keep_freed_memory is not None:
        overrides["keep_freed_memory"] = args.keep_freed_memory
    return config.train.model_copy(update=overrides)


def run_batching(batching: str, args: argparse.Namespace, opt: OptimConfig, src_ids, tgt_ids, model_config,
                 profiler: profile | None = None) -> dict:
    """Train a fresh model for warm-up + timed steps on one batching with the trainer's step and
    ``opt`` (the train section); the timed steps' figures.

    With ``profiler``, the steps (not the model's initialisation) run under it.
    """
    torch.manual_seed(args.seed)
    model = Seq2Seq(model_config).train()
    optimizer = make_optimizer(model, opt.learning_rate, opt.weight_decay)
    loss_module = LossModule(model, opt.label_smoothing)
    device = torch.device("cpu")
    batches = sentence_batches(src_ids, tgt_ids, args.batch_sentences, batching, args.seed)
    batches = batches[: args.warmup + args.steps]
    step_seconds, tokens, sentences, losses = [], 0, 0, []
    with pausing.paused(args.pause_pid), PeakMemory() as peak:
        gflops_before = matmul_gflops(seconds=0.15, trials=3)["gflops_median"]
        with profiler or contextlib.nullcontext():  # the steps only, not the matmul beside them
            for step, indices in enumerate(batches):
                start = time.perf_counter()
                batch = make_batch([src_ids[i] for i in indices], [tgt_ids[i] for i in indices])
                plain = training_step(model, loss_module, optimizer, batch, opt.learning_rate, opt, device)
                elapsed = time.perf_counter() - start
                if step >= args.warmup:
                    step_seconds.append(elapsed)
                    tokens += batch.target_tokens
                    sentences += len(indices)
                    losses.append(float(plain) / batch.target_tokens)
        gflops = (gflops_before + matmul_gflops(seconds=0.15, trials=3)["gflops_median"]) / 2
    total = sum(step_seconds)
    return {
        "batching": batching,
        "precision": opt.precision,
        "steps": len(step_seconds),
        "batch_sentences": args.batch_sentences,
        "target_tokens": tokens,
        "seconds": total,
        "target_tokens_per_second": tokens / total,
        "matmul_gflops_beside": gflops,
        "target_tokens_per_second_per_gflops": tokens / total / gflops,
        "sentences_per_second": sentences / total,
        "median_step_seconds": statistics.median(step_seconds),
        "target_tokens_per_batch": tokens / len(step_seconds),
        "peak_rss_mib": peak.mib,
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }


def run_benchmark(args: argparse.Namespace) -> dict:
    """Load data and tokenizers, measure each batching; JSON-ready results."""
    config = load_config(args.config, {})
    opt = measured_settings(config, args)
    kept = configure_process(opt)  # before any tensor is allocated, as in the trainer
    source_tokenizer = Tokenizer.load(args.model / "source.spm")
    target_tokenizer = Tokenizer.load(args.model / "target.spm")
    data = config.data

    def resolve(path: Path) -> Path:  # config paths are relative to the project root
        return path if path.is_absolute() else ROOT / path

    src, tgt = read_parallel(resolve(data.train_src), resolve(data.train_tgt))
    src, tgt, report = clean_pairs(src, tgt)
    src_ids, tgt_ids = filter_by_length(source_tokenizer.encode(src), target_tokenizer.encode(tgt),
                                        data.max_length, data.max_length_ratio, report)
    model_config = config.model.model_copy(update={
        "src_vocab_size": source_tokenizer.vocab_size, "tgt_vocab_size": target_tokenizer.vocab_size,
    })
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    print(f"precision {opt.precision}, keep_freed_memory {opt.keep_freed_memory}"
          f"{'' if kept == opt.keep_freed_memory else ' (not in effect: not glibc malloc, or tcmalloc preloaded)'}", flush=True)
    rows = []
    for batching in args.batching:
        row = run_batching(batching, args, opt, src_ids, tgt_ids, model_config)
        rows.append(row)
        print(f"  {batching} ({opt.precision}): {row['target_tokens_per_second']:.0f} target tokens/s", flush=True)
    if args.profile:
        prof = profile(activities=[ProfilerActivity.CPU], record_shapes=True)
        profiled = run_batching(args.batching[0], args, opt, src_ids, tgt_ids, model_config, prof)
        write_profile(prof, profiled, machine, args)
    return {
        "benchmark": "train_speed",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "code": code_version(),
        "config": str(args.config),
        "precision": opt.precision,
        "keep_freed_memory": opt.keep_freed_memory,
        "keep_freed_memory_in_effect": kept,
        "torch_threads": torch.get_num_threads(),
        "model": model_config.model_dump(),
        "parameters": sum(p.numel() for p in Seq2Seq(model_config).parameters()),
        "data": report.summary(),
        "paused_pids": args.pause_pid,
        "paused_seconds": pausing.total_paused_seconds,
        "rows": rows,
    }


def write_profile(prof, row: dict, machine: dict, args: argparse.Namespace) -> None:
    """torch.profiler's operator tables for the profiled steps (warm-up steps included)."""
    lines = [
        f"Profile of {args.warmup} warm-up + {row['steps']} {row['precision']} training steps, {row['batching']} batches of "
        f"{row['batch_sentences']} sentences ({row['target_tokens_per_second']:.0f} target tokens/s under the profiler)",
        f"Hardware: {machine_line(machine)}",
        f"Code: {code_version()}",
        f"Command: {' '.join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])}",
        "",
        "Operators by self CPU time (forward and backward ops; autograd's backward nodes appear as *Backward*)",
        prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=35),
        "Operators by self CPU time and input shape (top 25)",
        prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=25),
    ]
    args.profile.parent.mkdir(parents=True, exist_ok=True)
    args.profile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.profile}")


def format_table(results: dict) -> str:
    """The results as a Markdown table under the hardware line."""
    lines = [
        f"Hardware: {machine_line(results['machine'])}",
        f"Config: {results['config']} ({results['parameters']:,} parameters); forward + backward + "
        "clip + AdamW per step",
        f"Precision: {results['precision']}; keep_freed_memory: {results['keep_freed_memory']}",
        "",
        "| batching | sentences/batch | steps | target tokens/batch | target tokens/s | sentences/s "
        "| median step s | matmul GFLOP/s beside | tokens/s per GFLOP/s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['batching']} | {row['batch_sentences']} | {row['steps']} | {row['target_tokens_per_batch']:.0f} "
            f"| {row['target_tokens_per_second']:.0f} | {row['sentences_per_second']:.1f} "
            f"| {row['median_step_seconds']:.2f} | {row['matmul_gflops_beside']:.0f} "
            f"| {row['target_tokens_per_second_per_gflops']:.2f} | {row['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run_benchmark(args)
    print_and_save(format_table(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
