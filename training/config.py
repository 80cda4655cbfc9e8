"""The training configuration: one typed object, read from YAML, overridable by flags, printed
at the start of training and saved beside the run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from translator.config import ModelConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    """Where the parallel text is and how it is cleaned."""

    train_src: Path = Field(..., description="training source file, one sentence per line")
    train_tgt: Path = Field(..., description="training target file, line-aligned with train_src")
    valid_src: Path = Field(..., description="validation source file")
    valid_tgt: Path = Field(..., description="validation target file")
    src_lang: str = Field("src", description="source language code, e.g. de")
    tgt_lang: str = Field("tgt", description="target language code, e.g. en")
    max_length: int = Field(100, ge=1, description="drop training pairs longer than this (pieces)")
    max_length_ratio: float = Field(3.0, gt=0, description="drop pairs whose piece-length ratio exceeds this")
    name: str = Field("", description="name of the data set, recorded in the model's metadata")
    terms: str = Field("", description="licence / terms of use of the data, recorded in metadata")
    domain: str = Field("", description="what kind of text it is (e.g. 'short descriptions of everyday scenes'), "
                        "recorded in metadata so users know what the model is for")
    cache_dir: Path | None = Field(
        None, description="where the prepared (tokenized, binarized) training data is kept (default: "
        "<output_dir>/cache); runs on the same files and tokenizers can share one")
    prepare_workers: int = Field(0, ge=0, description="processes that tokenize the corpus (0: one per CPU core)")


class TokenizerConfig(_Section):
    """Sentencepiece settings."""

    vocab_size: int = Field(8000, ge=8, description="pieces per vocabulary (upper bound)")
    model_type: Literal["unigram", "bpe"] = Field("unigram", description="sentencepiece algorithm")
    joint: bool = Field(False, description="one vocabulary trained on both sides")
    character_coverage: float = Field(1.0, gt=0, le=1, description="sentencepiece character coverage")
    sample_size: int = Field(
        500_000, ge=1, description="train sentencepiece on at most this many pairs, drawn at random "
        "(seeded by train.seed) from the cleaned corpus; bounds its memory and time")


class OptimConfig(_Section):
    """How to train."""

    output_dir: Path = Field(Path("runs/model"), description="run directory: checkpoints, logs, plots")
    batch_tokens: int = Field(4000, ge=1, description="target+source pieces per batch (padding included)")
    max_epochs: int = Field(30, ge=1, description="stop after this many epochs")
    max_steps: int = Field(0, ge=0, description="stop after this many updates (0: no limit)")
    learning_rate: float = Field(1e-3, gt=0, description="peak AdamW learning rate")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    warmup_steps: int = Field(500, ge=0, description="linear warm-up steps")
    lr_decay_factor: float = Field(0.5, gt=0, le=1, description="multiply the lr by this on a plateau")
    lr_decay_patience: int = Field(2, ge=0, description="validations without improvement before decaying")
    min_learning_rate: float = Field(1e-5, ge=0, description="stop when the lr decays below this")
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="label smoothing of the loss")
    clip_norm: float = Field(1.0, gt=0, description="gradient-norm clipping threshold")
    validate_every: int = Field(1000, ge=1, description="validate every this many updates")
    patience: int = Field(8, ge=1, description="stop after this many validations without a better BLEU")
    valid_beam_size: int = Field(1, ge=1, description="beam size for validation BLEU (1 = greedy)")
    seed: int = Field(1, description="random seed for initialisation, batching and dropout")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, ...")
    threads: int = Field(0, ge=0, description="torch CPU threads (0: torch's default)")
    save_half_precision: bool = Field(True, description="store the best model's weights as fp16")
    keep_snapshots: int = Field(
        5, ge=0, description="keep the weights of the last N validations in snapshots/ (for translator-average)"
    )
    attention_plots: int = Field(3, ge=0, description="validation sentences to draw attention heatmaps for")


class TrainConfig(_Section):
    """The whole configuration of one training run."""

    data: DataConfig
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = ModelConfig()
    train: OptimConfig = OptimConfig()


def load_config(path: Path | None, overrides: dict[str, str]) -> TrainConfig:
    """Read a YAML config (optional) and apply dotted overrides like ``{"train.learning_rate": "3e-4"}``.

    Raises:
        ValueError: naming the file or the field that is wrong.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ValueError(f"config file {path} does not exist") from None
        except yaml.YAMLError as error:
            raise ValueError(f"config file {path} is not valid YAML: {error}") from error
        if not isinstance(raw, dict):
            raise ValueError(f"config file {path} must hold a mapping at the top level")
    for dotted, value in overrides.items():
        section, _, name = dotted.partition(".")
        raw.setdefault(section, {})[name] = yaml.safe_load(value) if value != "" else value
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        where = f" in {path}" if path else ""
        raise ValueError(f"invalid configuration{where}:\n{error}") from error


def field_flags() -> list[tuple[str, str]]:
    """(``section.field``, description) for every overridable field, used to build CLI flags."""
    flags = []
    for section, info in TrainConfig.model_fields.items():
        section_type = info.annotation
        for name, field in section_type.model_fields.items():  # type: ignore[union-attr]
            flags.append((f"{section}.{name}", field.description or ""))
    return flags


def add_field_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--section.field VALUE`` flag per config field (see :func:`field_overrides`)."""
    for dotted, description in field_flags():
        parser.add_argument(f"--{dotted}", dest=dotted, metavar="VALUE", help=description)


def field_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The config-field flags that were given, for :func:`load_config`."""
    return {k: v for k, v in vars(args).items() if "." in k and v is not None}
