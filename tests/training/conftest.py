"""Tiny parallel corpora written to disk: the 'translation' reverses a symbol sequence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import symbol_sentences


def write_reverse_corpus(directory: Path, name: str, count: int, seed: int) -> tuple[Path, Path]:
    sources = symbol_sentences(count, seed=seed, min_len=2, max_len=6)
    src, tgt = directory / f"{name}.src", directory / f"{name}.tgt"
    src.write_text("".join(s + "\n" for s in sources))
    tgt.write_text("".join(" ".join(reversed(s.split())) + "\n" for s in sources))
    return src, tgt


@pytest.fixture
def corpus(tmp_path) -> dict[str, Path]:
    train_src, train_tgt = write_reverse_corpus(tmp_path, "train", 600, seed=1)
    valid_src, valid_tgt = write_reverse_corpus(tmp_path, "valid", 40, seed=2)
    return {"train_src": train_src, "train_tgt": train_tgt, "valid_src": valid_src, "valid_tgt": valid_tgt}


def tiny_overrides(corpus: dict[str, Path], output_dir: Path, **train: str) -> dict[str, str]:
    """Flag-style overrides for a run that takes seconds."""
    overrides = {f"data.{k}": str(v) for k, v in corpus.items()}
    overrides.update({
        "tokenizer.vocab_size": "40", "tokenizer.model_type": "bpe",
        "model.embedding_size": "32", "model.output_size": "32", "model.encoder_hidden_size": "32",
        "model.encoder_layers": "1", "model.decoder_hidden_size": "48", "model.attention_size": "32",
        "model.dropout": "0.0", "model.embedding_dropout": "0.0",
        "train.output_dir": str(output_dir), "train.batch_tokens": "300", "train.warmup_steps": "5",
        "train.learning_rate": "0.005", "train.validate_every": "20", "train.max_epochs": "50",
        "train.attention_plots": "1", "train.threads": "1", "train.save_half_precision": "false",
    })
    overrides.update({f"train.{k}": v for k, v in train.items()})
    return overrides


def write_set(path_prefix, sources, references, languages=("xx", "yy")):
    """``<prefix>.xx`` and ``<prefix>.yy``, line-aligned; returns the two paths."""
    path_prefix.parent.mkdir(parents=True, exist_ok=True)
    src, ref = (path_prefix.with_name(f"{path_prefix.name}.{language}") for language in languages)
    src.write_text("".join(s + "\n" for s in sources))
    ref.write_text("".join(r + "\n" for r in references))
    return src, ref


def write_config(path, valid, languages=("xx", "yy")):
    """A training config whose validation sets are ``valid``: (name, src, tgt, weight) tuples."""
    train = path.parent / "train.xx"
    train.write_text("a b\n")
    path.write_text(yaml.safe_dump({"data": {
        "train_src": str(train), "train_tgt": str(train), "src_lang": languages[0], "tgt_lang": languages[1],
        "valid": [{"name": name, "src": str(src), "tgt": str(tgt), "weight": weight}
                  for name, src, tgt, weight in valid],
    }}))
    return path
