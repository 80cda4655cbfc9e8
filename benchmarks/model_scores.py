"""The shipped models' scores per domain, as ``translator-release`` measured and stored them: the README's
per-domain table.

Each model's ``metadata.json`` holds ``test.<set name>.<search>`` (BLEU, chrF and the command that reproduces
them) for every named test set it was released with. This prints one row per model and one column per set
(BLEU / chrF with the model's default search, ``beam5`` unless its ``default_search`` says greedy) and writes
them as JSON; nothing is translated here.

Usage::

    python benchmarks/model_scores.py models/de-en models/en-de models/fr-en models/en-fr \\
        --json benchmarks/results/model_scores.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import print_and_save  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="model directories")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser.parse_args(argv)


def default_search(metadata: dict) -> str:
    """``greedy`` or ``beam<N>``: the key under which release stored the scores of the model's default search."""
    beam = int(metadata.get("default_search", {}).get("beam_size", 5))
    return "greedy" if beam == 1 else f"beam{beam}"


def model_scores(model: Path) -> dict:
    """The model's stored test scores with its default search, by set name."""
    metadata = json.loads((model / "metadata.json").read_text(encoding="utf-8"))
    search = default_search(metadata)
    sets = {}
    for name, by_search in metadata.get("test", {}).items():
        scored = by_search.get(search)
        if scored:
            sets[name] = {"bleu": scored["bleu"], "chrf": scored["chrf"], "command": scored.get("command")}
    return {"model": model.as_posix(), "search": search, "sets": sets}


def table(rows: list[dict]) -> str:
    names = list(dict.fromkeys(name for row in rows for name in row["sets"]))
    lines = ["| model | search | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for row in rows:
        cells = [f"{row['sets'][name]['bleu']:.1f} / {row['sets'][name]['chrf']:.1f}" if name in row["sets"] else "–"
                 for name in names]
        lines.append(f"| `{row['model']}` | {row['search'].replace('beam', 'beam ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", "BLEU / chrF (sacreBLEU, cased) as stored by translator-release in each metadata.json"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = [model_scores(model) for model in args.models]
    print_and_save(table(rows), {"benchmark": "model_scores", "models": rows}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
