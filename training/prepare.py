"""Turning the configured files into what the loop trains on: tokenizers, training pairs and
the validation set, with every input error reported before any training time is spent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.config import TrainConfig
from training.data import (
    Batch,
    CleaningReport,
    clean_pairs,
    filter_by_length,
    make_batch,
    read_parallel,
    token_batches,
)
from training.validation import ValidationData
from translator.tokenizer import Tokenizer, train_tokenizer


class InMemoryPairs:
    """Tokenized training pairs held as lists."""

    def __init__(self, src_ids: list[list[int]], tgt_ids: list[list[int]]) -> None:
        self.src_ids, self.tgt_ids = src_ids, tgt_ids

    def __len__(self) -> int:
        return len(self.src_ids)

    def epoch_batches(self, batch_tokens: int, seed: int, rank: int, world_size: int) -> list[list[int]]:
        """This rank's share of one epoch's batches (every rank gets the same number)."""
        batches = token_batches(self.src_ids, self.tgt_ids, batch_tokens, seed)
        per_rank = len(batches) // world_size
        return batches[rank::world_size][:per_rank]

    def make_batch(self, indices: list[int]) -> Batch:
        """The padded batch of the pairs at ``indices``."""
        return make_batch([self.src_ids[i] for i in indices], [self.tgt_ids[i] for i in indices])


@dataclass
class PreparedData:
    """Tokenizers, training pairs and validation set of a run."""

    train: InMemoryPairs
    valid: ValidationData
    tokenizers: tuple[Tokenizer, Tokenizer]  # (source, target)
    report: CleaningReport


def read_validation(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """The validation pairs; an empty or misaligned pair of files is an error naming them."""
    src, tgt = read_parallel(src_path, tgt_path)
    if not src:
        raise ValueError(f"{src_path} is empty: validation needs at least one sentence pair")
    return src, tgt


def prepare_data(config: TrainConfig, run_dir: Path, resume: bool = False, rank: int = 0) -> PreparedData:
    """Read, clean, tokenize and filter the data; sentencepiece is trained once per run and
    reloaded from the run directory on resume."""
    data = config.data
    valid_src, valid_tgt = read_validation(data.valid_src, data.valid_tgt)
    src, tgt = read_parallel(data.train_src, data.train_tgt)
    src, tgt, report = clean_pairs(src, tgt)
    if not src:
        raise ValueError(f"no training pairs left in {data.train_src} / {data.train_tgt} after cleaning")
    source_path, target_path = run_dir / "source.spm", run_dir / "target.spm"
    if resume:
        source_tokenizer, target_tokenizer = Tokenizer.load(source_path), Tokenizer.load(target_path)
    else:
        tok = config.tokenizer
        if tok.joint:
            source_tokenizer = train_tokenizer(src + tgt, tok.vocab_size, tok.model_type, tok.character_coverage)
            target_tokenizer = source_tokenizer
        else:
            source_tokenizer = train_tokenizer(src, tok.vocab_size, tok.model_type, tok.character_coverage)
            target_tokenizer = train_tokenizer(tgt, tok.vocab_size, tok.model_type, tok.character_coverage)
        if rank == 0:
            source_tokenizer.save(source_path)
            target_tokenizer.save(target_path)
    train_src, train_tgt = filter_by_length(
        source_tokenizer.encode(src), target_tokenizer.encode(tgt), data.max_length, data.max_length_ratio, report
    )
    if not train_src:
        raise ValueError(f"every pair of {data.train_src} / {data.train_tgt} was filtered out "
                         f"({report.summary()}); raise data.max_length or data.max_length_ratio")
    valid_src_ids, valid_tgt_ids = source_tokenizer.encode(valid_src), target_tokenizer.encode(valid_tgt)
    valid_batches = [
        make_batch([valid_src_ids[i] for i in batch], [valid_tgt_ids[i] for i in batch])
        for batch in token_batches(valid_src_ids, valid_tgt_ids, config.train.batch_tokens, seed=0)
    ]
    return PreparedData(InMemoryPairs(train_src, train_tgt), ValidationData(valid_src, valid_tgt, valid_batches),
                        (source_tokenizer, target_tokenizer), report)
