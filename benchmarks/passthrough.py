"""Text that must pass through untouched: the share of numbers, dates, times, URLs, e-mail addresses,
file paths, code-like tokens and emoji that come out of translation exactly as they went in, and of
proper names (kept, not translated into another name).

The test sentences are generated: everyday sentence templates of the source language (German,
English or French) with slots filled from lists of such tokens, seeded, so every run and every
model sees the same set. A token survives when it occurs verbatim in the translation.

Usage::

    python benchmarks/passthrough.py models/de-en models/en-de --sentences 240 \
        --json benchmarks/results/passthrough.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, print_and_save  # noqa: E402

from translator.translate import Translator  # noqa: E402

TOKENS = {
    "number": ["42", "1.234", "3,5", "17", "2048", "99,90", "0,25", "1.000.000", "365", "7"],
    "date": ["05.01.2024", "2023-11-30", "12/24/2022", "31.12.1999", "2025-06-01"],
    "time": ["10:30", "07:45", "23:59", "12:00", "18:15"],
    "url": ["https://example.com/docs", "http://www.wikipedia.org/wiki/Berlin", "https://github.com/user/repo/issues/12",
            "www.example.org/kontakt", "https://translate.example.net/?q=1"],
    "email": ["anna.schmidt@example.de", "support@example.com", "jean-luc@exemple.fr", "info+news@firma.ch"],
    "path": ["/usr/local/bin/python3", "C:\\Users\\Anna\\report.docx", "~/projects/demo/main.py", "/etc/nginx/nginx.conf",
             "./scripts/build.sh"],
    "code": ["max_length", "getUserName()", "os.path.join()", "--verbose", "config.yaml.bak", "HTTP_PROXY",
             "%s", "{0}", "${HOME}"],
    "emoji": ["🙂", "🍕", "👍🏽", "🎉", "❤️", "🚀"],
    "name": ["Tom", "Maria", "Zürich", "Ahmed", "Lyon", "Katharina", "Oslo", "Pedro"],
}

TEMPLATES = {
    "de": [
        "{name} hat {number} Bücher gekauft.", "Das Treffen ist am {date} um {time}.",
        "Die Dokumentation findest du unter {url}.", "Schreib mir bitte an {email}, wenn du Fragen hast.",
        "Die Datei liegt unter {path} auf dem Server.", "Setze die Variable {code} vor dem Start.",
        "Danke für das Geschenk {emoji}", "Der Zug nach {name} fährt um {time} ab.",
        "Ich habe am {date} {number} Euro bezahlt.", "Öffne {url} und melde dich mit {email} an.",
        "Das Programm liest {path} und schreibt das Ergebnis.", "Wir sehen uns morgen {emoji}",
        "Der Befehl braucht die Option {code}.", "{name} wohnt seit {number} Jahren in Berlin.",
    ],
    "en": [
        "{name} bought {number} books.", "The meeting is on {date} at {time}.",
        "You can find the documentation at {url}.", "Please write to me at {email} if you have questions.",
        "The file is at {path} on the server.", "Set the variable {code} before starting.",
        "Thank you for the present {emoji}", "The train to {name} leaves at {time}.",
        "On {date} I paid {number} euros.", "Open {url} and sign in with {email}.",
        "The program reads {path} and writes the result.", "See you tomorrow {emoji}",
        "The command needs the option {code}.", "{name} has lived in Berlin for {number} years.",
    ],
    "fr": [
        "{name} a acheté {number} livres.", "La réunion est le {date} à {time}.",
        "Vous trouverez la documentation sur {url}.", "Écrivez-moi à {email} si vous avez des questions.",
        "Le fichier se trouve dans {path} sur le serveur.", "Définissez la variable {code} avant de commencer.",
        "Merci pour le cadeau {emoji}", "Le train pour {name} part à {time}.",
        "Le {date}, j'ai payé {number} euros.", "Ouvrez {url} et connectez-vous avec {email}.",
        "Le programme lit {path} et écrit le résultat.", "À demain {emoji}",
        "La commande a besoin de l'option {code}.", "{name} habite à Berlin depuis {number} ans.",
    ],
}


def generate(language: str, count: int, seed: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """``count`` sentences of ``language``, each with its (category, token) slots."""
    rng = random.Random(seed)
    sentences = []
    for index in range(count):
        template = TEMPLATES[language][index % len(TEMPLATES[language])]
        slots, values = [], {}
        for category in TOKENS:
            if "{" + category + "}" in template:
                values[category] = rng.choice(TOKENS[category])
                slots.append((category, values[category]))
        sentences.append((template.format(**values), slots))
    return sentences


def measure(model_dir: Path, count: int, seed: int, device: str) -> dict:
    """Translate the generated set of the model's source language; survival per category."""
    translator = Translator.from_pretrained(model_dir, device=device)
    language = translator.metadata["source_language"]
    sentences = generate(language, count, seed)
    start = time.perf_counter()
    outputs = translator.translate([text for text, _ in sentences])
    seconds = time.perf_counter() - start
    kept, total = defaultdict(int), defaultdict(int)
    failures = []
    for (source, slots), output in zip(sentences, outputs):
        for category, token in slots:
            total[category] += 1
            if token in output:
                kept[category] += 1
            elif len(failures) < 10:
                failures.append({"source": source, "translation": output, "token": token})
    protected = [c for c in total if c != "name"]
    return {
        "model": str(model_dir), "source_language": language, "sentences": len(sentences), "seconds": seconds,
        "survival": {c: kept[c] / total[c] for c in total},
        "counts": {c: [kept[c], total[c]] for c in total},
        "protected_survival": sum(kept[c] for c in protected) / max(1, sum(total[c] for c in protected)),
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="model directories to measure")
    parser.add_argument("--sentences", type=int, default=240, help="generated sentences per model (default 240)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated set (default 1)")
    parser.add_argument("--device", default="cpu", help="device (default cpu)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    results = [measure(model, args.sentences, args.seed, args.device) for model in args.models]
    categories = list(TOKENS)
    lines = ["| model | protected tokens kept | " + " | ".join(categories) + " |",
             "|---|---|" + "---|" * len(categories)]
    for result in results:
        cells = [f"{100 * result['survival'][c]:.1f}%" if c in result["survival"] else "–" for c in categories]
        lines.append(f"| {result['model']} | {100 * result['protected_survival']:.1f}% | " + " | ".join(cells) + " |")
    print_and_save("\n".join(lines), {"machine": describe_machine(), "seed": args.seed, "results": results}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
