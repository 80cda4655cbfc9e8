"""``translator-select``: choose what to ship from a run, by validation BLEU, and record why.

The candidates are the run's ``best/`` and the averages (translator-average) of its last N
validation snapshots for each N asked for; each is scored with beam search on the validation sets
(by default the run's own, from its ``config.yaml``, combined with their weights as the trainer
combined them to keep ``best/``: weighted mean BLEU), and the highest-scoring one (``best/`` on a
tie) is written to ``--output``. Its metadata says why: ``selection`` in words, and
``selection_scores`` with the rule, the sets and every candidate's score on every set. Choose on
validation data; report the test sets with ``translator-release`` afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from training.release.average import average_checkpoints
from training.release.evaluate import evaluate_sets
from training.release.named_sets import (
    RUN_CONFIG, NamedSet, add_set_arguments, config_sets, sets_from_args, weighted_mean, weighting_rule,
)
from training.config import portable_path
from translator.store.checkpoint import CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from translator.search.options import resolve_search

SINGLE_SET = "valid"  # the name of a --src/--ref set, as the trainer names a single valid_src/valid_tgt pair


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


def select(run_dir: Path, sets: list[NamedSet], output: Path, lasts: tuple[int, ...] = (3, 4, 5),
           beam_size: int = 5, device: str = "auto") -> dict[str, float]:
    """Score every candidate of ``run_dir`` on ``sets``, write the best to ``output``; each candidate's
    score (the sets' weighted mean BLEU; a single set's BLEU).

    Raises:
        CheckpointError: a candidate does not verify or load, or the snapshots cannot be averaged.
    """
    if not (run_dir / "best").is_dir():
        raise CheckpointError(f"{run_dir} has no best/ checkpoint: is it a training run's output_dir?")
    options = resolve_search({"beam_size": beam_size})
    with tempfile.TemporaryDirectory(prefix=".select-", dir=run_dir) as workdir:
        found = candidates(run_dir, lasts, Path(workdir))
        measured = {}
        for description, path in found.items():
            report = evaluate_sets(path, sets, options, device=device)
            per_set = {name: {"bleu": one["bleu"], "chrf": one["chrf"]} for name, one in report["sets"].items()}
            score = round(weighted_mean({name: one["bleu"] for name, one in per_set.items()}, sets), 2)
            measured[description] = {"score": score, "sets": per_set}
            print(f"{description}: {_in_words(measured[description], sets)}", flush=True)
        scores = {description: one["score"] for description, one in measured.items()}
        winner = max(scores, key=scores.get)  # dicts keep order: best/ wins a tie
        checkpoint = load_checkpoint(found[winner])
        summary = "; ".join(f"{description} {score:.2f}" for description, score in scores.items())
        metadata = {
            **checkpoint.metadata,
            "selection": f"{winner} of the run {portable_path(run_dir)}, chosen by beam-{beam_size} {_rule(sets)} "
                         f"(translator-select): {summary}",
            "selection_scores": {
                "chosen": winner, "rule": weighting_rule(sets), "beam_size": beam_size,
                "sets": {one.name: {"src": portable_path(one.src), "ref": portable_path(one.ref), "weight": one.weight} for one in sets},
                "candidates": measured,
            },
        }
        save_checkpoint(output, checkpoint.model, checkpoint.source_tokenizer, checkpoint.target_tokenizer,
                        metadata, half_precision=True, case_restorer=checkpoint.case_restorer)
    return scores


def _rule(sets: list[NamedSet]) -> str:
    """How candidates are compared, for the ``selection`` sentence."""
    if len(sets) == 1:
        return f"BLEU on {sets[0].src.name}/{sets[0].ref.name}"
    return f"{weighting_rule(sets)} on the validation sets"


def _in_words(candidate: dict, sets: list[NamedSet]) -> str:
    """A candidate's score, and with several sets its BLEU on each."""
    if len(sets) == 1:
        return f"BLEU {candidate['score']:.2f}"
    return f"{candidate['score']:.2f} (" + ", ".join(
        f"{name} {one['bleu']:.2f}" for name, one in candidate["sets"].items()) + ")"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-select``."""
    parser = argparse.ArgumentParser(
        prog="translator-select",
        description="Choose between a run's best/ and averages of its last snapshots by validation BLEU (beam "
        "search) and write the winner, with every candidate's scores in its metadata, to --output. The "
        "validation sets are the run's own (its config.yaml: names, files, weights) unless --src/--ref or "
        "--set/--sets-from name others; several sets are combined by their weighted mean BLEU.",
    )
    parser.add_argument("run_dir", type=Path, help="a training run's output_dir (with best/ and snapshots/)")
    parser.add_argument("--src", type=Path, help="validation source file (a single set)")
    parser.add_argument("--ref", type=Path, help="validation reference file (a single set)")
    add_set_arguments(parser, what="validation")
    parser.add_argument("--output", type=Path, required=True, help="checkpoint directory to write the choice to")
    parser.add_argument("--last", type=int, nargs="+", default=[3, 4, 5],
                        help="average the last N snapshots, for each N given (default 3 4 5)")
    parser.add_argument("--beam-size", type=int, default=5, help="beam size for scoring (default 5)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    args = parser.parse_args(argv)
    try:
        sets = _validation_sets(args)
        scores = select(args.run_dir, sets, args.output, tuple(args.last), args.beam_size, args.device)
    except (CheckpointError, ValueError, OSError) as error:
        print(f"translator-select: error: {error}", file=sys.stderr)
        return 2
    print(f"chose {max(scores, key=scores.get)}; written to {args.output}")
    return 0


def _validation_sets(args: argparse.Namespace) -> list[NamedSet]:
    """The sets the flags name, or else the run's own validation sets with their weights.

    Raises:
        ValueError: ``--src`` without ``--ref`` (or the reverse), a single set given with named sets,
            or what :func:`sets_from_args` refuses.
    """
    if not (args.run_dir / "best").is_dir():
        raise CheckpointError(f"{args.run_dir} has no best/ checkpoint: is it a training run's output_dir?")
    metadata = read_metadata(args.run_dir / "best")
    languages = (metadata.get("source_language"), metadata.get("target_language"))
    named = bool(args.named_sets) or args.sets_from is not None
    first = []
    if args.src is not None or args.ref is not None:
        if args.src is None or args.ref is None:
            raise ValueError("a single validation set needs both --src and --ref")
        if named:
            raise ValueError("give one validation set as --src/--ref, or named sets as --set/--sets-from, not both")
        first = [NamedSet(SINGLE_SET, args.src, args.ref)]
    elif not named and (args.run_dir / RUN_CONFIG).exists():
        first = config_sets(args.run_dir, languages)  # what the trainer validated on
    return sets_from_args(args, languages, first)


if __name__ == "__main__":
    sys.exit(main())
