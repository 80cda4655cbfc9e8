"""Turning the configured files into what the loop trains on: tokenizers, the memory-mapped
training pairs and the validation set, with every input error reported before any training
time is spent.

Rank 0 does the work: it reads the validation files, trains sentencepiece on a bounded random
sample of the corpus (or reloads the run's models on resume), and finds or builds the
binarized cache (:mod:`training.cache`). The other ranks of a torchrun job wait for it, then
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

from training.batching import TokenPairs, make_batch, token_batches
from training.cache import (
    CacheSettings,
    build_cache,
    cache_directory,
    cache_key,
    read_meta,
    remove_stale,
    report_from_meta,
)
from training.config import TrainConfig
from training.corpus import check_aligned, sample_pairs
from training.data import CleaningReport, read_parallel
from training.validation import ValidationData
from translator.atomic import write_text_atomic
from translator.casing import CaseRestorer
from translator.tokenizer import Tokenizer, train_tokenizer

TOKENIZER_FILES = ("source.spm", "target.spm")


@dataclass
class PreparedData:
    """Tokenizers, training pairs and validation set of a run."""

    train: TokenPairs
    valid: ValidationData  # empty on ranks other than 0 (only rank 0 validates)
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
        settings = _cache_settings(config, run_dir, tokenizers)
        key = cache_key(settings)
        directory = cache_directory(_cache_root(config, run_dir), key)
        meta = read_meta(directory, key)
        data = PreparedData(TokenPairs(directory, meta), ValidationData([], [], []), tokenizers,
                            report_from_meta(meta), CaseRestorer.load(run_dir))
    return data


def _prepare(config: TrainConfig, run_dir: Path, resume: bool) -> PreparedData:
    """Validation set, tokenizers and cache, in the order that reports bad input soonest."""
    data, timings = config.data, {}
    start = time.perf_counter()
    valid_src, valid_tgt = read_validation(data.valid_src, data.valid_tgt)
    pairs = None
    if resume:
        tokenizers = _load_tokenizers(run_dir)
    else:
        pairs = check_aligned(data.train_src, data.train_tgt)
        tokenizers = _train_tokenizers(config, run_dir, pairs)
        timings["tokenizer_seconds"] = time.perf_counter() - start
    settings = _cache_settings(config, run_dir, tokenizers)
    key = cache_key(settings)
    cache_root = _cache_root(config, run_dir)
    directory = cache_directory(cache_root, key)
    reused = directory.exists()
    if reused:
        meta = read_meta(directory, key)
        tqdm.write(f"data: reusing the prepared cache {directory}")
    else:
        tqdm.write(f"data: preparing {data.train_src} / {data.train_tgt} into {directory}")
        if pairs is None:  # a resumed run on changed files: count them for the progress bar's total
            pairs = check_aligned(data.train_src, data.train_tgt)
        meta = build_cache(settings, directory, total_pairs=pairs)
        for stale in remove_stale(cache_root, directory, key):
            tqdm.write(f"data: removed the stale cache {stale}")
    timings["total_seconds"] = time.perf_counter() - start
    _write_json(run_dir / "prepare.json", {
        "cache": str(directory), "reused": reused, "pairs_in_files": meta["report"]["total"],
        "pairs_kept": meta["pairs"], "build_seconds": None if reused else meta["build_seconds"],
        "report": meta["report"], **timings,
    })
    source, target = tokenizers
    valid_src_ids, valid_tgt_ids = source.encode(valid_src), target.encode(valid_tgt)
    valid_batches = [
        make_batch([valid_src_ids[i] for i in batch], [valid_tgt_ids[i] for i in batch])
        for batch in token_batches(valid_src_ids, valid_tgt_ids, config.train.batch_tokens, seed=0)
    ]
    return PreparedData(TokenPairs(directory, meta), ValidationData(valid_src, valid_tgt, valid_batches),
                        tokenizers, report_from_meta(meta), CaseRestorer.load(run_dir))


def read_validation(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """The validation pairs; an empty or misaligned pair of files is an error naming them."""
    src, tgt = read_parallel(src_path, tgt_path)
    if not src:
        raise ValueError(f"{src_path} is empty: validation needs at least one sentence pair")
    return src, tgt


def _train_tokenizers(config: TrainConfig, run_dir: Path, pairs: int) -> tuple[Tokenizer, Tokenizer]:
    """Sentencepiece models trained on at most ``tokenizer.sample_size`` pairs, saved in the run."""
    tok, data = config.tokenizer, config.data
    if pairs > tok.sample_size:
        tqdm.write(f"tokenizer: training sentencepiece on a random sample of {tok.sample_size:,} of {pairs:,} pairs")
    src, tgt = sample_pairs(data.train_src, data.train_tgt, tok.sample_size, config.train.seed)
    size = 2 * len(src) if tok.joint else len(src)  # all of the sample; sentencepiece need not subsample
    settings = (tok.vocab_size, tok.model_type, tok.character_coverage, size)
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
    # The same sample gives the casing table (translator.casing): all-lower and ALL-UPPER input is
    # restored to the spellings seen here before it is translated. A run from before casing tables
    # existed resumes without one.
    CaseRestorer.from_lines(src).save(run_dir)
    del src, tgt
    for tokenizer, name in zip((source, target), TOKENIZER_FILES):
        staging = run_dir / f".{name}.tmp"
        tokenizer.save(staging)
        os.replace(staging, run_dir / name)  # a run killed here keeps the old model or the new one
    return source, target


def _trained_model(texts: list[str], *settings) -> bytes:
    """A serialized sentencepiece model (run in a worker process)."""
    return train_tokenizer(texts, *settings).model_proto


def _load_tokenizers(run_dir: Path) -> tuple[Tokenizer, Tokenizer]:
    source, target = (Tokenizer.load(run_dir / name) for name in TOKENIZER_FILES)
    return source, target


def _cache_settings(config: TrainConfig, run_dir: Path, tokenizers: tuple[Tokenizer, Tokenizer]) -> CacheSettings:
    data = config.data
    return CacheSettings(data.train_src, data.train_tgt, tokenizers[0].model_proto, tokenizers[1].model_proto,
                         data.max_length, data.max_length_ratio, data.prepare_workers,
                         digest_memo=_cache_root(config, run_dir))


def _cache_root(config: TrainConfig, run_dir: Path) -> Path:
    return Path(config.data.cache_dir) if config.data.cache_dir else run_dir / "cache"


def _write_json(path: Path, content: dict) -> None:
    write_text_atomic(path, json.dumps(content, indent=1) + "\n")
