"""Glossaries: how many glossary terms reach the output, what they do to BLEU, and what they cost in speed.

Test sets are generated from validation sentences (Multi30k val and Tatoeba val of the direction): a glossary
entry pairs a source word with the reference word that a FreeDict lexicon (``../shared/data/lexicon``) gives as
its translation, so each entry is a term the reference itself uses. Per direction the most frequent entries
form the glossary (one target per source word: the most frequent); sentences holding a term form the *term
set* when the reference uses the target term of every entry found in the source (a glossary that is right for the
sentence, as a user's is; sentences whose reference translates a term otherwise, e.g. *Hunden* as *dogs* against
the entry *hund: dog*, are left out of both sets and counted), the sentences without any term the *no-term set*.
Reported:

- **terms in output**: of the terms found in the term set's sources, the share whose target term appears in the
  translation (case-insensitive, as a whole word);
- **BLEU term set** without and with the glossary (the glossary's targets are the reference's words, so it
  should help, and must not hurt);
- **BLEU no-term set** without and with the glossary (must be unchanged ±0.1);
- **speed**: sentences per second translating a mixed set of both, with the 100-entry glossary and without, in
  alternating pairs (the slowdown is the median of the pairs');
- **confidence** on the term set without and with the glossary: AUROC and expected calibration error of the
  model's calibrated confidence (the forced terms change the search's features; is it still calibrated?).

Usage::

    python benchmarks/glossary.py models/de-en models/en-de models/fr-en models/en-fr --sentences 300 \
        --json benchmarks/results/glossary.json
    python benchmarks/glossary.py models/de-en --sentences 300 --methods align,replace,trigger \
        --json benchmarks/results/glossary_methods_de-en.json
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, machine_line, print_and_save  # noqa: E402

import numpy as np  # noqa: E402
import sacrebleu  # noqa: E402
import torch  # noqa: E402

from training.release.logistic import auroc, expected_calibration_error  # noqa: E402
from translator.glossary import parse_glossary  # noqa: E402
from translator.glossary.matching import WORD, find_terms, fold, word_forms  # noqa: E402
from translator.glossary.search import GLOSSARY_METHODS
from translator.translate import Translator  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LEXICON = {frozenset({"de", "en"}): "de-en", frozenset({"fr", "en"}): "fr-en"}
TATOEBA = {frozenset({"de", "en"}): "deu-eng", frozenset({"fr", "en"}): "fra-eng"}
STOPWORDS = {"der", "die", "das", "ein", "eine", "und", "the", "and", "with", "les", "des", "une", "est", "sont",
             "dans", "sur", "avec", "pour", "mit", "auf", "ist", "sind", "von", "einer", "einem", "einen", "eines"}


def load_pairs(data: Path, source: str, target: str) -> list[tuple[str, str]]:
    """Multi30k val then Tatoeba val of the language pair, as (source, reference)."""
    pairs = []
    for folder, stem in ((data / "multi30k", "val"), (data / "tatoeba" / TATOEBA[frozenset({source, target})], "val")):
        sources = (folder / f"{stem}.{source}").read_text(encoding="utf-8").splitlines()
        references = (folder / f"{stem}.{target}").read_text(encoding="utf-8").splitlines()
        pairs += [(s, r) for s, r in zip(sources, references) if s.strip() and r.strip()]
    return pairs


def load_lexicon(data: Path, source: str, target: str) -> dict[str, set[str]]:
    """Folded single-word source headword -> folded single-word translations."""
    name = LEXICON[frozenset({source, target})]
    sources = (data / "lexicon" / f"lexicon.{name}.{source}").read_text(encoding="utf-8").splitlines()
    targets = (data / "lexicon" / f"lexicon.{name}.{target}").read_text(encoding="utf-8").splitlines()
    lexicon: dict[str, set[str]] = defaultdict(set)
    for word, translation in zip(sources, targets):
        if WORD.fullmatch(word.strip()) and WORD.fullmatch(translation.strip()):
            lexicon[fold(word.strip())].add(fold(translation.strip()))
    return lexicon


def derive_entries(pairs: list[tuple[str, str]], lexicon: dict[str, set[str]]) -> tuple[Counter, Counter]:
    """(source word, reference word) pairs the lexicon links within a sentence pair, counted; and how many
    sentences hold each source word. The reference word is spelt as the references spell it inside a sentence
    (*Jacke*, *jacket*), not with the capital of a sentence's first word."""
    counts: Counter = Counter()
    occurrences: Counter = Counter()
    spellings: dict[str, Counter] = defaultdict(Counter)
    for source, reference in pairs:
        reference_words = WORD.findall(reference)
        for position, written in enumerate(reference_words):
            spellings[written.lower()][written] += 1 if position else 0.001  # a first word's capital: a last resort
        for word in sorted(set(WORD.findall(source))):  # sorted: set order changes with the process's hash seed
            if len(word) < 4 or fold(word) in STOPWORDS:
                continue
            occurrences[fold(word)] += 1
            translations = set().union(*(lexicon.get(form, set()) for form in word_forms(word)))
            for candidate in reference_words:
                if len(candidate) >= 3 and not word_forms(candidate).isdisjoint(
                        set().union(*(word_forms(t) for t in translations))):
                    counts[(fold(word), candidate.lower())] += 1
                    break
    spelt: Counter = Counter()
    for (word, target), count in counts.items():
        spelt[(word, spellings[target].most_common(1)[0][0])] += count
    return spelt, occurrences


def build_glossary(counts: Counter, occurrences: Counter, size: int, consistency: float = 0.5) -> dict[str, str]:
    """The ``size`` most frequent source words, each with its most frequent reference word, among the words whose
    reference word is that one in at least ``consistency`` of the sentences holding them (a term, not a word
    with many translations like *seine*) and at least twice."""
    best: dict[str, tuple[int, str]] = {}
    for (word, target), count in counts.items():
        if count >= 2 and count >= consistency * occurrences[word] and (word not in best or count > best[word][0]):
            best[word] = (count, target)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))[:size]
    return {word: target for word, (_, target) in ranked}


def term_in(target: str, text: str) -> bool:
    """Whether ``target`` appears in ``text`` as whole words, case-insensitively."""
    return re.search(r"(?<!\w)" + re.escape(target) + r"(?!\w)", text, re.IGNORECASE) is not None


def confidence_scores(translator: Translator, translations: list, pairs: list[tuple[str, str]]) -> dict | None:
    """How well the confidences of ``translations`` tell acceptable ones (sentence chrF >= the model's calibration
    threshold) from the others: AUROC and expected calibration error (10 bins), as ``translator-calibrate`` scores
    them; None for a model without calibration."""
    if translator.calibration is None:
        return None
    threshold = translator.calibration.acceptable_chrf
    labels = np.array([sacrebleu.sentence_chrf(one.text, [reference]).score >= threshold
                       for one, (_, reference) in zip(translations, pairs)], dtype=float)
    probabilities = np.array([one.confidence.probability for one in translations])
    return {"sentences": len(labels), "acceptable": float(labels.mean()), "mean_confidence": float(probabilities.mean()),
            "auroc": auroc(probabilities, labels) if 0 < labels.mean() < 1 else None,
            "ece": expected_calibration_error(probabilities, labels)}


def timed_pairs(translator: Translator, texts: list[str], repeats: int, glossary, **options) -> dict:
    """Sentences per second without and with ``glossary``, timed in ``repeats`` alternating pairs (so a slow spell
    of the machine hits both alike); medians, and the median of the pairs' slowdowns."""
    plain, constrained = [], []
    for _ in range(repeats):
        for glossed, into in ((None, plain), (glossary, constrained)):
            started = time.perf_counter()
            translator.translate(texts, glossary=glossed, **options)
            into.append(len(texts) / (time.perf_counter() - started))
    return {"without": statistics.median(plain), "with": statistics.median(constrained),
            "slowdown": statistics.median(a / b for a, b in zip(plain, constrained)),
            "pairs": [[a, b] for a, b in zip(plain, constrained)]}


def run_direction(model_dir: Path, data: Path, sentences: int, beam_size: int, seed: int,
                  methods: list[str], no_term_sentences: int, speed_sentences: int, repeats: int) -> dict:
    translator = Translator.from_pretrained(model_dir, device="cpu")
    source, target = translator.metadata["source_language"], translator.metadata["target_language"]
    pairs = load_pairs(data, source, target)
    counts, occurrences = derive_entries(pairs, load_lexicon(data, source, target))
    entries = build_glossary(counts, occurrences, 1000)
    glossary = parse_glossary(entries)
    rng = random.Random(seed)
    matched = [(pair, find_terms(pair[0], glossary)) for pair in pairs]
    # A term sentence's reference uses every target term of the glossary entries its source holds (the glossary is
    # right for it, as a user's would be); sentences where an entry contradicts the reference are in neither set.
    with_terms = [pair for pair, found in matched if found and all(term_in(m.entry.target, pair[1]) for m in found)]
    contradicted = sum(1 for pair, found in matched if found) - len(with_terms)
    without = [pair for pair, found in matched if not found]
    term_set = rng.sample(with_terms, min(sentences, len(with_terms)))
    no_term_set = rng.sample(without, min(no_term_sentences, len(without)))
    options = {"beam_size": beam_size}

    plain_detailed = translator.translate_detailed([s for s, _ in term_set], **options)
    plain = [one.text for one in plain_detailed]
    found = [(match.entry.target, index) for index, (s, _) in enumerate(term_set) for match in find_terms(s, glossary)]
    references = [[r for _, r in term_set]]
    no_term_plain = translator.translate([s for s, _ in no_term_set], **options)
    no_term_references = [[r for _, r in no_term_set]]
    speed_glossary = parse_glossary(dict(list(entries.items())[:100]))
    mixed = [s for s, _ in term_set[: speed_sentences // 2] + no_term_set[: speed_sentences // 2]]
    result = {
        "model": str(model_dir), "direction": f"{source}-{target}", "glossary_entries": len(glossary),
        "term_sentences": len(term_set), "no_term_sentences": len(no_term_set), "terms": len(found),
        "sentences_whose_reference_contradicts_an_entry": contradicted,
        "terms_in_output_without_glossary": sum(term_in(t, plain[i]) for t, i in found) / max(1, len(found)),
        "bleu_terms_without": sacrebleu.corpus_bleu(plain, references).score,
        "bleu_no_terms_without": sacrebleu.corpus_bleu(no_term_plain, no_term_references).score,
        "speed_sentences": len(mixed), "methods": {},
    }
    for method in methods:
        translator.glossary_method = method
        constrained_detailed = translator.translate_detailed([s for s, _ in term_set], glossary=glossary, **options)
        constrained = [one.text for one in constrained_detailed]
        no_term_glossary = translator.translate([s for s, _ in no_term_set], glossary=glossary, **options)
        speed = timed_pairs(translator, mixed, repeats, speed_glossary, **options)
        result["methods"][method] = {
            "terms_in_output": sum(term_in(t, constrained[i]) for t, i in found) / max(1, len(found)),
            "bleu_terms_with": sacrebleu.corpus_bleu(constrained, references).score,
            "bleu_no_terms_with": sacrebleu.corpus_bleu(no_term_glossary, no_term_references).score,
            "misses": [{"source": term_set[i][0], "term": t, "output": constrained[i]}
                       for t, i in found if not term_in(t, constrained[i])],
            "no_term_outputs_identical": sum(a == b for a, b in zip(no_term_plain, no_term_glossary))
            / max(1, len(no_term_set)),
            "sentences_per_s_without": speed["without"], "sentences_per_s_100_entries": speed["with"],
            "slowdown": speed["slowdown"], "speed_pairs": speed["pairs"],
            "confidence_without": confidence_scores(translator, plain_detailed, term_set),
            "confidence_with": confidence_scores(translator, constrained_detailed, term_set),
            "examples": [{"source": s, "reference": r, "without": p, "with": c}
                         for (s, r), p, c in list(zip(term_set, plain, constrained))[:5]],
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="checkpoint directories, e.g. models/de-en")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--sentences", type=int, default=300, help="term-set sentences per direction (default 300)")
    parser.add_argument("--no-term-sentences", type=int, default=300,
                        help="no-term-set sentences per direction (default 300)")
    parser.add_argument("--speed-sentences", type=int, default=200,
                        help="sentences of the speed set, half with terms (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="timed pairs (without, with) of the speed set; medians (default 5)")
    parser.add_argument("--beam-size", type=int, default=5, help="beam size (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    parser.add_argument("--methods", default="align", help="comma-separated glossary methods to measure, of "
                        f"{','.join(GLOSSARY_METHODS)} (default align, the library's)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    rows = [run_direction(model, args.data, args.sentences, args.beam_size, args.seed, methods, args.no_term_sentences,
                          args.speed_sentences, args.repeats) for model in args.models]
    header = (f"{'direction':<9} {'method':<8} {'sents':>5} {'terms':>5} {'in out':>7} {'(none)':>7} "
              f"{'BLEU terms':>16} {'BLEU no-terms':>16} {'sent/s':>15} {'slowdown':>8}")
    lines = [header, "-" * len(header)]
    for row in rows:
        for method, measured in row["methods"].items():
            lines.append(
                f"{row['direction']:<9} {method:<8} {row['term_sentences']:>5} {row['terms']:>5} "
                f"{100 * measured['terms_in_output']:>6.1f}% {100 * row['terms_in_output_without_glossary']:>6.1f}% "
                f"{row['bleu_terms_without']:>7.2f} -> {measured['bleu_terms_with']:>5.2f} "
                f"{row['bleu_no_terms_without']:>7.2f} -> {measured['bleu_no_terms_with']:>5.2f} "
                f"{measured['sentences_per_s_without']:>6.1f} -> {measured['sentences_per_s_100_entries']:>5.1f} "
                f"{measured['slowdown']:>7.2f}x")
    lines += ["", "confidence on the term set, without -> with the glossary (AUROC, ECE; acceptable: chrF >= threshold)"]
    for row in rows:
        for method, measured in row["methods"].items():
            without, with_glossary = measured["confidence_without"], measured["confidence_with"]
            if without and with_glossary:
                lines.append(f"{row['direction']:<9} {method:<8} AUROC {_figure(without['auroc'])} -> "
                             f"{_figure(with_glossary['auroc'])}, ECE {without['ece']:.3f} -> {with_glossary['ece']:.3f}, "
                             f"acceptable {without['acceptable']:.2f} -> {with_glossary['acceptable']:.2f}, mean "
                             f"confidence {without['mean_confidence']:.2f} -> {with_glossary['mean_confidence']:.2f}")
    machine = describe_machine()
    lines.append(f"beam {args.beam_size}; {machine_line(machine)}")
    print_and_save("\n".join(lines), {"machine": machine, "beam_size": args.beam_size, "threads": args.threads,
                                      "sentences": args.sentences, "no_term_sentences": args.no_term_sentences,
                                      "speed_sentences": args.speed_sentences, "repeats": args.repeats,
                                      "directions": rows}, args.json)


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
