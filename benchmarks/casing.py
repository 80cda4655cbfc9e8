"""Robustness to input casing: case-insensitive BLEU on normal, UPPER-CASED and lower-cased source.

For each casing of the test source, the model translates it with the checkpoint's case restorer
(``casing.json``, :mod:`translator.text.casing`) and without it, and the output is scored with
case-insensitive sacreBLEU against the references, so the figures measure what was translated,
not how it was capitalised. The goal (issue 15): upper and lower >= 85% of normal.

    python benchmarks/casing.py --model models/de-en --src ../shared/data/multi30k/val.de \\
        --ref ../shared/data/multi30k/val.en --beam-size 5 --json benchmarks/results/casing_de-en.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sacrebleu
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hardware import print_and_save  # noqa: E402
from translator.translate import Translator  # noqa: E402

CASINGS = {"normal": lambda text: text, "upper": str.upper, "lower": str.lower}


def measure(translator: Translator, sources: list[str], references: list[str], beam_size: int) -> dict:
    """Case-insensitive BLEU per input casing, with and without case restoration."""
    bleu = sacrebleu.metrics.BLEU(lowercase=True)
    rows = {}
    for name, transform in CASINGS.items():
        cased = [transform(line) for line in sources]
        for restore in (False, True):
            hypotheses = translator.translate(cased, beam_size=beam_size, restore_case=restore)
            rows[f"{name}{'' if restore else '_unrestored'}"] = round(bleu.corpus_score(hypotheses, [references]).score, 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="checkpoint directory")
    parser.add_argument("--src", type=Path, required=True, help="source sentences (choose on val, report test)")
    parser.add_argument("--ref", type=Path, required=True, help="reference translations")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    translator = Translator.from_pretrained(args.model, device="cpu")
    if translator.case_restorer is None:
        parser.error(f"{args.model} has no casing.json; restored and unrestored would be the same")
    sources = args.src.read_text(encoding="utf-8").split("\n")[:-1]
    references = args.ref.read_text(encoding="utf-8").split("\n")[:-1]
    rows = measure(translator, sources, references, args.beam_size)
    normal = rows["normal"]
    result = {
        "model": str(args.model), "src": str(args.src), "ref": str(args.ref), "beam_size": args.beam_size,
        "metric": "sacreBLEU, case-insensitive (lowercase=True), 13a", "bleu": rows,
        "share_of_normal": {name: round(rows[name] / normal, 3) for name in ("upper", "lower")},
    }
    lines = [f"{'input':<8} {'restored':>9} {'unrestored':>11} {'share':>6}"]
    for name in CASINGS:
        lines.append(f"{name:<8} {rows[name]:>9.2f} {rows[name + '_unrestored']:>11.2f} {rows[name] / normal:>6.1%}")
    print_and_save("\n".join(lines), result, args.json)


if __name__ == "__main__":
    main()
