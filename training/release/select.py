"""``translator-select``: choose what to ship from a run, by validation BLEU, and record why.

The candidates are the run's ``best/`` and the averages (translator-average) of its last N
validation snapshots for each N asked for; each is scored on the validation set with beam search,
and the highest-scoring one (``best/`` on a tie) is written to ``--output`` with a ``selection``
entry in its metadata giving every candidate's measured score. Choose on validation data; report
the test set with ``translator-release`` afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from training.release.average import average_checkpoints
from training.release.evaluate import evaluate
from translator.store.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from translator.search.options import DEFAULT_SEARCH


def candidates(run_dir: Path, lasts: tuple[int, ...], workdir: Path) -> dict[str, Path]:
    """``best/`` and the averages of the last N snapshots (written into ``workdir``), by description."""
    found = {"best/": run_dir / "best"}
    snapshots = sorted((run_dir / "snapshots").glob("step-*"))  # zero-padded step numbers sort in order
    for last in sorted(set(lasts)):
        if last < 2 or len(snapshots) < last:
            continue
        chosen = snapshots[-last:]
        description = f"average of the last {last} snapshots ({chosen[0].name}..{chosen[-1].name})"
        found[description] = average_checkpoints(chosen, workdir / f"average-last-{last}")
    return found


def select(run_dir: Path, src: Path, ref: Path, output: Path, lasts: tuple[int, ...] = (3, 4, 5),
           beam_size: int = 5, device: str = "auto") -> dict[str, float]:
    """Score every candidate of ``run_dir`` on ``src``/``ref``, write the best to ``output``; the scores.

    Raises:
        CheckpointError: a candidate does not verify or load, or the snapshots cannot be averaged.
    """
    if not (run_dir / "best").is_dir():
        raise CheckpointError(f"{run_dir} has no best/ checkpoint: is it a training run's output_dir?")
    options = DEFAULT_SEARCH.updated(beam_size=beam_size)
    with tempfile.TemporaryDirectory(prefix=".select-", dir=run_dir) as workdir:
        found = candidates(run_dir, lasts, Path(workdir))
        scores = {}
        for description, path in found.items():
            scores[description] = evaluate(path, src, ref, options, device=device)["bleu"]
            print(f"{description}: BLEU {scores[description]:.2f}", flush=True)
        winner = max(scores, key=scores.get)  # dicts keep order: best/ wins a tie
        checkpoint = load_checkpoint(found[winner])
        summary = "; ".join(f"{description} {score:.2f}" for description, score in scores.items())
        metadata = {**checkpoint.metadata, "selection": (
            f"{winner} of the run {run_dir}, chosen by beam-{beam_size} BLEU on {src.name}/{ref.name} "
            f"(translator-select): {summary}")}
        save_checkpoint(output, checkpoint.model, checkpoint.source_tokenizer, checkpoint.target_tokenizer,
                        metadata, half_precision=True, case_restorer=checkpoint.case_restorer)
    return scores


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-select``."""
    parser = argparse.ArgumentParser(
        prog="translator-select",
        description="Choose between a run's best/ and averages of its last snapshots by validation BLEU (beam "
        "search), and write the winner, with every candidate's score in its metadata, to --output.",
    )
    parser.add_argument("run_dir", type=Path, help="a training run's output_dir (with best/ and snapshots/)")
    parser.add_argument("--src", type=Path, required=True, help="validation source file")
    parser.add_argument("--ref", type=Path, required=True, help="validation reference file")
    parser.add_argument("--output", type=Path, required=True, help="checkpoint directory to write the choice to")
    parser.add_argument("--last", type=int, nargs="+", default=[3, 4, 5],
                        help="average the last N snapshots, for each N given (default 3 4 5)")
    parser.add_argument("--beam-size", type=int, default=5, help="beam size for scoring (default 5)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    args = parser.parse_args(argv)
    try:
        scores = select(args.run_dir, args.src, args.ref, args.output, tuple(args.last), args.beam_size, args.device)
    except (CheckpointError, ValueError, OSError) as error:
        print(f"translator-select: error: {error}", file=sys.stderr)
        return 2
    print(f"chose {max(scores, key=scores.get)}; written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
