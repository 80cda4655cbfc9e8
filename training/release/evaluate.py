"""Scoring a model on test sets with sacreBLEU: one set (:func:`evaluate`) or several named ones
(:func:`evaluate_sets`), and the table ``translator-evaluate`` prints."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import sacrebleu

from training.data.clean import read_parallel
from training.release.named_sets import NamedSet, weighted_mean, weights_in_words
from translator.search.options import DEFAULT_SEARCH, SearchOptions
from translator.translate import Translator


def score(hypotheses: list[str], references: list[str]) -> dict[str, Any]:
    """BLEU (13a, cased) and chrF of detokenized hypotheses, with sacreBLEU's signatures."""
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(hypotheses, [references])
    chrf_score = chrf.corpus_score(hypotheses, [references])
    return {
        "bleu": round(bleu_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "bleu_detail": str(bleu_score),
        "chrf": round(chrf_score.score, 2),
        "chrf_signature": str(chrf.get_signature()),
    }


def evaluate(model_dir: Path, src: Path, ref: Path, options: SearchOptions = DEFAULT_SEARCH,
             output: Path | None = None, report_path: Path | None = None, device: str = "auto",
             quantize: bool = False) -> dict[str, Any]:
    """Translate ``src`` with the model in ``model_dir``, score against ``ref``, write the files."""
    translator = Translator.from_pretrained(model_dir, device=device, quantize=quantize)
    if output is None and report_path is not None:
        output = report_path.with_suffix(".hyp")
    report = {**_about(model_dir, translator, options, quantize), **_score_set(translator, src, ref, options, output)}
    if report_path is not None:
        _write_json(report_path, report)
    return report


def evaluate_sets(model_dir: Path, sets: list[NamedSet], options: SearchOptions = DEFAULT_SEARCH,
                  report_path: Path | None = None, device: str = "auto", quantize: bool = False) -> dict[str, Any]:
    """Score the model in ``model_dir`` (loaded once) on every set; the report, also written to ``report_path``.

    The report holds what was run (model, version, search options) once and each set's scores
    under ``sets[name]``, then the sets' ``weighted_mean_bleu`` and ``weighted_mean_chrf`` and the
    ``weighting`` in words. With ``report_path``, each set's translations go beside it as
    ``<report stem>.<set name>.hyp``.
    """
    translator = Translator.from_pretrained(model_dir, device=device, quantize=quantize)
    by_name = {}
    for one in sets:
        output = None
        if report_path is not None:
            output = report_path.with_name(f"{report_path.stem}.{one.name.replace('/', '_')}.hyp")
        by_name[one.name] = {"weight": one.weight, **_score_set(translator, one.src, one.ref, options, output)}
    report = {
        **_about(model_dir, translator, options, quantize),
        "sets": by_name,
        **{f"weighted_mean_{metric}": round(weighted_mean({name: s[metric] for name, s in by_name.items()}, sets), 2)
           for metric in ("bleu", "chrf")},
        "weighting": weights_in_words(sets),
    }
    if report_path is not None:
        _write_json(report_path, report)
    return report


def _about(model_dir: Path, translator: Translator, options: SearchOptions, quantize: bool) -> dict[str, Any]:
    """What was evaluated, and how."""
    return {
        "model_dir": str(model_dir),
        "model_version": translator.version,
        "beam_size": options.beam_size,
        "length_penalty": options.length_penalty,
        "max_output_length": options.max_output_length,
        "max_output_ratio": options.max_output_ratio,
        "quantized": quantize,
    }


def _score_set(translator: Translator, src: Path, ref: Path, options: SearchOptions,
               output: Path | None) -> dict[str, Any]:
    """Translate ``src``, score against ``ref``, write the translations to ``output`` (if given)."""
    sources, references = read_parallel(src, ref)
    start = time.perf_counter()
    hypotheses = translator.translate(sources, options)
    seconds = time.perf_counter() - start
    report = {"src": str(src), "ref": str(ref), "sentences": len(sources), **score(hypotheses, references),
              "seconds": round(seconds, 2)}
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
        report["hypotheses_file"] = str(output)
    return report


def _write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def sets_table(report: dict[str, Any]) -> str:
    """The report of :func:`evaluate_sets` as a plain-text table: a row per set and one for their
    weighted mean, then the weighting and the signatures (once, when every set has the same)."""
    sets = report["sets"]
    rows = [(name, one["sentences"], one["bleu"], one["chrf"], one["seconds"], f"{one['weight']:g}")
            for name, one in sets.items()]
    if len(sets) > 1:
        rows.append(("weighted mean", sum(one["sentences"] for one in sets.values()), report["weighted_mean_bleu"],
                     report["weighted_mean_chrf"], sum(one["seconds"] for one in sets.values()), ""))
    width = max(len(row[0]) for row in rows)
    lines = [f"{'set':<{width}}  {'sentences':>9}  {'BLEU':>6}  {'chrF':>6}  {'seconds':>8}  weight"]
    lines += [f"{name:<{width}}  {sentences:>9}  {bleu:>6.2f}  {chrf:>6.2f}  {seconds:>8.1f}  {weight}".rstrip()
              for name, sentences, bleu, chrf, seconds, weight in rows]
    if len(sets) > 1:
        lines.append(f"weighting: {report['weighting']}")
    for key in ("bleu_signature", "chrf_signature"):
        signatures = sorted({one[key] for one in sets.values()})
        lines += [f"{key.split('_')[0]}: {signature}" for signature in signatures]
    return "\n".join(lines)
