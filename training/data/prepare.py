"""Turning the configured files into what the loop trains on: tokenizers, the memory-mapped
training pairs and the validation set, with every input error reported before any training
time is spent.

Rank 0 does the work: it reads the validation files, trains sentencepiece on a bounded random
sample of the corpus (or reloads the run's models on resume), and finds or builds the
binarized cache (:mod:`training.data.cache`). The other ranks of a torchrun job wait for it, then
load the same sentencepiece models and map the same cache files.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch.distributed as dist
from tqdm import tqdm

from training.data.batching import Batch, TokenPairs, make_batch, token_batches
from training.data.cache import (
    CacheSettings,
    build_cache,
    cache_directory,
    cache_key,
    read_meta,
    remove_stale,
    report_from_meta,
)
from training.config import CorpusConfig, TrainConfig
from training.data.corpus import check_aligned, sample_pairs
from training.data.clean import CleaningReport, read_parallel
from training.data.mixture import CorpusMixture
from translator.store.atomic import write_text_atomic
from translator.text.casing import CaseRestorer
from translator.text.names import CAPITALISES_NOUNS
from translator.text.protect import PLACEHOLDERS
from translator.text.tokenizer import Tokenizer, train_tokenizer

TOKENIZER_FILES = ("source.spm", "target.spm")


@dataclass
class ValidationData:
    """One named validation set: texts for BLEU, padded batches for the loss."""

    src_text: list[str]
    tgt_text: list[str]
    batches: list[Batch]
    name: str = "valid"
    weight: float = 1.0  # share of this set's BLEU in the selection score


@dataclass
class PreparedData:
    """Tokenizers, training pairs and validation set of a run."""

    train: CorpusMixture
    valid: list[ValidationData]  # the named validation sets; empty on ranks other than 0 (only rank 0 validates)
    tokenizers: tuple[Tokenizer, Tokenizer]  # (source, target)
    report: CleaningReport
    case_restorer: CaseRestorer | None = None  # casing table of the source side, saved in every checkpoint


def prepare_data(config: TrainConfig, run_dir: Path, resume: bool = False, rank: int = 0) -> PreparedData:
    """Rank 0 prepares the data; in a multi-process run the other ranks wait, then map it.

    Raises:
        ValueError: on every rank, when rank 0 found bad input (naming the file and line).
    """
    if not dist.is_initialized():
        return _prepare(config, run_dir, resume)
    error, data = None, None
    if rank == 0:
        try:
            data = _prepare(config, run_dir, resume)
        except (ValueError, OSError) as caught:
            error = caught
    outcome = [str(error) if error else ""]
    dist.broadcast_object_list(outcome, src=0)  # every rank reaches this, whatever rank 0 found
    if error is not None:
        raise error
    if outcome[0]:
        raise ValueError(f"rank 0 could not prepare the data: {outcome[0]}")
    if data is None:
        tokenizers = _load_tokenizers(run_dir)
        parts, metas = [], []
        for corpus in config.data.training_corpora():
            settings = _cache_settings(config, run_dir, tokenizers, corpus)
            key = cache_key(settings)
            meta = read_meta(cache_directory(_cache_root(config, run_dir), key), key)
            parts.append(TokenPairs(cache_directory(_cache_root(config, run_dir), key), meta))
            metas.append(meta)
        data = PreparedData(_mixture(config, parts), [], tokenizers, _combined_report(metas), CaseRestorer.load(run_dir))
    return data


def _prepare(config: TrainConfig, run_dir: Path, resume: bool) -> PreparedData:
    """Validation sets, tokenizers and caches, in the order that reports bad input soonest."""
    data, timings = config.data, {}
    start = time.perf_counter()
    valid_texts = [(valid, *read_validation(valid.src, valid.tgt)) for valid in data.validation_sets()]
    corpora = data.training_corpora()
    counts: dict[str, int] = {}
    if resume:
        tokenizers = _load_tokenizers(run_dir)
    elif config.tokenizer.from_dir is not None:
        tokenizers = _copy_tokenizers(config.tokenizer.from_dir, run_dir)
    else:
        counts = {corpus.name: check_aligned(corpus.src, corpus.tgt) for corpus in corpora}
        tokenizers = _train_tokenizers(config, run_dir, counts)
        timings["tokenizer_seconds"] = time.perf_counter() - start
    cache_root = _cache_root(config, run_dir)
    parts, metas, records = [], [], []
    for corpus in corpora:
        settings = _cache_settings(config, run_dir, tokenizers, corpus)
        key = cache_key(settings)
        directory = cache_directory(cache_root, key)
        reused = directory.exists()
        if reused:
            meta = read_meta(directory, key)
            tqdm.write(f"data: {corpus.name}: reusing the prepared cache {directory}")
        else:
            tqdm.write(f"data: {corpus.name}: preparing {corpus.src} / {corpus.tgt} into {directory}")
            total = counts.get(corpus.name) or check_aligned(corpus.src, corpus.tgt)  # for the progress bar
            meta = build_cache(settings, directory, total_pairs=total)
            for stale in remove_stale(cache_root, directory, key):
                tqdm.write(f"data: removed the stale cache {stale}")
        parts.append(TokenPairs(directory, meta))
        metas.append(meta)
        records.append({"name": corpus.name, "weight": corpus.weight, "cache": str(directory), "reused": reused,
                        "pairs_in_files": meta["report"]["total"], "pairs_kept": meta["pairs"],
                        "build_seconds": None if reused else meta["build_seconds"], "report": meta["report"]})
    train = _mixture(config, parts)
    for record, drawn in zip(records, train.pairs_per_epoch().values()):
        record["pairs_per_epoch"] = drawn
    timings["total_seconds"] = time.perf_counter() - start
    report = _combined_report(metas)
    _write_json(run_dir / "prepare.json", {
        "corpora": records, "pairs_in_files": report.total, "pairs_kept": report.kept,
        "pairs_per_epoch": sum(r["pairs_per_epoch"] for r in records), **timings,
    })
    source, target = tokenizers
    valid_sets = []
    for valid, valid_src, valid_tgt in valid_texts:
        valid_src_ids, valid_tgt_ids = source.encode(valid_src), target.encode(valid_tgt)
        valid_batches = [
            make_batch([valid_src_ids[i] for i in batch], [valid_tgt_ids[i] for i in batch])
            for batch in token_batches(valid_src_ids, valid_tgt_ids, config.train.batch_tokens, seed=0)
        ]
        valid_sets.append(ValidationData(valid_src, valid_tgt, valid_batches, valid.name, valid.weight))
    return PreparedData(train, valid_sets, tokenizers, report, CaseRestorer.load(run_dir))


def _mixture(config: TrainConfig, parts: list[TokenPairs]) -> CorpusMixture:
    corpora = config.data.training_corpora()
    return CorpusMixture(parts, [c.weight for c in corpora], [c.name for c in corpora])


def _combined_report(metas: list[dict]) -> CleaningReport:
    """The cleaning reports of all corpora, summed."""
    total = CleaningReport()
    for meta in metas:
        report = report_from_meta(meta)
        total.total += report.total
        total.kept += report.kept
        total.dropped.update(report.dropped)
    return total


def read_validation(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """The validation pairs; an empty or misaligned pair of files is an error naming them."""
    src, tgt = read_parallel(src_path, tgt_path)
    if not src:
        raise ValueError(f"{src_path} is empty: validation needs at least one sentence pair")
    return src, tgt


def _train_tokenizers(config: TrainConfig, run_dir: Path, counts: dict[str, int]) -> tuple[Tokenizer, Tokenizer]:
    """Sentencepiece models trained on at most ``tokenizer.sample_size`` pairs, saved in the run.

    The sample follows the mixture: each corpus contributes in proportion to the pairs an epoch
    draws from it (weight x pairs), so a large down-weighted lexicon does not crowd out the
    sentences in the vocabulary.
    """
    tok, corpora = config.tokenizer, config.data.training_corpora()
    shares = _sample_shares(corpora, counts, tok.sample_size)
    if sum(shares) < sum(counts.values()):
        tqdm.write(f"tokenizer: training sentencepiece on a random sample of {sum(shares):,} of "
                   f"{sum(counts.values()):,} pairs")
    src, tgt = [], []
    for corpus, share in zip(corpora, shares):
        if share:
            corpus_src, corpus_tgt = sample_pairs(corpus.src, corpus.tgt, share, config.train.seed)
            src += corpus_src
            tgt += corpus_tgt
    size = 2 * len(src) if tok.joint else len(src)  # all of the sample; sentencepiece need not subsample
    symbols = PLACEHOLDERS if tok.placeholders else ()
    settings = (tok.vocab_size, tok.model_type, tok.character_coverage, size, symbols, tok.byte_fallback)
    if tok.joint:
        source = target = train_tokenizer(src + tgt, *settings)
    elif "fork" in multiprocessing.get_all_start_methods():
        # Sentencepiece's trainer holds the GIL: the target side trains in a forked process (it
        # inherits the loaded modules, so it starts at once) while this one trains the source side.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            target_model = pool.submit(_trained_model, tgt, *settings)
            source = train_tokenizer(src, *settings)
            target = Tokenizer(target_model.result(), name="<trained>")
    else:
        source, target = train_tokenizer(src, *settings), train_tokenizer(tgt, *settings)
    # The same sample gives the casing table (translator.text.casing): all-lower and ALL-UPPER input is
    # restored to the spellings seen here before it is translated. A run from before casing tables
    # existed resumes without one. For a German source it also lists the target's capitalised words, which tell
    # names from nouns (translator.text.names).
    CaseRestorer.from_lines(src, tgt if config.data.src_lang in CAPITALISES_NOUNS else None).save(run_dir)
    del src, tgt
    save_tokenizers(run_dir, (source, target))
    return source, target


def save_tokenizers(run_dir: Path, tokenizers: tuple[Tokenizer, Tokenizer]) -> None:
    """Write the run's sentencepiece models (atomically: a run killed here keeps the old or the new)."""
    for tokenizer, name in zip(tokenizers, TOKENIZER_FILES):
        staging = run_dir / f".{name}.tmp"
        tokenizer.save(staging)
        os.replace(staging, run_dir / name)


def _sample_shares(corpora: list[CorpusConfig], counts: dict[str, int], sample_size: int) -> list[int]:
    """Pairs to sample from each corpus: all of a mixture no larger than ``sample_size``, else
    ``sample_size`` split in proportion to weight x pairs (never more than a corpus holds)."""
    drawn = [corpus.weight * counts[corpus.name] for corpus in corpora]
    if len(corpora) == 1 or sum(counts.values()) <= sample_size:
        return [min(counts[c.name], sample_size) for c in corpora]
    return [min(counts[c.name], max(1, round(sample_size * d / sum(drawn)))) for c, d in zip(corpora, drawn)]


def _trained_model(texts: list[str], *settings) -> bytes:
    """A serialized sentencepiece model (run in a worker process)."""
    return train_tokenizer(texts, *settings).model_proto


def _copy_tokenizers(source: Path, run_dir: Path) -> tuple[Tokenizer, Tokenizer]:
    """The sentencepiece models of ``source`` (a run or checkpoint directory; ``tokenizer.from_dir``), saved in the
    run with the casing table when ``source`` has one; a missing model is an error naming it."""
    for name in TOKENIZER_FILES:
        if not (source / name).is_file():
            raise ValueError(f"tokenizer.from_dir: {source / name} does not exist")
    tokenizers = _load_tokenizers(source)
    restorer = CaseRestorer.load(source)
    if restorer is not None:
        restorer.save(run_dir)
    save_tokenizers(run_dir, tokenizers)
    return tokenizers


def _load_tokenizers(run_dir: Path) -> tuple[Tokenizer, Tokenizer]:
    source, target = (Tokenizer.load(run_dir / name) for name in TOKENIZER_FILES)
    return source, target


def _cache_settings(config: TrainConfig, run_dir: Path, tokenizers: tuple[Tokenizer, Tokenizer],
                    corpus: CorpusConfig) -> CacheSettings:
    data = config.data
    return CacheSettings(corpus.src, corpus.tgt, tokenizers[0].model_proto, tokenizers[1].model_proto,
                         data.max_length, data.max_length_ratio, data.prepare_workers,
                         placeholder_rate=data.placeholder_rate,
                         digest_memo=_cache_root(config, run_dir))


def _cache_root(config: TrainConfig, run_dir: Path) -> Path:
    return Path(config.data.cache_dir) if config.data.cache_dir else run_dir / "cache"


def _write_json(path: Path, content: dict) -> None:
    write_text_atomic(path, json.dumps(content, indent=1) + "\n")
