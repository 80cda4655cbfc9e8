"""Accuracy of the service's language detection on the Multi30k validation sentences (de, en, fr).

Runs ``service.scheduling.detect.LanguageDetector`` restricted to the given languages (what a server with
de/en/fr models uses for ``source: "auto"``) on every line of ``val.{lang}``, as written, lower-cased
(what people type) and upper-cased; prints a table and writes JSON with the confusion counts and
up to 20 misdetected sentences per case.

    python benchmarks/detect_accuracy.py --json benchmarks/results/detect_accuracy.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.scheduling.detect import LanguageDetector  # noqa: E402

CASES = {"as written": str, "lower-cased": str.lower, "upper-cased": str.upper}


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write the JSON; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/multi30k"),
                        help="directory holding val.<lang> (default ../shared/data/multi30k)")
    parser.add_argument("--split", default="val", help="file stem to read (default val)")
    parser.add_argument("--languages", nargs="+", default=["de", "en", "fr"], help="languages (default de en fr)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    detector = LanguageDetector(args.languages)
    results = {"split": args.split, "languages": args.languages, "detector": "lingua-language-detector "
               + _version("lingua-language-detector"), "cases": {}}
    print(f"{'case':<12} " + " ".join(f"{lang:>8}" for lang in args.languages) + f" {'all':>8}")
    for case, transform in CASES.items():
        correct: Counter = Counter()
        totals: Counter = Counter()
        confusion: Counter = Counter()
        errors = []
        for language in args.languages:
            lines = [line for line in (args.data / f"{args.split}.{language}").read_text("utf-8").splitlines()
                     if line.strip()]
            for line in lines:
                found = detector.detect(transform(line))
                guess = found[0].language if found else "none"
                totals[language] += 1
                confusion[f"{language}->{guess}"] += 1
                if guess == language:
                    correct[language] += 1
                elif len(errors) < 20:
                    errors.append({"text": transform(line), "language": language, "detected": guess})
        per_language = {lang: correct[lang] / totals[lang] for lang in args.languages}
        overall = sum(correct.values()) / sum(totals.values())
        results["cases"][case] = {
            "accuracy": overall, "per_language": per_language, "sentences": sum(totals.values()),
            "correct": sum(correct.values()), "confusion": dict(confusion), "errors": errors,
        }
        print(f"{case:<12} " + " ".join(f"{100 * per_language[lang]:>7.2f}%" for lang in args.languages)
              + f" {100 * overall:>7.2f}%  ({sum(correct.values())}/{sum(totals.values())})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


if __name__ == "__main__":
    sys.exit(main())
