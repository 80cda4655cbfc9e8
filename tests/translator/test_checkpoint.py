"""Checkpoint directories: round trip, atomic replacement, clear errors for broken ones.

Tests that corrupt a file on purpose rewrite the manifest afterwards (``write_manifest``), so the
check under test is the parser's, not the hash's; tests/translator/test_manifest.py covers the hash.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.conftest import tiny_model
from translator.store.checkpoint import (
    CheckpointError, load_checkpoint, resolve_device, save_checkpoint, verify_checkpoint, write_manifest,
)


def encode_outputs(model):
    src, lengths = torch.tensor([[5, 6, 7, 3]]), torch.tensor([4])
    with torch.no_grad():
        return model(src, lengths, torch.tensor([[2, 8, 9]]))


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_saved_model_loads_with_identical_outputs(tmp_path, symbol_tokenizer, rnn_type):
    model = tiny_model(symbol_tokenizer.vocab_size, rnn_type, seed=1)
    save_checkpoint(tmp_path / "m", model, symbol_tokenizer, symbol_tokenizer, {"source_language": "xx"})
    loaded = load_checkpoint(tmp_path / "m")
    assert torch.equal(encode_outputs(model), encode_outputs(loaded.model))
    assert loaded.metadata["source_language"] == "xx"
    assert loaded.metadata["library_version"]
    assert loaded.source_tokenizer.encode(["a b"]) == symbol_tokenizer.encode(["a b"])


def test_half_precision_weights_load_as_float32(tmp_path, symbol_tokenizer):
    model = tiny_model(symbol_tokenizer.vocab_size, seed=2)
    save_checkpoint(tmp_path / "m", model, symbol_tokenizer, symbol_tokenizer, half_precision=True)
    loaded = load_checkpoint(tmp_path / "m").model
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert torch.allclose(encode_outputs(model), encode_outputs(loaded), atol=2e-2)
    assert loaded.decoder.output_projection.weight.data_ptr() == loaded.decoder.embedding.weight.data_ptr()


def test_saving_over_a_checkpoint_replaces_it_and_a_failed_save_keeps_the_old_one(tmp_path, symbol_tokenizer):
    first, second = tiny_model(symbol_tokenizer.vocab_size, seed=1), tiny_model(symbol_tokenizer.vocab_size, seed=2)
    save_checkpoint(tmp_path / "m", first, symbol_tokenizer, symbol_tokenizer)
    save_checkpoint(tmp_path / "m", second, symbol_tokenizer, symbol_tokenizer)
    assert torch.equal(encode_outputs(load_checkpoint(tmp_path / "m").model), encode_outputs(second))

    def crash(_staging):
        raise KeyboardInterrupt  # as if killed while writing

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "m", first, symbol_tokenizer, symbol_tokenizer, write_extra=crash)
    assert torch.equal(encode_outputs(load_checkpoint(tmp_path / "m").model), encode_outputs(second))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no staging debris


@pytest.fixture
def model_copy(tmp_path, tiny_model_dir):
    target = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, target)
    return target


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "source.spm", "target.spm"])
def test_missing_file_is_named(model_copy, name):
    (model_copy / name).unlink()
    with pytest.raises(CheckpointError, match=f"{name} is missing"):
        load_checkpoint(model_copy)
    write_manifest(model_copy)  # even with a manifest that agrees, the checkpoint is incomplete
    with pytest.raises(CheckpointError, match=f"{name} is missing"):
        load_checkpoint(model_copy)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("model.safetensors", b"not a safetensors file", "model.safetensors is not a readable safetensors"),
        ("config.json", b"{broken", "config.json is not valid JSON"),
        ("source.spm", b"garbage", "source.spm is not a valid sentencepiece model"),
    ],
)
def test_corrupt_file_is_named(model_copy, name, content, message):
    (model_copy / name).write_bytes(content)
    write_manifest(model_copy)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(model_copy)


def test_incompatible_format_version_is_reported(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["format_version"] = 99
    (model_copy / "config.json").write_text(json.dumps(config))
    write_manifest(model_copy)
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_checkpoint(model_copy)


def test_config_that_does_not_match_the_weights_is_reported(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["model"]["decoder_hidden_size"] = 16
    (model_copy / "config.json").write_text(json.dumps(config))
    write_manifest(model_copy)
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(model_copy)


def test_invalid_config_values_are_reported(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["model"]["rnn_type"] = "transformer"
    (model_copy / "config.json").write_text(json.dumps(config))
    write_manifest(model_copy)
    with pytest.raises(CheckpointError, match="rnn_type"):
        load_checkpoint(model_copy)


def test_auto_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-9")


def test_saved_checkpoint_is_readable_by_other_users(tmp_path, symbol_tokenizer):
    save_checkpoint(tmp_path / "m", tiny_model(symbol_tokenizer.vocab_size), symbol_tokenizer, symbol_tokenizer)
    assert (tmp_path / "m").stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()} == {0o644}


def test_non_finite_weights_are_refused_naming_the_file_and_tensor(model_copy):
    weights = load_file(model_copy / "model.safetensors")
    name = sorted(weights)[0]
    weights[name].view(-1)[0] = float("nan")
    save_file(weights, model_copy / "model.safetensors")
    write_manifest(model_copy)  # a consistent manifest: the weights themselves are bad
    with pytest.raises(CheckpointError, match=rf"model.safetensors holds 1 non-finite values .* in {name}"):
        load_checkpoint(model_copy)
    with pytest.raises(CheckpointError, match="non-finite"):
        verify_checkpoint(model_copy)


def test_weights_of_the_wrong_shape_are_refused(model_copy):
    weights = load_file(model_copy / "model.safetensors")
    name = max(weights, key=lambda n: weights[n].shape[0])
    weights[name] = weights[name][:1].clone()
    save_file(weights, model_copy / "model.safetensors")
    write_manifest(model_copy)
    with pytest.raises(CheckpointError, match=rf"{name} has shape"):
        load_checkpoint(model_copy)


def test_metadata_of_the_wrong_type_is_refused_on_load_and_on_save(model_copy, tmp_path, symbol_tokenizer):
    metadata = json.loads((model_copy / "metadata.json").read_text())
    metadata["validation"] = {"valid_bleu": "high"}
    (model_copy / "metadata.json").write_text(json.dumps(metadata))
    write_manifest(model_copy)
    with pytest.raises(CheckpointError, match="metadata.json is not valid checkpoint metadata: validation.valid_bleu"):
        load_checkpoint(model_copy)
    with pytest.raises(CheckpointError, match="source_language"):
        save_checkpoint(tmp_path / "m", tiny_model(symbol_tokenizer.vocab_size), symbol_tokenizer, symbol_tokenizer,
                        {"source_language": "not a language code"})
    assert not (tmp_path / "m").exists()


def test_metadata_keeps_fields_it_does_not_know(tmp_path, symbol_tokenizer):
    save_checkpoint(tmp_path / "m", tiny_model(symbol_tokenizer.vocab_size), symbol_tokenizer, symbol_tokenizer,
                    {"source_language": "xx", "casing": {"kind": "table"}})
    assert load_checkpoint(tmp_path / "m").metadata["casing"] == {"kind": "table"}


def test_model_version_is_the_manifest_hash_and_follows_every_file(tmp_path, symbol_tokenizer):
    model = tiny_model(symbol_tokenizer.vocab_size, seed=1)
    save_checkpoint(tmp_path / "a", model, symbol_tokenizer, symbol_tokenizer, {"source_language": "xx"})
    save_checkpoint(tmp_path / "b", model, symbol_tokenizer, symbol_tokenizer, {"source_language": "xx"})
    save_checkpoint(tmp_path / "c", model, symbol_tokenizer, symbol_tokenizer, {"source_language": "zz"})
    versions = [load_checkpoint(tmp_path / name).version for name in "abc"]
    assert versions[0].startswith("sha256:") and len(versions[0]) == len("sha256:") + 12
    assert versions[0] == versions[1]  # same files, same version
    assert versions[2] != versions[0]  # only metadata.json differs
    assert verify_checkpoint(tmp_path / "c") == versions[2]
    assert write_manifest(tmp_path / "c") == versions[2]  # rewriting an unchanged directory keeps it


def test_extra_files_are_saved_under_the_manifest(tmp_path, symbol_tokenizer):
    def add_state(staging):
        (staging / "training_state.pt").write_bytes(b"state")

    save_checkpoint(tmp_path / "m", tiny_model(symbol_tokenizer.vocab_size), symbol_tokenizer, symbol_tokenizer,
                    write_extra=add_state)
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"config.json", "metadata.json", "model.safetensors", "source.spm",
                                      "target.spm", "training_state.pt"}
    (tmp_path / "m" / "training_state.pt").write_bytes(b"other")
    with pytest.raises(CheckpointError, match="training_state.pt does not match its sha256"):
        load_checkpoint(tmp_path / "m")


def test_save_removes_staging_leftovers_of_an_interrupted_save(tmp_path, symbol_tokenizer):
    model = tiny_model(symbol_tokenizer.vocab_size)
    save_checkpoint(tmp_path / "m", model, symbol_tokenizer, symbol_tokenizer)
    (tmp_path / ".m.staging-abc123").mkdir()  # as if a save was killed
    (tmp_path / ".mm.staging-abc123").mkdir()  # another checkpoint's: kept
    save_checkpoint(tmp_path / "m", model, symbol_tokenizer, symbol_tokenizer)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mm.staging-abc123", "m"]
