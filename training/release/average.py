"""``translator-average``: average the weights of several checkpoints of one run.

Averaging the last few validation snapshots of a run usually scores a little higher than any one
of them (the weights sit nearer the middle of the optimum the optimiser circles around).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


from training.config import portable_path
from translator.store.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def average_checkpoints(directories: list[Path], output: Path, half_precision: bool = True) -> Path:
    """Write a checkpoint whose weights are the mean of ``directories``' weights.

    Raises:
        CheckpointError: if a directory does not load or the models differ in configuration.
    """
    if not directories:
        raise CheckpointError("no checkpoints to average")
    first = load_checkpoint(directories[0])
    total = {name: tensor.double().clone() for name, tensor in first.model.state_dict().items()}
    for directory in directories[1:]:
        other = load_checkpoint(directory)
        if other.model.config != first.model.config:
            raise CheckpointError(f"{directory} has a different model config from {directories[0]}")
        if other.source_tokenizer.model_proto != first.source_tokenizer.model_proto or \
                other.target_tokenizer.model_proto != first.target_tokenizer.model_proto:
            raise CheckpointError(f"{directory} uses different sentencepiece models from {directories[0]}")
        for name, tensor in other.model.state_dict().items():
            total[name] += tensor.double()
    first.model.load_state_dict({name: (tensor / len(directories)).float() for name, tensor in total.items()})
    metadata = {**first.metadata, "averaged_from": [portable_path(d) for d in directories]}
    metadata.pop("validation", None)  # the average has not been validated
    return save_checkpoint(output, first.model, first.source_tokenizer, first.target_tokenizer, metadata,
                           half_precision=half_precision, case_restorer=first.case_restorer)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-average``."""
    parser = argparse.ArgumentParser(
        prog="translator-average",
        description="Average the weights of checkpoints of one run, e.g. the last snapshots: "
        "translator-average runs/x/snapshots/step-* --output runs/x/averaged",
    )
    parser.add_argument("checkpoints", type=Path, nargs="+", help="checkpoint directories (same model config)")
    parser.add_argument("--output", type=Path, required=True, help="checkpoint directory to write")
    parser.add_argument("--float32", action="store_true", help="store fp32 weights (default fp16)")
    args = parser.parse_args(argv)
    try:
        average_checkpoints(args.checkpoints, args.output, half_precision=not args.float32)
    except CheckpointError as error:
        print(f"translator-average: error: {error}", file=sys.stderr)
        return 2
    print(f"averaged {len(args.checkpoints)} checkpoints into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
