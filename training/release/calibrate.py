"""``translator-calibrate``: fit a model's confidence (``calibration.json``) on validation sets of several domains.

Each named set is sampled (at most ``max_sentences`` lines, seeded) and the sample split in two: the
*fitting* part is translated with the model's default search and a logistic model of "acceptable" (sentence
chrF against the reference >= ``acceptable_chrf``) is fitted on its features (:mod:`translator.confidence`);
the *held-out* part is only scored: AUROC and expected calibration error per set and overall. The calibration
(with the split's seed, so ``benchmarks/confidence.py`` can score the same held-out sentences again) goes into
the model directory as ``calibration.json``, a summary into its ``metadata.json`` under ``confidence``; the
directory gets a fresh manifest and is swapped in atomically, as ``translator-release`` does.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import sacrebleu
import torch

from training.config import portable_path
from training.data.clean import read_parallel
from training.release.logistic import auroc, expected_calibration_error, fit_logistic
from training.release.named_sets import NamedSet, add_set_arguments, sets_from_args
from translator.confidence import FEATURE_NAMES, Calibration
from translator.search.options import SearchOptions
from translator.store.atomic import clean_leftovers, folder_lock, fsync_tree, replace_directory, staging_directory
from translator.store.checkpoint import METADATA_FILE, CheckpointError, load_checkpoint, make_readable, read_metadata
from translator.store.manifest import MANIFEST_FILE, read_verified, write_manifest
from translator.store.metadata import validate_metadata
from translator.translate import Translator

ACCEPTABLE_CHRF = 50.0
MAX_SENTENCES = 1000
FIT_SHARE = 0.5
SEED = 0
BATCH_SENTENCES = 64


@dataclass
class Judged:
    """One validation sentence translated: its set, whether it is in the fitting part, features and chrF."""

    set_name: str
    fit: bool
    features: dict[str, float]
    chrf: float
    source: str
    translation: str


def split_set(named_set: NamedSet, max_sentences: int = MAX_SENTENCES, fit_share: float = FIT_SHARE,
              seed: int = SEED) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(fitting, held-out) (source, reference) pairs of a seeded sample of ``named_set``; the same arguments
    give the same split."""
    sources, references = read_parallel(named_set.src, named_set.ref)
    rng = random.Random(f"{seed}:{named_set.name}")
    picked = rng.sample(range(len(sources)), min(max_sentences, len(sources)))
    cut = round(fit_share * len(picked))
    pairs = [(sources[index], references[index]) for index in picked]
    return pairs[:cut], pairs[cut:]


def judge(translator: Translator, set_name: str, pairs: Sequence[tuple[str, str]], fit: bool,
          options: SearchOptions | None = None) -> list[Judged]:
    """Translate the sources of ``pairs`` (in batches of similar length) and score each against its reference."""
    options = options or translator.default_search
    prepared = translator.prepare([source for source, _ in pairs])
    judged: list[Judged | None] = [None] * len(pairs)
    order = sorted((i for i, text in enumerate(prepared) if not text.blank), key=lambda i: len(prepared[i].ids))
    for start in range(0, len(order), BATCH_SENTENCES):
        batch = order[start:start + BATCH_SENTENCES]
        found = translator.translate_ids([prepared[i].ids for i in batch], options)
        for index, result in zip(batch, found):
            assert result is not None
            text = translator.finish(prepared[index], result).text
            source, reference = pairs[index]
            judged[index] = Judged(set_name, fit, translator.features(prepared[index], result.hypotheses[0]),
                                   sacrebleu.sentence_chrf(text, [reference]).score, source, text)
    return [one for one in judged if one is not None]


def fit_calibration(judged: Sequence[Judged], acceptable_chrf: float = ACCEPTABLE_CHRF) -> Calibration:
    """A :class:`Calibration` fitted on ``judged`` (all of them: pass only the fitting part)."""
    features = feature_matrix(judged)
    labels = np.array([one.chrf >= acceptable_chrf for one in judged], dtype=float)
    model = fit_logistic(features, labels)
    reference = features[labels == 1].mean(axis=0)
    return Calibration(acceptable_chrf=acceptable_chrf, features=list(FEATURE_NAMES), means=model.means.tolist(),
                       scales=model.scales.tolist(), weights=model.weights.tolist(), bias=model.bias,
                       reference=reference.tolist())


def feature_matrix(judged: Sequence[Judged]) -> np.ndarray:
    """(sentences, features) in :data:`FEATURE_NAMES` order."""
    return np.array([[one.features[name] for name in FEATURE_NAMES] for one in judged], dtype=float)


def scores(calibration: Calibration, judged: Sequence[Judged]) -> dict[str, dict[str, float]]:
    """AUROC, ECE (10 bins), share acceptable and mean confidence, per set and ``overall``."""
    groups = {name: [one for one in judged if one.set_name == name] for name in dict.fromkeys(j.set_name for j in judged)}
    groups["overall"] = list(judged)
    report = {}
    for name, members in groups.items():
        probabilities = np.array([calibration.probability(one.features) for one in members])
        labels = np.array([one.chrf >= calibration.acceptable_chrf for one in members], dtype=float)
        report[name] = {"sentences": len(members), "acceptable": round(float(labels.mean()), 4),
                        "mean_confidence": round(float(probabilities.mean()), 4),
                        "auroc": round(auroc(probabilities, labels), 4),
                        "ece": round(expected_calibration_error(probabilities, labels), 4)}
    return report


def calibrate(model: Path, sets: list[NamedSet], acceptable_chrf: float = ACCEPTABLE_CHRF,
              max_sentences: int = MAX_SENTENCES, fit_share: float = FIT_SHARE, seed: int = SEED,
              command: str = "") -> Calibration:
    """Fit ``model``'s calibration on the fitting parts of ``sets`` and score it on their held-out parts.

    Raises:
        ValueError: too few acceptable or unacceptable translations to fit.
    """
    translator = Translator.from_pretrained(model, device="cpu")
    fitting: list[Judged] = []
    held_out: list[Judged] = []
    for named_set in sets:
        started = time.perf_counter()
        fit_pairs, held_pairs = split_set(named_set, max_sentences, fit_share, seed)
        fitting += judge(translator, named_set.name, fit_pairs, fit=True)
        held_out += judge(translator, named_set.name, held_pairs, fit=False)
        print(f"{named_set.name}: {len(fit_pairs)} + {len(held_pairs)} sentences translated in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    calibration = fit_calibration(fitting, acceptable_chrf)
    options = translator.default_search
    calibration.search = {"beam_size": options.beam_size, "length_penalty": options.length_penalty}
    calibration.fitted = {
        "sets": {one.name: {"src": portable_path(one.src), "ref": portable_path(one.ref)} for one in sets},
        "max_sentences": max_sentences, "fit_share": fit_share, "seed": seed,
        "fitting_sentences": len(fitting), "held_out": scores(calibration, held_out), "command": command,
    }
    return calibration


def write_calibration(model: Path, calibration: Calibration) -> str:
    """Put ``calibration.json`` into ``model``, its summary into ``metadata.json`` (``confidence``), and a new
    manifest; the directory is staged beside ``model``, loaded once and swapped in. Returns the new version.

    Raises:
        CheckpointError: the model does not verify.
    """
    # The lock is held for the writing only, so waiting for another calibration's write is short.
    with folder_lock(model.parent):
        clean_leftovers(model)
        staging = staging_directory(model)
        try:
            for name, data in read_verified(model).contents.items():
                if name != MANIFEST_FILE:
                    (staging / name).write_bytes(data)
            calibration.save(staging)
            metadata = read_metadata(staging)
            metadata["confidence"] = {"acceptable_chrf": calibration.acceptable_chrf,
                                      "search": calibration.search, "held_out": calibration.fitted["held_out"],
                                      "command": calibration.fitted["command"]}
            validate_metadata(metadata, staging / METADATA_FILE)
            (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
            version = write_manifest(staging)
            make_readable(staging)
            fsync_tree(staging)
            load_checkpoint(staging)  # what goes live is what verifies
            replace_directory(staging, model)
            return version
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def print_scores(report: dict[str, dict[str, float]]) -> None:
    """The held-out scores as a table."""
    width = max(len(name) for name in report)
    print(f"{'held-out set':<{width}}  sentences  acceptable  mean conf.  AUROC   ECE")
    for name, row in report.items():
        print(f"{name:<{width}}  {row['sentences']:9d}  {row['acceptable']:10.3f}  {row['mean_confidence']:10.3f}  "
              f"{row['auroc']:.3f}  {row['ece']:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-calibrate``."""
    parser = argparse.ArgumentParser(
        prog="translator-calibrate",
        description="Fit a model's confidence on validation sets of several domains and store it in the model "
        "directory (calibration.json, metadata.json's confidence, a new manifest). Each set is sampled and split "
        "into a fitting part and a held-out part; the held-out AUROC and calibration error are printed and "
        "recorded. Use one set per domain, e.g. --set multi30k ../shared/data/multi30k/val --set newstest2012 "
        "../shared/data/newstest/de-en.newstest2012.",
    )
    parser.add_argument("model", type=Path, help="model directory, e.g. models/de-en (rewritten atomically)")
    add_set_arguments(parser, what="validation", weights=False)
    parser.add_argument("--acceptable-chrf", type=float, default=ACCEPTABLE_CHRF,
                        help=f"a translation is acceptable when its sentence chrF is at least this (default "
                        f"{ACCEPTABLE_CHRF:g})")
    parser.add_argument("--max-sentences", type=int, default=MAX_SENTENCES,
                        help=f"sentences sampled per set (default {MAX_SENTENCES})")
    parser.add_argument("--fit-share", type=float, default=FIT_SHARE,
                        help=f"share of each sample fitted on; the rest is held out and scored (default {FIT_SHARE})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the sampling and split (default {SEED})")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--dry-run", action="store_true", help="fit and print the scores; write nothing")
    args = parser.parse_args(argv)
    try:
        if not 0 < args.fit_share < 1:
            raise ValueError(f"--fit-share must be between 0 and 1, got {args.fit_share}")
        if args.max_sentences < 4:
            raise ValueError(f"--max-sentences must be at least 4, got {args.max_sentences}")
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        metadata = read_metadata(args.model)
        sets = sets_from_args(args, (metadata.get("source_language"), metadata.get("target_language")))
        command = "translator-calibrate " + shlex.join(sys.argv[1:] if argv is None else argv)
        calibration = calibrate(args.model, sets, args.acceptable_chrf, args.max_sentences, args.fit_share,
                                args.seed, command)
        print_scores(calibration.fitted["held_out"])
        if not args.dry_run:
            version = write_calibration(args.model, calibration)
            print(f"wrote {args.model / 'calibration.json'}; model version {version}")
    except (CheckpointError, ValueError) as error:
        print(f"translator-calibrate: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
