"""The translator-serve command: --help, flags over environment, clear errors, and the uvicorn call."""

from __future__ import annotations

import pytest

from service import cli
from service.settings import ServiceSettings, env_name


def test_help_documents_every_flag_and_every_environment_variable(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--host", "--port", "--model-dir", "--models-root", "--device", "--dtype", "--quantize",
                 "--log-level"):
        assert flag in text
    for field in ServiceSettings.model_fields:
        assert env_name(field) in text


def test_flags_override_the_environment(monkeypatch):
    monkeypatch.setenv("TRANSLATOR_PORT", "9000")
    monkeypatch.setenv("TRANSLATOR_DEVICE", "cuda")
    args = cli.build_parser().parse_args(["--port", "8001", "--model-dir", "m/a", "--model-dir", "m/b"])
    settings = cli.settings_from_args(args)
    assert settings.port == 8001
    assert settings.device == "cuda"  # no flag given: the environment wins
    assert [str(path) for path in settings.model_dirs] == ["m/a", "m/b"]


def test_no_models_exits_with_a_message_instead_of_a_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TRANSLATOR_MODEL_DIRS", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--models-root", str(tmp_path)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "no model directories found" in error and "Traceback" not in error


def test_an_invalid_setting_exits_with_a_message(capsys, monkeypatch):
    monkeypatch.setenv("TRANSLATOR_MAX_TEXTS", "0")
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "max_texts" in capsys.readouterr().err


def test_main_runs_uvicorn_on_the_configured_address(tiny_model_dir, monkeypatch):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: calls.append((app, kwargs)))
    assert cli.main(["--model-dir", str(tiny_model_dir), "--host", "0.0.0.0", "--port", "8123"]) == 0
    app, kwargs = calls[0]
    assert (kwargs["host"], kwargs["port"]) == ("0.0.0.0", 8123)
    assert app.state.service.settings.model_dirs == [tiny_model_dir]
