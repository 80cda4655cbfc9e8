"""Where decoding time goes: torch.profiler over greedy and beam search at one batch size.

For each search it writes ``profile_decode_<search>_batch<N>.txt`` with

* wall time without and with the profiler;
* a breakdown by model part: the model's ``encode`` and ``step`` calls and, inside them, the
  embedding, attention, GRU, pre-output and output-projection layers (profiler ranges added by
  hooks at run time; the library is not changed). "search outside model.step" is the beam
  bookkeeping: log-softmax, top-k, gathers, finished-sentence removal, Python;
* the cost of one ``model.step`` call by number of rows (sentences x beams), which separates the
  fixed per-call overhead from the per-row work;
* torch.profiler's operator table (self CPU time).

Usage::

    python benchmarks/profile_decode.py --model models/de-en --output-dir benchmarks/results
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pausing  # noqa: E402
from decode_speed import DATA, evenly_spaced  # noqa: E402
from hardware import code_version, describe_machine, machine_line  # noqa: E402

from translator.text.lines import read_lines  # noqa: E402
from translator.text.tokenizer import BOS_ID, EOS_ID  # noqa: E402
from translator.translate import Translator  # noqa: E402

# Profiler range name -> attribute path of the module it times.
MODULE_RANGES = {
    "encode/encoder": "encoder",
    "encode/key projection": "decoder.attention.key_layer",
    "step/embedding": "decoder.embedding",
    "step/attention": "decoder.attention",
    "step/gru": "decoder.rnn",
    "step/pre-output": "decoder.pre_output",
    "step/output projection": "decoder.output_projection",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/de-en", help="model directory (default: models/de-en)")
    parser.add_argument("--source", type=Path, default=DATA / "test2016.de", help="source sentences, one a line")
    parser.add_argument("--sentences", type=int, default=320,
                        help="evenly spaced test sentences to translate (default: 320; 0: all)")
    parser.add_argument("--batch-size", type=int, default=64, help="max_batch_sentences (default: 64)")
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5], help="beam sizes (default: 1 5)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization of the model")
    parser.add_argument("--plain-step", action="store_true",
                        help="decode with the plain Seq2Seq.step instead of the Translator's InferenceModel "
                             "(its layers then show up one by one in the breakdown)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 16, 64, 320],
                        help="rows for the per-call model.step timing (default: 1 16 64 320)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="SIGSTOP this process (e.g. a training run) while timing; repeatable")
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks/results"),
                        help="where the profile text files go (default: benchmarks/results)")
    return parser.parse_args(argv)


def add_ranges(model: torch.nn.Module, decoding_model) -> None:
    """Wrap the modules of MODULE_RANGES and the decoding model's encode/step in named profiler ranges.

    With the Translator's InferenceModel the step does its own RNN and output products, so only
    the attention module shows up inside ``model.step``.
    """
    for name, path in MODULE_RANGES.items():
        module = functools.reduce(getattr, path.split("."), model)
        module.register_forward_pre_hook(functools.partial(_enter, name))
        module.register_forward_hook(functools.partial(_exit, name))
    for method in ("encode", "step"):
        original = getattr(decoding_model, method)

        @functools.wraps(original)
        def timed(*args, _original=original, _name=f"model.{method}", **kwargs):
            with record_function(_name):
                return _original(*args, **kwargs)

        setattr(decoding_model, method, timed)  # instance attribute: shadows the method for search.py


def _enter(name: str, module: torch.nn.Module, _inputs) -> None:
    module._profile_range = record_function(name)
    module._profile_range.__enter__()


def _exit(name: str, module: torch.nn.Module, _inputs, _output) -> None:
    module._profile_range.__exit__(None, None, None)


@torch.inference_mode()
def step_cost(translator: Translator, rows: int, src_len: int = 16, repeats: int = 50) -> float:
    """Milliseconds of one ``model.step`` call for ``rows`` rows (sentences x beams)."""
    model = translator.decoding_model
    src = torch.full((rows, src_len), 5, dtype=torch.long)
    src[:, -1] = EOS_ID
    memory, state = model.encode(src, torch.full((rows,), src_len))
    prev_ids = torch.full((rows,), BOS_ID, dtype=torch.long)
    for _ in range(5):
        model.step(prev_ids, state, memory)
    start = time.perf_counter()
    for _ in range(repeats):
        model.step(prev_ids, state, memory)
    return (time.perf_counter() - start) / repeats * 1000


def breakdown(events, wall_ms: float) -> list[tuple[str, float, int]]:
    """(range, total ms, calls) for our named ranges, plus the search outside model.step."""
    by_name = {event.key: event for event in events}
    rows = []
    for name in ["model.encode", *[n for n in MODULE_RANGES if n.startswith("encode/")],
                 "model.step", *[n for n in MODULE_RANGES if n.startswith("step/")]]:
        if name in by_name:
            event = by_name[name]
            rows.append((name, event.cpu_time_total / 1000, event.count))
    inside = sum(ms for name, ms, _ in rows if name in ("model.encode", "model.step"))
    rows.append(("search outside model.encode/step", wall_ms - inside, 0))
    return rows


def profile_search(translator: Translator, texts: list[str], beam: int, args: argparse.Namespace) -> str:
    """Profile one search; the text report."""
    options = dict(beam_size=beam, max_batch_sentences=args.batch_size, max_batch_tokens=10**9)
    translator.translate(texts[:args.batch_size], **options)  # warm-up
    with pausing.paused(args.pause_pid):
        start = time.perf_counter()
        translator.translate(texts, **options)
        plain_ms = (time.perf_counter() - start) * 1000
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            start = time.perf_counter()
            translator.translate(texts, **options)
            profiled_ms = (time.perf_counter() - start) * 1000
    events = prof.key_averages()
    search = "greedy" if beam == 1 else f"beam {beam}"
    lines = [
        f"Profile of {search} decoding, batch {args.batch_size}, {len(texts)} test2016 sentences",
        f"Hardware: {machine_line(describe_machine())}",
        f"Model: {args.model} ({args.dtype}{', int8 dynamic quantization' if args.quantize else ''}), "
        f"step: {type(translator.decoding_model).__name__}",
        f"Command: {' '.join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])}",
        f"Code: {code_version()}",
        "",
        f"wall time without profiler: {plain_ms:.0f} ms ({len(texts) / plain_ms * 1000:.1f} sentences/s)",
        f"wall time with profiler:    {profiled_ms:.0f} ms (profiler overhead inflates small ops)",
        "",
        "Breakdown by model part (profiled; nested: encode/* inside model.encode, step/* inside model.step)",
        f"{'part':<40}{'ms':>10}{'% wall':>9}{'calls':>9}{'us/call':>10}",
    ]
    for name, ms, calls in breakdown(events, profiled_ms):
        per_call = f"{ms * 1000 / calls:.0f}" if calls else "-"
        lines.append(f"{name:<40}{ms:>10.0f}{100 * ms / profiled_ms:>8.1f}%{calls or '-':>9}{per_call:>10}")
    lines += ["", "Operators by self CPU time", events.table(sort_by="self_cpu_time_total", row_limit=30)]
    lines += ["Operators by self CPU time and input shape (top 25)",
              prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=25)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sources = read_lines(args.source)
    texts = [sources[i] for i in evenly_spaced(args.sentences, len(sources))]
    translator = Translator.from_pretrained(args.model, device="cpu", dtype=args.dtype, quantize=args.quantize)
    if args.plain_step:
        translator.decoding_model = translator.model
    args.output_dir.mkdir(parents=True, exist_ok=True)

    with pausing.paused(args.pause_pid):
        costs = [(rows, step_cost(translator, rows)) for rows in args.rows]
    cost_lines = ["Cost of one model.step call (source length 16), by rows = sentences x beams",
                  f"{'rows':>6}{'ms/call':>10}{'us/row':>10}"]
    cost_lines += [f"{rows:>6}{ms:>10.2f}{ms * 1000 / rows:>10.1f}" for rows, ms in costs]
    print("\n".join(cost_lines))

    add_ranges(translator.model, translator.decoding_model)
    for beam in args.beams:
        report = profile_search(translator, texts, beam, args)
        report = report.replace("\nBreakdown", "\n" + "\n".join(cost_lines) + "\n\nBreakdown", 1)
        name = "greedy" if beam == 1 else f"beam{beam}"
        path = args.output_dir / f"profile_decode_{name}_batch{args.batch_size}.txt"
        path.write_text(report + "\n", encoding="utf-8")
        print("\n".join(report.splitlines()[:28]))
        print(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
