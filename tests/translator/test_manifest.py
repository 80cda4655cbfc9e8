"""Checkpoint manifests: tampered, swapped, unlisted and unverifiable files are refused, naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import symbol_sentences, tiny_model
from translator.store.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, verify_checkpoint
from translator.store.manifest import main as manifest_main
from translator.text.tokenizer import train_tokenizer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_tokenizer_dir(tmp_path_factory, symbol_tokenizer):
    """A checkpoint whose source and target sentencepiece models differ (so swapping them matters)."""
    target = train_tokenizer(symbol_sentences(300, seed=7, max_len=4), vocab_size=24, model_type="unigram")
    assert target.model_proto != symbol_tokenizer.model_proto
    directory = tmp_path_factory.mktemp("two") / "xx-yy"
    model = tiny_model(symbol_tokenizer.vocab_size, tgt_vocab_size=target.vocab_size)
    save_checkpoint(directory, model, symbol_tokenizer, target, {"source_language": "xx", "target_language": "yy"})
    return directory


@pytest.fixture
def checkpoint(tmp_path, two_tokenizer_dir):
    copy = tmp_path / "xx-yy"
    shutil.copytree(two_tokenizer_dir, copy)
    return copy


def test_an_untouched_copy_verifies(checkpoint):
    assert load_checkpoint(checkpoint).version == verify_checkpoint(checkpoint)


def test_a_flipped_byte_in_the_weights_is_refused_naming_the_file(checkpoint):
    path = checkpoint / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight: still a well-formed safetensors file
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match its sha256 in manifest\.json"):
        load_checkpoint(checkpoint)


def test_swapped_tokenizers_are_refused_naming_the_file(checkpoint):
    source, target = checkpoint / "source.spm", checkpoint / "target.spm"
    source_bytes, target_bytes = source.read_bytes(), target.read_bytes()
    source.write_bytes(target_bytes)
    target.write_bytes(source_bytes)
    with pytest.raises(CheckpointError, match=r"source\.spm does not match its sha256") as error:
        load_checkpoint(checkpoint)
    assert "\n" not in str(error.value)


def test_a_checkpoint_without_a_manifest_is_refused_with_the_command_that_adds_one(checkpoint, capsys):
    (checkpoint / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=rf"manifest\.json is missing.*translator-manifest {checkpoint}"):
        load_checkpoint(checkpoint)
    assert manifest_main([str(checkpoint)]) == 0
    version = capsys.readouterr().out.split()[-1]
    assert load_checkpoint(checkpoint).version == version


def test_an_unlisted_file_is_refused(checkpoint):
    (checkpoint / "casing.tsv").write_text("added later\n")
    with pytest.raises(CheckpointError, match=r"casing\.tsv is not listed in manifest\.json"):
        load_checkpoint(checkpoint)


def test_a_file_listed_but_missing_is_refused(checkpoint):
    manifest = json.loads((checkpoint / "manifest.json").read_text())
    manifest["files"]["casing.tsv"] = {"bytes": 1, "sha256": "0" * 64}
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"casing\.tsv is missing \(listed in manifest\.json\)"):
        load_checkpoint(checkpoint)


@pytest.mark.parametrize("content, message", [
    (b"{not json", "manifest.json is not valid JSON"),
    (b'{"format_version": 1, "files": {"config.json": {"bytes": 1}}}', "files.config.json.sha256"),
    (b'{"format_version": 1, "files": {"../escape": {"bytes": 1, "sha256": "' + b"0" * 64 + b'"}}}',
     "not a file name inside the directory"),
    (b'{"format_version": 7, "files": {}}', "format_version 7"),
])
def test_a_broken_manifest_is_refused_naming_it(checkpoint, content, message):
    (checkpoint / "manifest.json").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(checkpoint)


def test_a_symbolic_link_instead_of_a_file_is_refused(checkpoint, tmp_path):
    outside = tmp_path / "outside.spm"
    shutil.move(checkpoint / "target.spm", outside)
    (checkpoint / "target.spm").symlink_to(outside)
    with pytest.raises(CheckpointError, match=r"target\.spm is not a regular file"):
        load_checkpoint(checkpoint)


def test_manifest_check_flag_reports_the_bad_file(checkpoint, capsys):
    assert manifest_main(["--check", str(checkpoint)]) == 0
    (checkpoint / "config.json").write_text((checkpoint / "config.json").read_text() + " ")
    assert manifest_main(["--check", str(checkpoint)]) == 2
    assert "config.json does not match its sha256" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["de-en", "en-de"])
def test_shipped_models_verify_against_their_manifests(name):
    assert verify_checkpoint(REPO / "models" / name).startswith("sha256:")
