"""Shared fixtures: tiny tokenizers and models built in seconds, never real training."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from translator.store.checkpoint import save_checkpoint
from translator.model.config import ModelConfig
from translator.model.seq2seq import Seq2Seq
from translator.text.tokenizer import Tokenizer, train_tokenizer

SYMBOLS = "abcdefgh"


def symbol_sentences(count: int, seed: int, min_len: int = 2, max_len: int = 7) -> list[str]:
    """Random space-separated symbol sequences such as ``"c a h d"``."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(SYMBOLS) for _ in range(rng.randint(min_len, max_len))) for _ in range(count)]


@pytest.fixture(scope="session")
def symbol_tokenizer() -> Tokenizer:
    """A sentencepiece model whose pieces are the single symbols (plus the word-boundary mark)."""
    return train_tokenizer(symbol_sentences(500, seed=0), vocab_size=30, model_type="bpe")


def tiny_config(vocab_size: int, rnn_type: str = "gru", **overrides) -> ModelConfig:
    """A model small enough to train in seconds on 2 CPU cores."""
    settings = dict(
        src_vocab_size=vocab_size, tgt_vocab_size=vocab_size, rnn_type=rnn_type, embedding_size=32,
        encoder_hidden_size=32, encoder_layers=1, decoder_hidden_size=64, attention_size=32,
        output_size=32, dropout=0.0, embedding_dropout=0.0,
    )
    settings.update(overrides)
    return ModelConfig(**settings)


def tiny_model(vocab_size: int, rnn_type: str = "gru", seed: int = 0, **overrides) -> Seq2Seq:
    """An untrained tiny model in eval mode (random but deterministic weights)."""
    torch.manual_seed(seed)
    return Seq2Seq(tiny_config(vocab_size, rnn_type, **overrides)).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, symbol_tokenizer) -> Path:
    """A checkpoint directory holding an untrained tiny model (for loading and service tests)."""
    directory = tmp_path_factory.mktemp("models") / "xx-yy"
    model = tiny_model(symbol_tokenizer.vocab_size)
    save_checkpoint(directory, model, symbol_tokenizer, symbol_tokenizer,
                    {"source_language": "xx", "target_language": "yy", "name": "tiny-xx-yy"})
    return directory


@pytest.fixture
def beam_sizes(monkeypatch) -> list[int]:
    """The beam size of every search the library runs from now on (also inside an in-process app)."""
    import translator.glossary.search
    import translator.translate

    seen: list[int] = []
    search = translator.translate.search

    def recording(model, src_ids, src_lengths, options, *args, **kwargs):
        seen.append(options.beam_size)
        return search(model, src_ids, src_lengths, options, *args, **kwargs)

    monkeypatch.setattr(translator.translate, "search", recording)
    monkeypatch.setattr(translator.glossary.search, "search", recording)
    return seen


def length_calibration() -> "Calibration":
    """A hand-set calibration for the tiny model: confidence falls with the source's length (about 1 for two
    symbols, about 0 for six or more), so tests can choose high or low confidence by the input alone."""
    from translator.confidence import FEATURE_NAMES, Calibration

    weights = [-4.0 if name == "source_length" else 0.0 for name in FEATURE_NAMES]
    means = [1.9 if name == "source_length" else 0.0 for name in FEATURE_NAMES]
    reference = [1.4 if name == "source_length" else 0.0 for name in FEATURE_NAMES]
    return Calibration(acceptable_chrf=50.0, features=list(FEATURE_NAMES), means=means,
                       scales=[0.25] * len(FEATURE_NAMES), weights=weights, bias=0.0, reference=reference,
                       search={"beam_size": 5, "length_penalty": 1.0})


@pytest.fixture(scope="session")
def calibrated_model_dir(tmp_path_factory, symbol_tokenizer) -> Path:
    """A tiny model with :func:`length_calibration` as its calibration.json (covered by the manifest)."""
    from translator.store.manifest import write_manifest

    directory = tmp_path_factory.mktemp("calibrated") / "xx-yy"
    # seed 4: an untrained model whose outputs are not empty (seed 0's are), so there is text to mark
    save_checkpoint(directory, tiny_model(symbol_tokenizer.vocab_size, seed=4), symbol_tokenizer, symbol_tokenizer,
                    {"source_language": "xx", "target_language": "yy", "name": "tiny-xx-yy",
                     "confidence": {"acceptable_chrf": 50.0, "held_out": {}}})
    length_calibration().save(directory)
    write_manifest(directory)
    return directory
