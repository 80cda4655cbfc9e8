"""The shipped training configurations stay valid as the config schema evolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.cli import train_main
from training.config import load_config

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))


def test_configs_exist():
    assert CONFIGS, "configs/ holds the configurations of the shipped models"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_validates(path):
    config = load_config(path, {})
    assert config.data.src_lang != config.data.tgt_lang
    assert config.data.terms, "a shipped model's data must name its terms"


def test_flags_override_config_fields():
    config = load_config(CONFIGS[0], {"train.learning_rate": "3e-4", "model.rnn_type": "lstm"})
    assert config.train.learning_rate == 3e-4 and config.model.rnn_type == "lstm"


def test_help_lists_every_config_field(capsys):
    with pytest.raises(SystemExit):
        train_main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--data.train_src", "--model.rnn_type", "--train.label_smoothing", "--tokenizer.vocab_size", "--resume"):
        assert flag in out


def test_metadata_paths_do_not_carry_the_machine_layout(tmp_path, monkeypatch):
    from pathlib import Path

    from training.config import portable_path

    monkeypatch.chdir(tmp_path)
    assert portable_path("../shared/data/train.de") == "../shared/data/train.de"
    assert portable_path(tmp_path / "runs" / "x" / "snapshots") == "runs/x/snapshots"
    assert portable_path(Path.home() / "runs" / "y") == "~/runs/y"
    assert portable_path("/opt/elsewhere/model") == "/opt/elsewhere/model"


def test_a_validation_beam_is_checked_as_the_search_checks_it():
    paths = {f"data.{name}": name for name in ("train_src", "train_tgt", "valid_src", "valid_tgt")}
    assert load_config(None, paths | {"train.valid_beam_size": "3"}).train.valid_beam_size == 3
    with pytest.raises(ValueError, match=r"train\.valid_beam_size\n.*beam_size must be >= 1, got 0"):
        load_config(None, paths | {"train.valid_beam_size": "0"})
