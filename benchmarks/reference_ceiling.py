"""How high a validation set lets any system score when it repeats a source once per reference.

Tatoeba's val splits hold one line per translation, so an English sentence with four French translations
appears four times, each time with one of them as its reference. A system gives one output per source,
so it can match at most one of those lines; the others cost BLEU however good the output is. This scores,
for each set, the best a human could do under that rule in a simple form: every line gets the most
frequent reference among the lines sharing its source (the first on ties), and reports that ceiling with
how many sources repeat. Nothing is translated.

Usage::

    python benchmarks/reference_ceiling.py \\
        --set en-fr ../shared/data/tatoeba/fra-eng/val.en ../shared/data/tatoeba/fra-eng/val.fr \\
        --set fr-en ../shared/data/tatoeba/fra-eng/val.fr ../shared/data/tatoeba/fra-eng/val.en \\
        --json benchmarks/results/reference_ceiling_tatoeba.json
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

import sacrebleu

from translator.text.lines import read_lines

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import print_and_save


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", nargs=3, action="append", required=True, metavar=("NAME", "SRC", "REF"),
                        help="a named set: its source and reference files (line-aligned); repeatable")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def ceiling(sources: list[str], references: list[str]) -> dict:
    """The set's repetition counts and the BLEU of answering every source with its most frequent reference."""
    if len(sources) != len(references):
        raise ValueError(f"{len(sources)} sources and {len(references)} references; the files must be line-aligned")
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, reference in zip(sources, references):
        by_source[source].append(reference)
    chosen = {source: Counter(refs).most_common(1)[0][0] for source, refs in by_source.items()}
    hypotheses = [chosen[source] for source in sources]
    return {
        "lines": len(sources),
        "distinct_sources": len(by_source),
        "lines_whose_source_has_several_references": sum(len(set(by_source[source])) > 1 for source in sources),
        "ceiling_bleu": round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2),
        "ceiling_chrf": round(sacrebleu.corpus_chrf(hypotheses, [references]).score, 2),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sets = {}
    for name, src, ref in args.set:
        try:
            sets[name] = {"src": src, "ref": ref, **ceiling(read_lines(Path(src)), read_lines(Path(ref)))}  # \n only: stay aligned
        except (OSError, ValueError) as error:
            print(f"reference_ceiling: set {name}: {error}", file=sys.stderr)
            return 2
    lines = ["| set | lines | distinct sources | lines with several references | ceiling BLEU / chrF |", "|---|---|---|---|---|"]
    for name, row in sets.items():
        lines.append(f"| {name} | {row['lines']} | {row['distinct_sources']} | "
                     f"{row['lines_whose_source_has_several_references']} | {row['ceiling_bleu']:.2f} / {row['ceiling_chrf']:.2f} |")
    print_and_save("\n".join(lines), {"benchmark": "reference_ceiling", "sets": sets}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
