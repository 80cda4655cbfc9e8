"""Training pairs with protected spans on both sides learn placeholders (translator.text.protect)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.conftest import tiny_overrides, write_reverse_corpus
from training.config import load_config
from training.data.prepare import prepare_data
from translator.text.protect import PLACEHOLDERS


def test_shared_numbers_become_placeholders_in_the_prepared_data(tmp_path):
    src, tgt = write_reverse_corpus(tmp_path, "train", 300, seed=1)
    numbered = [f"{line} {n}" for n, line in enumerate(src.read_text().splitlines())]
    src.write_text("".join(line + "\n" for line in numbered))
    tgt.write_text("".join(f"{n} {line}\n" for n, line in enumerate(tgt.read_text().splitlines())))
    valid_src, valid_tgt = write_reverse_corpus(tmp_path, "valid", 10, seed=2)
    overrides = tiny_overrides({"train_src": src, "train_tgt": tgt, "valid_src": valid_src, "valid_tgt": valid_tgt},
                               tmp_path / "run", **{})
    overrides.update({"tokenizer.vocab_size": "400", "tokenizer.placeholders": "true",
                      "tokenizer.byte_fallback": "true", "data.placeholder_rate": "1.0"})
    config = load_config(None, overrides)
    (tmp_path / "run").mkdir()
    data = prepare_data(config, tmp_path / "run")
    source, target = data.tokenizers
    assert source.has_pieces(PLACEHOLDERS) and target.has_pieces(PLACEHOLDERS)
    placeholder = source.encode([PLACEHOLDERS[0]])[0][-1]
    batch = data.train.make_batch(np.arange(len(data.train)))
    # every pair carried its number on both sides, so every pair has the first placeholder on both
    assert bool((batch.src == placeholder).any(dim=1).all())
    assert bool((batch.tgt_out == target.encode([PLACEHOLDERS[0]])[0][-1]).any(dim=1).all())


def test_a_placeholder_rate_without_placeholder_pieces_is_refused(tmp_path):
    overrides = {"data.train_src": "a", "data.train_tgt": "b", "data.valid_src": "c", "data.valid_tgt": "d",
                 "data.placeholder_rate": "0.5"}
    with pytest.raises(ValueError, match="needs tokenizer.placeholders"):
        load_config(None, overrides)
