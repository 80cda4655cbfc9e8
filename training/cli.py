"""Console scripts ``translator-train`` and ``translator-evaluate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def train_command() -> int:
    """The ``translator-train`` command: :func:`train_main` in a process with tcmalloc preloaded when the system
    has it (:func:`translator.memory.restart_with_tcmalloc`: re-executes the process once)."""
    if not fast_allocator("translator-train"):
        return 2
    return train_main()


def fast_allocator(prog: str) -> bool:
    """Restart the process with tcmalloc where :func:`translator.memory.restart_with_tcmalloc` says so; False,
    with the error printed, when ``TRANSLATOR_MALLOC`` holds a value it does not know."""
    from translator.memory import restart_with_tcmalloc

    try:
        restart_with_tcmalloc()
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return False
    return True


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-train`` (in this process, whatever its allocator: see :func:`train_command`)."""
    # Imported here, not at the top: data preparation spawns worker processes that re-import
    # this module, and they must not pay for torch (which the config's model section imports).
    from training.config import add_field_flags, field_overrides, load_config

    parser = argparse.ArgumentParser(
        prog="translator-train",
        description="Train a translation model on line-aligned parallel text. Every config field "
        "can be set or overridden with a flag named after it, e.g. --train.learning_rate 3e-4.",
    )
    parser.add_argument("--config", type=Path, help="YAML config file (see configs/)")
    parser.add_argument("--resume", action="store_true", help="continue the run in train.output_dir from last/")
    add_field_flags(parser)
    args = parser.parse_args(argv)
    overrides = field_overrides(args)
    from training.loop.trainer import train  # torch is imported only after the arguments are valid

    try:
        config = load_config(args.config, overrides)
        best = train(config, resume=args.resume)
    except ValueError as error:
        print(f"translator-train: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # unwritable output_dir, full disk, ...
        print(f"translator-train: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (which saves last/ first: see train.save_every)
        reason = f" ({interrupt})" if str(interrupt) else ""
        print(f"translator-train: interrupted{reason}; continue from the last checkpoint with --resume",
              file=sys.stderr)
        return 130
    print(f"best checkpoint: {best}")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-evaluate``."""
    # see train_main
    from training.release.named_sets import add_set_arguments
    from translator.search.options import add_search_arguments

    parser = argparse.ArgumentParser(
        prog="translator-evaluate",
        description="Translate test sets and score them with sacreBLEU (BLEU with signature, chrF) on detokenized, "
        "cased output: one set (--src/--ref), or several named sets in one call (--set, --sets-from), reported "
        "in one table.",
    )
    parser.add_argument("model_dir", type=Path, help="checkpoint directory")
    parser.add_argument("--src", type=Path, help="source sentences, one per line (a single test set)")
    parser.add_argument("--ref", type=Path, help="reference translations, line-aligned (a single test set)")
    add_set_arguments(parser)
    add_search_arguments(parser, n_best=False)
    parser.add_argument("--output", type=Path, help="hypotheses file of a single set (default: <report>.hyp "
                        "beside --report; with named sets always <report stem>.<set name>.hyp)")
    parser.add_argument("--report", type=Path, help="JSON report path (default: print only)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization (CPU)")
    args = parser.parse_args(argv)
    try:
        if args.src is not None or args.ref is not None:
            return _evaluate_one(args)
        return _evaluate_named_sets(args)
    except ValueError as error:
        print(f"translator-evaluate: error: {error}", file=sys.stderr)
        return 2


def _evaluate_one(args: argparse.Namespace) -> int:
    """``--src``/``--ref``: one set, reported as before named sets existed."""
    from training.release.evaluate import evaluate
    from translator.search.options import model_search_defaults, search_options_from_args
    from translator.store.checkpoint import read_metadata

    if args.src is None or args.ref is None:
        raise ValueError("a single test set needs both --src and --ref")
    if args.named_sets or args.sets_from is not None or args.set_weights:
        raise ValueError("give one test set as --src/--ref, or named sets as --set/--sets-from, not both "
                         "(name the --src/--ref set with --set NAME SRC REF to score it with the others)")
    options = search_options_from_args(args, model_search_defaults(read_metadata(args.model_dir)))
    report = evaluate(args.model_dir, args.src, args.ref, options, output=args.output, report_path=args.report,
                      device=args.device, quantize=args.quantize)
    print(report["bleu_signature"])
    print(f"BLEU {report['bleu']:.2f}  chrF {report['chrf']:.2f}")
    return 0


def _evaluate_named_sets(args: argparse.Namespace) -> int:
    """``--set``/``--sets-from``: every named set, one table."""
    from training.release.evaluate import evaluate_sets, sets_table
    from training.release.named_sets import sets_from_args
    from translator.search.options import model_search_defaults, search_options_from_args
    from translator.store.checkpoint import read_metadata

    if args.output is not None:
        raise ValueError("--output names the hypotheses file of a single --src/--ref set; named sets' "
                         "translations are written beside --report as <report stem>.<set name>.hyp")
    metadata = read_metadata(args.model_dir)
    sets = sets_from_args(args, (metadata.get("source_language"), metadata.get("target_language")))
    options = search_options_from_args(args, model_search_defaults(metadata))
    report = evaluate_sets(args.model_dir, sets, options, report_path=args.report, device=args.device,
                           quantize=args.quantize)
    print(f"{args.model_dir} ({report['model_version']}), beam size {options.beam_size}, "
          f"length penalty {options.length_penalty}")
    print(sets_table(report))
    return 0
