"""``translator-release``: copy a trained checkpoint to where it ships and record its test scores.

The scores in a shipped model's ``metadata.json`` are measured here, by decoding the test set with
greedy search and with beam search, never typed in; the command that reproduces each is stored
beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from training.evaluate import evaluate
from translator.checkpoint import METADATA_FILE, CheckpointError, load_checkpoint, read_metadata


def release(checkpoint: Path, destination: Path, test_name: str, src: Path, ref: Path,
            beam_sizes: tuple[int, ...] = (1, 5), length_penalty: float = 1.0) -> dict:
    """Copy ``checkpoint`` to ``destination`` and add test scores to its metadata; returns them."""
    load_checkpoint(checkpoint)  # refuse to ship a checkpoint that does not load
    scores = {}
    for beam_size in beam_sizes:
        report = evaluate(checkpoint, src, ref, beam_size=beam_size, length_penalty=length_penalty, device="cpu")
        name = "greedy" if beam_size == 1 else f"beam{beam_size}"
        scores[name] = {
            "bleu": report["bleu"], "chrf": report["chrf"], "bleu_signature": report["bleu_signature"],
            "chrf_signature": report["chrf_signature"], "seconds_on_cpu": report["seconds"],
            "command": f"translator-evaluate {destination} --src {src} --ref {ref} --beam-size {beam_size} "
                       f"--length-penalty {length_penalty} --device cpu",
        }
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    shutil.rmtree(staging)
    shutil.copytree(checkpoint, staging, ignore=shutil.ignore_patterns("training_state.pt"))
    metadata = read_metadata(staging)
    metadata.setdefault("test", {})[test_name] = scores
    (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    if destination.exists():
        shutil.rmtree(destination)
    staging.rename(destination)
    return scores


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-release``."""
    parser = argparse.ArgumentParser(
        prog="translator-release",
        description="Copy a checkpoint (e.g. runs/x/best) to its shipping place (e.g. models/de-en) and "
        "record greedy and beam-search test scores, with the commands that reproduce them, in its metadata.json.",
    )
    parser.add_argument("checkpoint", type=Path, help="checkpoint directory to ship")
    parser.add_argument("destination", type=Path, help="where it ships, e.g. models/de-en (replaced)")
    parser.add_argument("--test-name", required=True, help="name of the test set, e.g. multi30k-test2016")
    parser.add_argument("--src", type=Path, required=True, help="test source file")
    parser.add_argument("--ref", type=Path, required=True, help="test reference file")
    parser.add_argument("--beam-sizes", type=int, nargs="+", default=[1, 5], help="beam sizes to score (default 1 5)")
    parser.add_argument("--length-penalty", type=float, default=1.0, help="GNMT alpha for beam search (default 1.0)")
    args = parser.parse_args(argv)
    try:
        scores = release(args.checkpoint, args.destination, args.test_name, args.src, args.ref,
                         tuple(args.beam_sizes), args.length_penalty)
    except (CheckpointError, ValueError) as error:
        print(f"translator-release: error: {error}", file=sys.stderr)
        return 2
    for name, score in scores.items():
        print(f"{name}: BLEU {score['bleu']:.2f} chrF {score['chrf']:.2f}  ({score['bleu_signature']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
