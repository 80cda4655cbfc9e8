"""Settings from the environment, model discovery, and start-up failures that say what to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.app import create_app
from service.scheduling.registry import model_directories
from service.settings import ServiceSettings
from translator.store.checkpoint import CheckpointError, write_manifest


def test_settings_are_read_from_translator_environment_variables(monkeypatch):
    monkeypatch.setenv("TRANSLATOR_MODEL_DIRS", "models/de-en, models/en-de")
    monkeypatch.setenv("TRANSLATOR_MAX_TEXTS", "10")
    monkeypatch.setenv("TRANSLATOR_API_KEY", "key-4711")
    monkeypatch.setenv("TRANSLATOR_DEVICE", "cpu")
    settings = ServiceSettings(_env_file=None)
    assert settings.model_dirs == [Path("models/de-en"), Path("models/en-de")]
    assert settings.max_texts == 10 and settings.device == "cpu"
    assert settings.api_key.get_secret_value() == "key-4711"
    assert "4711" not in repr(settings)  # the key is never printed


def test_model_dirs_also_accept_a_json_list(monkeypatch):
    monkeypatch.setenv("TRANSLATOR_MODEL_DIRS", '["a", "b c"]')
    assert ServiceSettings(_env_file=None).model_dirs == [Path("a"), Path("b c")]


def test_a_bad_value_names_the_setting(monkeypatch):
    monkeypatch.setenv("TRANSLATOR_MAX_TEXTS", "many")
    with pytest.raises(ValidationError, match="max_texts"):
        ServiceSettings(_env_file=None)


def test_limits_that_contradict_each_other_are_rejected():
    with pytest.raises(ValidationError, match="QUEUE_MAX_SENTENCES"):
        ServiceSettings(_env_file=None, max_texts=100, queue_max_sentences=10)
    with pytest.raises(ValidationError, match="max_total_chars"):
        ServiceSettings(_env_file=None, max_text_chars=100, max_total_chars=10)


def test_every_checkpoint_directory_under_models_root_is_found(tmp_path, tiny_model_dir):
    shutil.copytree(tiny_model_dir, tmp_path / "b-a")
    shutil.copytree(tiny_model_dir, tmp_path / "a-b")
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.md").write_text("not a model")
    shutil.copytree(tiny_model_dir, tmp_path / ".a-b.staging-k2j4")  # a killed release's leftover
    found = model_directories(ServiceSettings(_env_file=None, models_root=tmp_path))
    assert found == [tmp_path / "a-b", tmp_path / "b-a"]


def test_no_models_is_an_error_that_says_where_it_looked_and_what_to_set(tmp_path):
    with pytest.raises(CheckpointError, match="TRANSLATOR_MODEL_DIRS") as error:
        model_directories(ServiceSettings(_env_file=None, models_root=tmp_path))
    assert str(tmp_path) in str(error.value)


def test_start_up_fails_with_the_checkpoint_error_for_a_broken_model_dir(tmp_path, tiny_model_dir, make_settings):
    broken = tmp_path / "xx-yy"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        with TestClient(create_app(make_settings(model_dirs=[broken]))):
            pass


def test_languages_come_from_the_directory_name_when_metadata_has_none(tmp_path, tiny_model_dir, make_settings):
    directory = tmp_path / "ab-cd"
    shutil.copytree(tiny_model_dir, directory)
    (directory / "metadata.json").unlink()
    write_manifest(directory)
    with TestClient(create_app(make_settings(model_dirs=[directory]))) as client:
        response = client.post("/translate", json={"text": "a", "source_lang": "ab", "target_lang": "cd"})
    assert response.status_code == 200 and response.json()["model"] == "ab-cd"


def test_two_models_with_the_same_name_are_rejected(tmp_path, tiny_model_dir, make_settings):
    copy = tmp_path / "xx-yy"
    shutil.copytree(tiny_model_dir, copy)
    with pytest.raises(CheckpointError, match="share the name"):
        with TestClient(create_app(make_settings(model_dirs=[tiny_model_dir, copy]))):
            pass
