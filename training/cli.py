"""Console scripts ``translator-train`` and ``translator-evaluate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-train``."""
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
    except KeyboardInterrupt:
        print("translator-train: interrupted; continue from the last checkpoint with --resume", file=sys.stderr)
        return 130
    print(f"best checkpoint: {best}")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-evaluate``."""
    # see train_main
    from translator.search.options import add_search_arguments, model_search_defaults, search_options_from_args

    parser = argparse.ArgumentParser(
        prog="translator-evaluate",
        description="Translate a test set and score it with sacreBLEU (BLEU with signature, chrF) "
        "on detokenized, cased output.",
    )
    parser.add_argument("model_dir", type=Path, help="checkpoint directory")
    parser.add_argument("--src", type=Path, required=True, help="source sentences, one per line")
    parser.add_argument("--ref", type=Path, required=True, help="reference translations, line-aligned")
    add_search_arguments(parser, n_best=False)
    parser.add_argument("--output", type=Path, help="hypotheses file (default: <src name>.hyp beside --report)")
    parser.add_argument("--report", type=Path, help="JSON report path (default: print only)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization (CPU)")
    args = parser.parse_args(argv)
    from translator.store.checkpoint import read_metadata
    from training.release.evaluate import evaluate

    try:
        options = search_options_from_args(args, model_search_defaults(read_metadata(args.model_dir)))
        report = evaluate(args.model_dir, args.src, args.ref, options, output=args.output,
                          report_path=args.report, device=args.device,
                          quantize=args.quantize)
    except ValueError as error:
        print(f"translator-evaluate: error: {error}", file=sys.stderr)
        return 2
    print(report["bleu_signature"])
    print(f"BLEU {report['bleu']:.2f}  chrF {report['chrf']:.2f}")
    return 0
