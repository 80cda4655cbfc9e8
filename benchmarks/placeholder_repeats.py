"""Placeholders a model writes more often than the source has them: how often, and what dropping the repeats does.

A protected span (a number, a URL, a name: :mod:`translator.text.protect`) crosses search as a placeholder; a
model can write one twice (*The train leaves at 10:30* → *Le train part de 10:30 à 10:30*). ``unmask`` keeps a
placeholder as often as the source has it and drops the repeats. For each model and named set (first ``--limit``
lines, the model's default search) this translates once and puts the spans back both ways, every occurrence (as
before) and without the repeats, and reports how many outputs differ and BLEU for each.

Usage::

    python benchmarks/placeholder_repeats.py models/en-fr models/fr-en \\
        --set en:newstest2012=../shared/data/newstest/fr-en.newstest2012.en:../shared/data/newstest/fr-en.newstest2012.fr \\
        --set fr:newstest2012=../shared/data/newstest/fr-en.newstest2012.fr:../shared/data/newstest/fr-en.newstest2012.en \\
        --json benchmarks/results/placeholder_repeats.json

``LANG`` is a direction (``en-fr``) or a source language (``en``), as in ``benchmarks/names.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sacrebleu

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, print_and_save  # noqa: E402
from names import parse_set  # noqa: E402

import translator.translate as translate_module  # noqa: E402
from translator.text.protect import PLACEHOLDERS, Masked, unmask  # noqa: E402
from translator.translate import Translator  # noqa: E402


def unmask_every(output: str, masked: Masked) -> str:
    """What ``unmask`` did before: every placeholder of ``output`` replaced by its span, repeats included (the
    ones the source did not have dropped, the spans the output left out inserted as ``unmask`` does)."""
    text = "".join((masked.spans[PLACEHOLDERS.index(char)] if PLACEHOLDERS.index(char) < len(masked.spans) else "")
                   if char in PLACEHOLDERS else char for char in output)
    text = " ".join(text.split())
    for index, span in enumerate(masked.spans):
        if PLACEHOLDERS[index] not in output:
            words = text.split(" ") if text else []
            words.insert(round(masked.positions[index] * len(words)), span)
            text = " ".join(words)
    return text


def measure(model_dir: Path, sets: list[tuple[str, str, Path, Path]], limit: int) -> dict:
    translator = Translator.from_pretrained(model_dir, device="cpu")
    source, target = translator.metadata["source_language"], translator.metadata["target_language"]
    result: dict = {"model": str(model_dir), "direction": f"{source}-{target}", "sets": {}}
    both: dict[int, tuple[str, str]] = {}  # id(Masked) -> (every occurrence, repeats dropped), best hypothesis

    def recording(output: str, masked: Masked) -> str:
        kept = unmask(output, masked)
        both.setdefault(id(masked), (unmask_every(output, masked), kept))
        return kept

    prepare = translator.prepare
    prepared_texts: list = []

    def capturing(*args, **kwargs):
        prepared_texts[:] = prepare(*args, **kwargs)
        return prepared_texts

    translate_module.unmask = recording
    translator.prepare = capturing
    try:
        for key, name, src, ref in sets:
            if key not in (source, f"{source}-{target}"):
                continue
            texts = src.read_text(encoding="utf-8").splitlines()[:limit]
            references = ref.read_text(encoding="utf-8").splitlines()[:limit]
            both.clear()
            outputs = translator.translate(texts)
            every = [both[id(one.masked)][0] if one.masked is not None and id(one.masked) in both else output
                     for one, output in zip(prepared_texts, outputs)]
            changed = [(text, old, new) for text, old, new in zip(texts, every, outputs) if old != new]
            result["sets"][name] = {
                "sentences": len(texts), "outputs_with_repeats": len(changed),
                "bleu_every_occurrence": sacrebleu.corpus_bleu(every, [references]).score,
                "bleu_repeats_dropped": sacrebleu.corpus_bleu(outputs, [references]).score,
                "examples": [{"source": s, "every_occurrence": a, "repeats_dropped": b} for s, a, b in changed[:8]],
            }
    finally:
        translate_module.unmask = unmask
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="model directories to measure")
    parser.add_argument("--set", dest="sets", type=parse_set, action="append", default=[],
                        help="LANG:NAME=SRC:REF (LANG: source language or direction), repeatable")
    parser.add_argument("--limit", type=int, default=500, help="lines of each set (default 500)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    results = [measure(model, args.sets, args.limit) for model in args.models]
    lines = ["| model | set | outputs with a repeated placeholder | BLEU, every occurrence → repeats dropped |",
             "|---|---|---|---|"]
    for r in results:
        for name, s in r["sets"].items():
            lines.append(f"| {r['model']} | {name} | {s['outputs_with_repeats']} of {s['sentences']} | "
                         f"{s['bleu_every_occurrence']:.2f} → {s['bleu_repeats_dropped']:.2f} |")
    print_and_save("\n".join(lines), {"machine": describe_machine(), "results": results}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
