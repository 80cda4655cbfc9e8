"""A capitalised source gets a capitalised translation: how many outputs the rule changes, and BLEU with and without.

:func:`translator.text.casing.capitalise_like` capitalises an output's first letter when its source starts with a
capital and the output's first word is all lower case. This translates each model's sets twice in one run, with
the rule and with it switched off, and reports the outputs it changed, cased BLEU and chrF (sacreBLEU) of both,
and the changed sentences.

Usage::

    python benchmarks/initial_capital.py models/de-en models/en-de --limit 500 \\
        --set de-en:newstest2012=../shared/data/newstest/de-en.newstest2012.de:../shared/data/newstest/de-en.newstest2012.en \\
        --json benchmarks/results/initial_capital.json

``--set DIRECTION:NAME=SRC:REF`` is repeatable; a model uses the sets of its direction.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

import sacrebleu
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, print_and_save  # noqa: E402

import translator.translate as translate_module  # noqa: E402
from translator.text.lines import read_lines  # noqa: E402
from translator.translate import Translator  # noqa: E402


def parse_set(spec: str) -> tuple[str, str, Path, Path]:
    direction, _, rest = spec.partition(":")
    name, equals, files = rest.partition("=")
    src, colon, ref = files.partition(":")
    if not (direction and name and equals and colon):
        raise SystemExit(f"initial_capital: --set {spec!r}: expected DIRECTION:NAME=SRC:REF")
    return direction, name, Path(src), Path(ref)


def measure(translator: Translator, sources: list[str], references: list[str]) -> dict:
    with_rule = translator.translate(sources)
    with mock.patch.object(translate_module, "capitalise_like", lambda output, source: output):
        without = translator.translate(sources)
    changed = [{"source": s, "without": a, "with": b, "reference": r}
               for s, a, b, r in zip(sources, without, with_rule, references) if a != b]
    return {
        "sentences": len(sources), "changed": len(changed),
        "changed_reference_starts_with_capital": sum(one["reference"][:1].isupper() for one in changed),
        "bleu_without": sacrebleu.corpus_bleu(without, [references]).score,
        "bleu_with": sacrebleu.corpus_bleu(with_rule, [references]).score,
        "chrf_without": sacrebleu.corpus_chrf(without, [references]).score,
        "chrf_with": sacrebleu.corpus_chrf(with_rule, [references]).score,
        "changes": changed,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="DIRECTION:NAME=SRC:REF")
    parser.add_argument("--limit", type=int, default=500, help="first N lines of each set (default 500)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sets = [parse_set(spec) for spec in args.set]
    results, lines = [], []
    for model in args.models:
        translator = Translator.from_pretrained(model, device="cpu")
        direction = f"{translator.metadata['source_language']}-{translator.metadata['target_language']}"
        for set_direction, name, src, ref in sets:
            if set_direction != direction:
                continue
            row = {"model": str(model), "set": name,
                   **measure(translator, read_lines(src)[:args.limit], read_lines(ref)[:args.limit])}
            results.append(row)
            lines.append(f"| {model} | {name} | {row['changed']} of {row['sentences']} "
                         f"({row['changed_reference_starts_with_capital']} references capitalised) | "
                         f"{row['bleu_without']:.2f} → {row['bleu_with']:.2f} | "
                         f"{row['chrf_without']:.2f} → {row['chrf_with']:.2f} |")
            print(lines[-1], flush=True)
    table = "\n".join(["| model | set | outputs changed | BLEU | chrF |", "|---|---|---|---|---|", *lines])
    print_and_save(table, {"benchmark": "initial_capital", "command": " ".join(sys.argv),
                           "machine": describe_machine(), "limit": args.limit, "results": results}, args.json)


if __name__ == "__main__":
    main()
