"""How fast would a student of another shape translate? Timed before training it, in one run.

A distilled student must translate greedily at some multiple of its teacher's beam-5 speed, and hours of
training are lost when a shape turns out too slow. This times, in interleaved rounds:

- the teacher's beam 5 and a trained reference model's greedy search (``Translator.translate`` on the test
  set, as ``model_table.py`` does);
- greedy search of untrained models of the reference's shape and of each ``--shape``, with every output
  forced to its source's length (``max_output_ratio`` 1.0: an untrained model does not stop by itself).

A shape's estimated speed is the trained reference's rate times the shape's forced rate over the reference
shape's forced rate, and its estimated tier multiple that over the teacher's beam 5. ``--shape`` may also
give the teacher's own shape, whose estimate can be checked against the teacher's greedy speed, measured too.

Usage::

    python benchmarks/student_shapes.py --teacher models/de-en --reference runs/de_en_fast/best \\
        --shape wide=embedding_size=256,output_size=256,decoder_hidden_size=512 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_speed import measure  # noqa: E402
from hardware import code_version, describe_machine, machine_line, print_and_save  # noqa: E402
from model_table import add_timing_arguments  # noqa: E402

from translator.model.config import ModelConfig  # noqa: E402
from translator.model.inference import InferenceModel  # noqa: E402
from translator.model.seq2seq import Seq2Seq  # noqa: E402
from translator.search.greedy import greedy_search  # noqa: E402
from translator.search.options import SearchOptions  # noqa: E402
from translator.text.lines import read_lines  # noqa: E402
from translator.text.tokenizer import EOS_ID, PAD_ID  # noqa: E402
from translator.translate import Translator  # noqa: E402

FORCED = SearchOptions(beam_size=1, max_output_ratio=1.0)


def parse_shape(spec: str, base: ModelConfig) -> tuple[str, ModelConfig]:
    """``NAME=field=value,field=value``: the reference's config with those fields changed."""
    name, _, fields = spec.partition("=")
    changes = {}
    for item in filter(None, fields.split(",")):
        field, equals, value = item.partition("=")
        if not equals or field not in ModelConfig.model_fields:
            raise SystemExit(f"student_shapes: --shape {spec!r}: expected NAME=field=value,... with ModelConfig fields")
        changes[field] = type(getattr(base, field))(value) if not isinstance(getattr(base, field), bool) \
            else value.lower() in ("1", "true", "yes")
    if not name:
        raise SystemExit(f"student_shapes: --shape {spec!r} has no name")
    return name, ModelConfig(**{**base.model_dump(), **changes})


def id_batches(translator: Translator, sources: list[str], batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The sources as padded id batches, shortest first, as the translator would batch them."""
    ids = [pieces + [EOS_ID] for pieces in translator.source_tokenizer.encode(sources)]
    ids.sort(key=len)
    batches = []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        longest = max(map(len, chunk))
        batches.append((torch.tensor([row + [PAD_ID] * (longest - len(row)) for row in chunk]),
                        torch.tensor([len(row) for row in chunk])))
    return batches


def run_benchmark(args: argparse.Namespace) -> dict:
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    machine = describe_machine()
    print(machine_line(machine), flush=True)
    teacher = Translator.from_pretrained(args.teacher, device="cpu")
    reference = Translator.from_pretrained(args.reference, device="cpu")
    src = reference.metadata.get("source_language")
    sources = read_lines(args.data / f"{args.test_name}.{src}")[:args.limit or None]
    batches = id_batches(reference, sources, args.batch_size)
    base = reference.model.config
    shapes = dict([("reference shape", base)] + [parse_shape(spec, base) for spec in args.shape])
    untrained = {name: InferenceModel(Seq2Seq(config).eval()) for name, config in shapes.items()}

    def translate(translator: Translator, beam: int):
        return lambda: translator.translate(sources, beam_size=beam, max_batch_sentences=args.batch_size,
                                            max_batch_tokens=10**9)

    def forced(model: InferenceModel):
        return lambda: [greedy_search(model, ids, lengths, FORCED) for ids, lengths in batches]

    runs = {"teacher beam 5": translate(teacher, 5), "teacher greedy": translate(teacher, 1),
            "reference greedy": translate(reference, 1)}
    runs.update({name: forced(model) for name, model in untrained.items()})
    for run in runs.values():  # warm-up: allocator, kernels
        run()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(args.rounds):
        for name, run in runs.items():
            rate = len(sources) / measure(run, args.pause_pid)["seconds"]
            rates[name].append(rate)
            print(f"  round {round_number + 1}: {name}: {rate:.1f} sentences/s", flush=True)

    def per_round(name: str) -> list[float]:
        """Estimated greedy sentences/s of a trained model of this shape, round by round."""
        return [trained * shape / same for trained, shape, same in
                zip(rates["reference greedy"], rates[name], rates["reference shape"])]

    rows = []
    for name, config in shapes.items():
        estimates = per_round(name)
        rows.append({
            "shape": name,
            "config": config.model_dump(),
            "parameters": sum(p.numel() for p in Seq2Seq(config).parameters()),
            "forced_sentences_per_second": statistics.median(rates[name]),
            "estimated_sentences_per_second": statistics.median(estimates),
            "estimated_multiple_of_teacher_beam5": statistics.median(
                estimate / beam for estimate, beam in zip(estimates, rates["teacher beam 5"])),
        })
    return {
        "benchmark": "student_shapes",
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "machine": machine,
        "code": code_version(),
        "teacher": str(args.teacher),
        "reference": str(args.reference),
        "test": f"{args.test_name}.{src}",
        "sentences": len(sources),
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "teacher_beam5_sentences_per_second": statistics.median(rates["teacher beam 5"]),
        "teacher_greedy_sentences_per_second": statistics.median(rates["teacher greedy"]),
        "reference_greedy_sentences_per_second": statistics.median(rates["reference greedy"]),
        "rows": rows,
    }


def format_table(results: dict) -> str:
    lines = [(f"teacher {results['teacher']} beam 5: {results['teacher_beam5_sentences_per_second']:.1f} sentences/s, "
              f"greedy {results['teacher_greedy_sentences_per_second']:.1f}; "
             f"reference {results['reference']} greedy: {results['reference_greedy_sentences_per_second']:.1f} "
             f"({results['test']}, batch {results['batch_size']}, medians of {results['rounds']} rounds)"),
             "",
             "| shape | parameters | forced-length greedy sent/s | estimated greedy sent/s | x teacher beam 5 |",
             "|---|---|---|---|---|"]
    for row in results["rows"]:
        lines.append(f"| {row['shape']} | {row['parameters'] / 1e6:.1f} M | {row['forced_sentences_per_second']:.1f} | "
                     f"{row['estimated_sentences_per_second']:.1f} | {row['estimated_multiple_of_teacher_beam5']:.2f} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, required=True, help="the teacher's model directory")
    parser.add_argument("--reference", type=Path, required=True,
                        help="a trained model directory whose greedy speed anchors the estimates")
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=FIELD=VALUE,...",
                        help="a candidate: the reference's model config with these fields changed; repeatable")
    add_timing_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = run_benchmark(args)
    print_and_save(format_table(results), results, args.json)


if __name__ == "__main__":
    main()
