"""Training on a weighted mixture of corpora, validated on several named sets."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.training.conftest import tiny_overrides, write_reverse_corpus
from training.config import load_config
from training.data.batching import TokenPairs
from training.data.cache import CacheSettings, build_cache, cache_directory, cache_key
from training.data.clean import read_parallel
from training.data.mixture import CorpusMixture
from training.loop.trainer import train
from translator.store.checkpoint import load_checkpoint
from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID, train_tokenizer


@pytest.fixture
def two_corpora(tmp_path):
    """A 300-pair and a 60-pair corpus with their caches, under one tokenizer."""
    big = write_reverse_corpus(tmp_path, "big", 300, seed=3)
    small = write_reverse_corpus(tmp_path, "small", 60, seed=4)
    src, tgt = read_parallel(*big)
    tokenizer = train_tokenizer(src + tgt, 40, "bpe")
    parts = []
    for files in (big, small):
        settings = CacheSettings(*files, tokenizer.model_proto, tokenizer.model_proto, 50, 3.0, workers=1)
        directory = cache_directory(tmp_path / "cache", cache_key(settings))
        parts.append(TokenPairs(directory, build_cache(settings, directory, progress=False)))
    return parts


def drawn_per_corpus(mixture: CorpusMixture, seed: int) -> Counter:
    batches = mixture.epoch_batches(200, seed)
    indices = np.concatenate([batches[i] for i in range(len(batches))])
    corpus = np.searchsorted(mixture.bounds, indices, side="right") - 1
    return Counter(corpus.tolist()), indices


def test_an_epoch_draws_weight_times_each_corpus(two_corpora):
    big, small = two_corpora
    mixture = CorpusMixture([big, small], [0.5, 2.0], ["big", "small"])
    counts, indices = drawn_per_corpus(mixture, seed=1)
    assert mixture.pairs_per_epoch() == {"big": 150, "small": 120}
    # batches drop nothing: every drawn pair is in some batch
    assert counts == {0: 150, 1: 120}
    small_indices = indices[indices >= len(big)] - len(big)
    assert Counter(Counter(small_indices.tolist()).values()) == {2: 60}  # every small pair exactly twice
    assert len(set(indices[indices < len(big)].tolist())) == 150  # half of big, without repeats


def test_the_fractional_draw_changes_by_epoch_and_repeats_for_the_same_seed(two_corpora):
    mixture = CorpusMixture(two_corpora, [0.5, 1.0], ["big", "small"])
    _, first = drawn_per_corpus(mixture, seed=1)
    _, again = drawn_per_corpus(mixture, seed=1)
    _, second = drawn_per_corpus(mixture, seed=2)
    assert np.array_equal(first, again)
    assert set(first[first < 300].tolist()) != set(second[second < 300].tolist())


def test_mixed_batches_hold_each_corpus_pairs_exactly(two_corpora):
    big, small = two_corpora
    mixture = CorpusMixture([big, small], [1.0, 1.0], ["big", "small"])
    indices = np.array([3, 300 + 5, 7, 300 + 59])
    batch = mixture.make_batch(indices)
    expected = [big.make_batch(np.array([3])), small.make_batch(np.array([5])), big.make_batch(np.array([7])),
                small.make_batch(np.array([59]))]
    for row, alone in enumerate(expected):
        width = alone.src.size(1)
        assert torch.equal(batch.src[row, :width], alone.src[0]) and (batch.src[row, width:] == PAD_ID).all()
        width = alone.tgt_in.size(1)
        assert torch.equal(batch.tgt_in[row, :width], alone.tgt_in[0])
        assert torch.equal(batch.tgt_out[row, :width], alone.tgt_out[0])
        assert batch.src_lengths[row] == alone.src_lengths[0]
    assert (batch.tgt_in[:, 0] == BOS_ID).all()
    assert (batch.tgt_out == EOS_ID).sum() == len(indices)


def mixture_overrides(tmp_path, output_dir, **train_options):
    first = write_reverse_corpus(tmp_path, "first", 400, seed=1)
    second = write_reverse_corpus(tmp_path, "second", 200, seed=5)
    valid_a = write_reverse_corpus(tmp_path, "valid_a", 30, seed=2)
    valid_b = write_reverse_corpus(tmp_path, "valid_b", 20, seed=6)
    overrides = tiny_overrides({}, output_dir, **train_options)
    overrides["data.corpora"] = json.dumps([
        {"name": "first", "src": str(first[0]), "tgt": str(first[1]), "weight": 1.0},
        {"name": "second", "src": str(second[0]), "tgt": str(second[1]), "weight": 0.5},
    ])
    overrides["data.valid"] = json.dumps([
        {"name": "a", "src": str(valid_a[0]), "tgt": str(valid_a[1]), "weight": 3.0},
        {"name": "b", "src": str(valid_b[0]), "tgt": str(valid_b[1]), "weight": 1.0},
    ])
    return overrides


def test_a_mixture_run_reports_every_validation_set_and_selects_on_their_weighted_mean(tmp_path):
    best = train(load_config(None, mixture_overrides(tmp_path, tmp_path / "run", max_steps="60")))
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    for record in records:
        assert record["valid_bleu"] == pytest.approx(0.75 * record["bleu/a"] + 0.25 * record["bleu/b"])
        assert {"chrf/a", "chrf/b", "loss/a", "loss/b"} <= record.keys()
    assert max(r["bleu/a"] for r in records) > 10
    metadata = load_checkpoint(best).metadata
    assert metadata["validation"]["valid_bleu"] == max(r["valid_bleu"] for r in records)
    assert metadata["validation_selection"] == "weighted mean BLEU: 0.75 x a + 0.25 x b"
    assert [c["name"] for c in metadata["training_data"]["corpora"]] == ["first", "second"]
    prepared = json.loads((tmp_path / "run" / "prepare.json").read_text())
    assert [(c["name"], c["pairs_per_epoch"]) for c in prepared["corpora"]] == [("first", 400), ("second", 100)]


def test_a_resumed_mixture_run_ends_where_an_uninterrupted_one_does(tmp_path):
    train(load_config(None, mixture_overrides(tmp_path, tmp_path / "straight", max_steps="45", attention_plots="0")))
    train(load_config(None, mixture_overrides(tmp_path, tmp_path / "cut", max_steps="25", attention_plots="0")))
    train(load_config(None, mixture_overrides(tmp_path, tmp_path / "cut", max_steps="45", attention_plots="0")),
          resume=True)
    straight = load_file(tmp_path / "straight" / "last" / "model.safetensors")
    resumed = load_file(tmp_path / "cut" / "last" / "model.safetensors")
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), name


def test_a_run_can_take_another_runs_tokenizers_and_so_its_prepared_caches(tmp_path):
    """tokenizer.from_dir: a second mixture (another weight) with the first run's vocabulary reuses its caches."""
    first = mixture_overrides(tmp_path, tmp_path / "first", max_steps="5", attention_plots="0")
    first["data.cache_dir"] = str(tmp_path / "cache")
    train(load_config(None, first))
    second = {**first, "train.output_dir": str(tmp_path / "second"), "tokenizer.from_dir": str(tmp_path / "first"),
              "tokenizer.vocab_size": "99"}  # would train another vocabulary: not used
    second["data.corpora"] = second["data.corpora"].replace('"weight": 0.5', '"weight": 2.0')
    train(load_config(None, second))
    for name in ("source.spm", "target.spm", "casing.json"):
        assert (tmp_path / "second" / name).read_bytes() == (tmp_path / "first" / name).read_bytes()
    prepared = json.loads((tmp_path / "second" / "prepare.json").read_text())
    assert [(c["reused"], c["pairs_per_epoch"]) for c in prepared["corpora"]] == [(True, 400), (True, 400)]
    assert "tokenizer_seconds" not in prepared


def test_a_missing_tokenizer_directory_is_refused_naming_the_file(tmp_path):
    overrides = mixture_overrides(tmp_path, tmp_path / "run", max_steps="5")
    overrides["tokenizer.from_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="nowhere/source.spm does not exist"):
        train(load_config(None, overrides))


def test_bf16_training_learns_and_keeps_float32_weights(corpus, tmp_path):
    best = train(load_config(None, tiny_overrides(corpus, tmp_path / "run", max_steps="100", precision="bf16",
                                                  attention_plots="0")))
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert records[-1]["valid_loss"] < 0.5 * records[0]["valid_loss"]
    assert max(r["valid_bleu"] for r in records) > 20
    weights = load_file(tmp_path / "run" / "last" / "model.safetensors")
    assert all(tensor.dtype == torch.float32 for tensor in weights.values())
    assert best.exists()


@pytest.mark.parametrize("data, message", [
    ({"train_src": "a", "train_tgt": "b", "corpora": [{"name": "x", "src": "a", "tgt": "b"}],
      "valid_src": "c", "valid_tgt": "d"}, "either as train_src and train_tgt or as corpora"),
    ({"valid_src": "c", "valid_tgt": "d"}, "training data missing"),
    ({"train_src": "a", "train_tgt": "b"}, "validation data missing"),
    ({"corpora": [{"name": "x", "src": "a", "tgt": "b"}, {"name": "x", "src": "c", "tgt": "d"}],
      "valid_src": "c", "valid_tgt": "d"}, "names must be unique"),
    ({"corpora": [{"name": "x", "src": "a", "tgt": "b", "weight": 0}], "valid_src": "c", "valid_tgt": "d"},
     "greater than 0"),
    ({"train_src": "a", "train_tgt": "b", "valid": [{"name": "v", "src": "c", "tgt": "d", "weight": 0}]},
     "weight above 0"),
])
def test_malformed_data_sections_are_refused_with_the_reason(tmp_path, data, message):
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"data": data}))
    with pytest.raises(ValueError, match=message):
        load_config(path, {})
