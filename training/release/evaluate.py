"""Scoring a model on a test set with sacreBLEU."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import sacrebleu

from training.data.clean import read_parallel
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
    sources, references = read_parallel(src, ref)
    translator = Translator.from_pretrained(model_dir, device=device, quantize=quantize)
    start = time.perf_counter()
    hypotheses = translator.translate(sources, options)
    seconds = time.perf_counter() - start
    report = {
        "model_dir": str(model_dir),
        "model_version": translator.version,
        "src": str(src),
        "ref": str(ref),
        "sentences": len(sources),
        "beam_size": options.beam_size,
        "length_penalty": options.length_penalty,
        "max_output_length": options.max_output_length,
        "max_output_ratio": options.max_output_ratio,
        "quantized": quantize,
        **score(hypotheses, references),
        "seconds": round(seconds, 2),
    }
    if output is None and report_path is not None:
        output = report_path.with_suffix(".hyp")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("".join(h + "\n" for h in hypotheses), encoding="utf-8")
        report["hypotheses_file"] = str(output)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2) + "\n")
    return report
