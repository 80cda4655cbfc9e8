"""Would more features calibrate confidence within each domain? A measurement of candidate features.

``translator-calibrate`` fits one logistic model over three domains, and within a domain it is off (en-de-fast:
captions under-rated by 0.18, news over-rated by 0.14, *Confidence* in docs/translating.md). This takes the same
split (``training.release.calibrate.split_set``), translates it once with the model's default search, and refits
on the fitting halves with the shipped features plus candidates that might carry a sense of domain:

* ``source_rarity`` / ``output_rarity``: mean negative log-probability of the source / output pieces under the
  sentencepiece unigram model (rare pieces: names, news vocabulary);
* ``chars_per_piece``: source characters per source piece (long words split into many pieces);
* ``squares``: squares of mean log-probability and source length, and their product (a curved fit).

For each, the held-out halves' ECE, AUROC and mean confidence minus share acceptable per set and overall.

Usage::

    python benchmarks/calibration_features.py models/en-de-fast --set multi30k ../shared/data/multi30k/val \
        --set tatoeba ../shared/data/tatoeba/deu-eng/val --set newstest2012 ../shared/data/newstest/de-en.newstest2012 \
        --json benchmarks/results/calibration_features_en-de-fast.json

The sets are given as to ``translator-calibrate`` (``--set NAME PREFIX`` or ``NAME SRC REF``, ``--sets-from``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, print_and_save  # noqa: E402

from training.release.calibrate import ACCEPTABLE_CHRF, judge, split_set  # noqa: E402
from training.release.logistic import auroc, expected_calibration_error, fit_logistic  # noqa: E402
from training.release.named_sets import add_set_arguments, sets_from_args  # noqa: E402
from translator.confidence import FEATURE_NAMES  # noqa: E402
from translator.translate import Translator  # noqa: E402

CANDIDATES = {
    "shipped": [],
    "+source_rarity": ["source_rarity"],
    "+output_rarity": ["output_rarity"],
    "+chars_per_piece": ["chars_per_piece"],
    "+squares": ["mean_log_prob_sq", "source_length_sq", "mean_log_prob_x_length"],
    "+all": ["source_rarity", "output_rarity", "chars_per_piece", "mean_log_prob_sq", "source_length_sq",
             "mean_log_prob_x_length"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    add_set_arguments(parser, what="validation", weights=False)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    translator = Translator.from_pretrained(args.model, device="cpu")
    try:
        sets = sets_from_args(args, (translator.metadata.get("source_language"),
                                     translator.metadata.get("target_language")))
    except ValueError as error:
        parser.error(str(error))
    source, target = translator.source_tokenizer, translator.target_tokenizer
    # A unigram sentencepiece model's piece scores are log-probabilities.
    source_score = np.array([source._sp.GetScore(i) for i in range(source.vocab_size)])
    target_score = np.array([target._sp.GetScore(i) for i in range(target.vocab_size)])
    rows = []
    for one in sets:
        fitting, held_out = split_set(one)
        for fit, pairs in ((True, fitting), (False, held_out)):
            for judged in judge(translator, one.name, pairs, fit=fit):
                ids = source.encode([judged.source])[0] or [0]
                output = target.encode([judged.translation])[0] or [0]
                features = dict(judged.features)
                features.update(
                    source_rarity=float(-source_score[ids].mean()), output_rarity=float(-target_score[output].mean()),
                    chars_per_piece=len(judged.source) / len(ids),
                    mean_log_prob_sq=features["mean_log_prob"] ** 2,
                    source_length_sq=features["source_length"] ** 2,
                    mean_log_prob_x_length=features["mean_log_prob"] * features["source_length"])
                rows.append((one.name, fit, judged.chrf >= ACCEPTABLE_CHRF, features))
    set_names = np.array([name for name, _, _, _ in rows])
    fit = np.array([fitted for _, fitted, _, _ in rows])
    labels = np.array([acceptable for _, _, acceptable, _ in rows], dtype=float)
    results = {}
    for label, extra in CANDIDATES.items():
        names = list(FEATURE_NAMES) + extra
        matrix = np.array([[features[name] for name in names] for _, _, _, features in rows])
        probabilities = fit_logistic(matrix[fit], labels[fit]).predict(matrix[~fit])
        held_labels, held_sets = labels[~fit], set_names[~fit]
        scores = {}
        for name in [one.name for one in sets] + ["overall"]:
            chosen = np.ones(len(held_sets), bool) if name == "overall" else held_sets == name
            p, y = probabilities[chosen], held_labels[chosen]
            scores[name] = {"ece": round(expected_calibration_error(p, y), 4), "auroc": round(auroc(p, y), 4),
                            "gap": round(float(p.mean() - y.mean()), 4)}
        results[label] = scores
    columns = [one.name for one in sets] + ["overall"]
    lines = [f"{args.model}, held-out halves: ECE / AUROC (mean confidence − share acceptable)", "",
             "| features | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for label, scores in results.items():
        lines.append(f"| {label} | " + " | ".join(
            f"{scores[c]['ece']:.3f} / {scores[c]['auroc']:.3f} ({scores[c]['gap']:+.3f})" for c in columns) + " |")
    print_and_save("\n".join(lines), {"machine": describe_machine(), "model": str(args.model), "results": results},
                   args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
