"""Proper names kept, and what keeping them costs: each model with and without
:mod:`translator.text.names`, in the same run, in three conditions: "without" (``Translator.masks_names`` and
``restores_names`` off), "restored" (garbled names put back after search only) and "masked" (both: rare names
also carried through search as placeholders; for a German source, only names the target language capitalises too).

Five measurements per model:

* names kept: generated sentences of the source language with a name in them, the names of
  ``benchmarks/passthrough.py`` (the ones the rules were developed on) and a held-out list they never saw;
  a name is kept when it occurs verbatim in the translation;
* BLEU on named validation sets (``--set LANG:NAME=SRC:REF``, first ``--limit`` lines), and how many outputs
  each condition changed against the one before it: it must not cost BLEU on real text;
* prepositions: of the generated sentences whose name follows a preposition (*going to {name}*), the share whose
  translation keeps the name with a right preposition before it (a masked name can lose its preposition);
* headings: title-case headings of the source language (:data:`HEADINGS`, no names in them), how many of their
  words masking takes for names (each comes out untranslated), and their translations in each condition;
* speed: sentences/s on the first validation set without and "masked", in alternating pairs (the machine
  drifts), the median ratio reported. Putting names back needs the search's attention, so it costs time even
  where it changes nothing.

Usage::

    python benchmarks/names.py models/de-en models/en-de \
        --set de-en:tatoeba=../shared/data/tatoeba/deu-eng/val.de:../shared/data/tatoeba/deu-eng/val.en \
        --set en-de:tatoeba=../shared/data/tatoeba/deu-eng/val.en:../shared/data/tatoeba/deu-eng/val.de ... \
        --json benchmarks/results/names.json

``LANG`` is a direction (``de-en``) or a source language (``de``): a model uses the sets that name its
direction or its source language. Speed is timed on the model's first set.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import sacrebleu

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, print_and_save  # noqa: E402
from passthrough import TOKENS  # noqa: E402
from pausing import paused  # noqa: E402

from translator.translate import Translator  # noqa: E402

# Names the rule was not developed on: common and rare, people and places, several scripts' romanisations.
HELD_OUT = ["Ingrid", "Dmitri", "Nakamura", "Wrocław", "Guadalajara", "Kowalski", "Siobhan", "Tbilisi",
            "Oluwaseun", "Reykjavík", "Bjørn", "Fatima", "Hiroshi", "Valparaíso", "Svetlana", "Eindhoven",
            "Chiara", "Mbeki", "Jürgen", "Montpellier"]

TEMPLATES = {
    "de": ["{name} hat mir gestern einen Brief geschrieben.", "Ich habe lange nicht mehr mit {name} gesprochen.",
           "Im Sommer fahren wir nach {name}.", "Kennst du {name}?", "{name} kommt morgen zu Besuch.",
           "Das Paket ist aus {name} gekommen."],
    "en": ["{name} wrote me a letter yesterday.", "I haven't talked to {name} for a long time.",
           "In the summer we are going to {name}.", "Do you know {name}?", "{name} is coming to visit tomorrow.",
           "The parcel came from {name}."],
    "fr": ["{name} m'a écrit une lettre hier.", "Je n'ai pas parlé à {name} depuis longtemps.",
           "Cet été, nous allons à {name}.", "Tu connais {name} ?", "{name} vient nous voir demain.",
           "Le colis est venu de {name}."],
}


# The templates above whose name follows a preposition ("talked to {name}", "going to", "came from"), by index, and
# the prepositions a right translation puts before the name, per direction.
PREPOSITIONS = {
    "en-de": {1: ["mit", "zu"], 2: ["nach", "zu", "zum", "zur", "in"], 5: ["aus", "von", "vom"]},
    "en-fr": {1: ["à", "au", "avec"], 2: ["à", "au", "aux", "en", "chez"], 5: ["de", "d", "du", "des"]},
    "de-en": {1: ["to", "with"], 2: ["to", "into"], 5: ["from"]},
    "fr-en": {1: ["to", "with"], 2: ["to", "into"], 5: ["from"]},
}

# Headings as documents and web pages write them, in title case: ordinary words with capitals, no names. A word of
# these that masking carries through search comes out untranslated (en-de *Asked Questions*).
HEADINGS = {
    "en": ["Frequently Asked Questions", "Terms and Conditions", "Privacy Policy", "Getting Started",
           "Installation Instructions", "Weather Conditions", "Product Overview", "Customer Reviews", "Contact Us",
           "Table of Contents", "Release Notes", "Known Issues", "System Requirements", "Shipping Information",
           "Account Settings", "Related Articles", "Latest News", "About the Author", "Opening Hours",
           "Payment Methods"],
    "fr": ["Questions Fréquentes", "Conditions Générales de Vente", "Politique de Confidentialité", "Mentions Légales",
           "Nous Contacter", "Table des Matières", "Notes de Version", "Configuration Requise",
           "Informations de Livraison", "Paramètres du Compte", "Articles Connexes", "Dernières Nouvelles",
           "Horaires d'Ouverture", "Moyens de Paiement", "Guide de Démarrage", "Avis des Clients",
           "Problèmes Connus", "Présentation du Produit", "Conditions Météorologiques", "Instructions d'Installation"],
    "de": ["Häufig Gestellte Fragen", "Allgemeine Geschäftsbedingungen", "Datenschutzerklärung", "Erste Schritte",
           "Installationsanleitung", "Wetterbedingungen", "Produktübersicht", "Kundenbewertungen", "Kontakt",
           "Inhaltsverzeichnis", "Versionshinweise", "Bekannte Probleme", "Systemanforderungen", "Versandinformationen",
           "Kontoeinstellungen", "Verwandte Artikel", "Neueste Nachrichten", "Über den Autor", "Öffnungszeiten",
           "Zahlungsmethoden"],
}

CONDITIONS = ("without", "restored", "masked")


def set_condition(translator: Translator, condition: str) -> None:
    """Names not kept ("without"), put back after search ("restored"), or also masked before it ("masked")."""
    translator.restores_names = condition != "without"
    translator.masks_names = condition == "masked"


def name_sentences(language: str, names: list[str]) -> list[tuple[str, str]]:
    return [(template.format(name=name), name) for name in names for template in TEMPLATES[language]]


def kept(translator: Translator, sentences: list[tuple[str, str]]) -> tuple[float, list[dict]]:
    outputs = translator.translate([text for text, _ in sentences])
    misses = [{"source": text, "translation": output, "name": name}
              for (text, name), output in zip(sentences, outputs) if name not in output]
    return 1 - len(misses) / len(sentences), misses[:8]


def prepositions_kept(translator: Translator, direction: str, names: list[str]) -> dict | None:
    """Of the sentences whose name follows a preposition, the share whose translation has the name verbatim with a
    right preposition (:data:`PREPOSITIONS`) before it; and of those with the name, the share with the preposition.
    A masked name was seen losing its preposition, or getting one that suits a number (*fahren wir nach Zürich* →
    *drive after Zürich*, as *nach 10:30* is *after 10:30*). None for a direction without a list."""
    if direction not in PREPOSITIONS:
        return None
    source = direction.split("-")[0]
    sentences = [(TEMPLATES[source][index].format(name=name), name, words)
                 for name in names for index, words in PREPOSITIONS[direction].items()]
    outputs = translator.translate([text for text, _, _ in sentences])
    kept_name = [(text, output, name, words) for (text, name, words), output in zip(sentences, outputs)
                 if name in output]
    losses = [{"source": text, "translation": output} for text, output, name, words in kept_name
              if not re.search(rf"(?<!\w)(?:{'|'.join(words)})(?:\s+|['’]){re.escape(name)}", output, re.IGNORECASE)]
    return {"sentences": len(sentences), "name_kept": len(kept_name),
            "preposition_kept": 1 - len(losses) / len(kept_name) if kept_name else None,
            "name_and_preposition": (len(kept_name) - len(losses)) / len(sentences), "losses": losses[:8]}


def measure(model_dir: Path, sets: list[tuple[str, str, Path, Path]], limit: int, pairs: int, device: str,
            pause: list[int]) -> dict:
    translator = Translator.from_pretrained(model_dir, device=device)
    source, target = translator.metadata["source_language"], translator.metadata["target_language"]
    result: dict = {"model": str(model_dir), "direction": f"{source}-{target}", "names": {}, "sets": {}}
    for label, names in (("development", TOKENS["name"]), ("held-out", HELD_OUT)):
        sentences = name_sentences(source, names)
        for condition in CONDITIONS:
            set_condition(translator, condition)
            share, misses = kept(translator, sentences)
            result["names"][f"{label}, {condition}"] = {"kept": share, "sentences": len(sentences), "misses": misses}
    result["prepositions"] = {}
    for condition in CONDITIONS:
        set_condition(translator, condition)
        result["prepositions"][condition] = prepositions_kept(translator, f"{source}-{target}",
                                                              TOKENS["name"] + HELD_OUT)
    headings = HEADINGS[source]
    set_condition(translator, "masked")  # headings hold no numbers or URLs: every masked span is a "name"
    masked = {text: list(prepared.masked.spans) if prepared.masked is not None else []
              for text, prepared in zip(headings, translator.prepare(headings))}
    result["headings"] = {"headings": len(headings), "words_masked": sum(len(words) for words in masked.values()),
                          "masked": {text: words for text, words in masked.items() if words}, "translations": {}}
    for condition in CONDITIONS:
        set_condition(translator, condition)
        result["headings"]["translations"][condition] = dict(zip(headings, translator.translate(headings)))
    timing_texts = None
    for key, name, src, ref in sets:
        if key not in (source, f"{source}-{target}"):
            continue
        texts = src.read_text(encoding="utf-8").splitlines()[:limit]
        references = ref.read_text(encoding="utf-8").splitlines()[:limit]
        timing_texts = timing_texts or texts
        outputs = {}
        for condition in CONDITIONS:
            set_condition(translator, condition)
            outputs[condition] = translator.translate(texts)
        scores: dict = {"sentences": len(texts)}
        for before, condition in zip((None, *CONDITIONS), CONDITIONS):
            scores[f"bleu_{condition}"] = sacrebleu.corpus_bleu(outputs[condition], [references]).score
            if before is not None:
                changed = [{"source": s, before: a, condition: b}
                           for s, a, b in zip(texts, outputs[before], outputs[condition]) if a != b]
                scores[f"changed_{condition}"] = len(changed)
                scores[f"examples_{condition}"] = changed[:8]
        result["sets"][name] = scores
    if timing_texts and pairs:
        ratios, speeds = [], {False: [], True: []}
        with paused(pause):
            for pair in range(pairs):
                seconds = {}
                for restores in ((False, True) if pair % 2 == 0 else (True, False)):  # alternating order
                    set_condition(translator, "masked" if restores else "without")
                    start = time.perf_counter()
                    translator.translate(timing_texts)
                    seconds[restores] = time.perf_counter() - start
                    speeds[restores].append(len(timing_texts) / seconds[restores])
                ratios.append(seconds[True] / seconds[False])
        result["speed"] = {"sentences": len(timing_texts), "pairs": pairs,
                           "sentences_per_s_without": statistics.median(speeds[False]),
                           "sentences_per_s_with": statistics.median(speeds[True]),
                           "slowdown_median": statistics.median(ratios), "slowdowns": ratios}
    return result


def parse_set(text: str) -> tuple[str, str, Path, Path]:
    key, _, rest = text.partition(":")
    name, _, files = rest.partition("=")
    src, _, ref = files.partition(":")
    if not (key and name and src and ref):
        raise argparse.ArgumentTypeError(f"--set wants LANG:NAME=SRC:REF, got {text!r}")
    return key, name, Path(src), Path(ref)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="model directories to measure")
    parser.add_argument("--set", dest="sets", type=parse_set, action="append", default=[],
                        help="LANG:NAME=SRC:REF (LANG: source language or direction), repeatable")
    parser.add_argument("--limit", type=int, default=1000, help="lines of each set (default 1000)")
    parser.add_argument("--pairs", type=int, default=4, help="timing pairs, in alternating order (default 4)")
    parser.add_argument("--device", default="cpu", help="device (default cpu)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[],
                        help="stop this process (e.g. a training) while timing; repeatable")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    results = [measure(model, args.sets, args.limit, args.pairs, args.device, args.pause_pid) for model in args.models]
    lines = ["| model | names kept, development (without → restored → masked) | held-out "
             "| BLEU per set (without → restored → masked; outputs changed by each) | heading words masked "
             "| name kept with the right preposition (without → restored → masked) | slowdown, masked |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        names = r["names"]
        cell = lambda label: " → ".join(f"{100 * names[f'{label}, {c}']['kept']:.1f}%"  # noqa: E731
                                        for c in CONDITIONS)
        bleu = "; ".join(f"{n} " + " → ".join(f"{s[f'bleu_{c}']:.2f}" for c in CONDITIONS)
                         + f" ({s['changed_restored']}, {s['changed_masked']} of {s['sentences']})"
                         for n, s in r["sets"].items())
        speed = f"{r['speed']['slowdown_median']:.3f}×" if "speed" in r else "–"
        heads = f"{r['headings']['words_masked']} in {r['headings']['headings']}"
        preps = " → ".join("–" if not r["prepositions"][c]
                           else f"{100 * r['prepositions'][c]['name_and_preposition']:.1f}%" for c in CONDITIONS)
        lines.append(f"| {r['model']} | {cell('development')} | {cell('held-out')} | {bleu} | {heads} | {preps} "
                     f"| {speed} |")
    print_and_save("\n".join(lines), {"machine": describe_machine(), "results": results}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
