"""The training configuration: one typed object, read from YAML, overridable by flags, printed
at the start of training and saved beside the run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from translator.model.config import ModelConfig
from translator.search.options import check_option


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusConfig(_Section):
    """One training corpus of a mixture: a pair of line-aligned files and how much of it an epoch sees."""

    name: str = Field(..., min_length=1, description="short name, used in logs and metadata (e.g. tatoeba)")
    src: Path = Field(..., description="source file, one sentence per line")
    tgt: Path = Field(..., description="target file, line-aligned with src")
    weight: float = Field(1.0, gt=0, description="pairs an epoch draws per pair of the corpus: 2 sees every "
                          "pair twice, 0.1 a fresh random tenth each epoch")


class ValidSetConfig(_Section):
    """One named validation set."""

    name: str = Field(..., min_length=1, description="short name, used in logs, curves and metadata")
    src: Path = Field(..., description="validation source file")
    tgt: Path = Field(..., description="validation target file")
    weight: float = Field(1.0, ge=0, description="share of this set's BLEU in the selection score")


class DataConfig(_Section):
    """Where the parallel text is and how it is cleaned.

    Training data is either one pair of files (``train_src``/``train_tgt``) or a mixture
    (``corpora``); validation is one pair (``valid_src``/``valid_tgt``) or several named sets
    (``valid``), whose BLEU scores are combined by weight into the score that selects checkpoints.
    """

    train_src: Path | None = Field(None, description="training source file, one sentence per line "
                                   "(or give corpora)")
    train_tgt: Path | None = Field(None, description="training target file, line-aligned with train_src")
    corpora: list[CorpusConfig] = Field(default_factory=list, description="a mixture of training corpora, "
                                        "each with a name and a weight (instead of train_src/train_tgt)")
    valid_src: Path | None = Field(None, description="validation source file (or give valid)")
    valid_tgt: Path | None = Field(None, description="validation target file")
    valid: list[ValidSetConfig] = Field(default_factory=list, description="several named validation sets "
                                        "(instead of valid_src/valid_tgt); selection uses their weighted mean BLEU")
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
    placeholder_rate: float = Field(
        0.0, ge=0, le=1, description="share of training pairs whose protected spans (numbers, URLs, e-mail "
        "addresses, paths, code, emoji) standing on both sides are replaced by the same placeholder on both, so "
        "the model learns to carry placeholders across (needs tokenizer.placeholders; translator/text/protect.py)")

    @model_validator(mode="after")
    def _one_form_each(self) -> "DataConfig":
        for single, several, what in ((("train_src", "train_tgt"), "corpora", "training"),
                                      (("valid_src", "valid_tgt"), "valid", "validation")):
            given = [getattr(self, name) is not None for name in single]
            if any(given) and getattr(self, several):
                raise ValueError(f"give the {what} data either as {' and '.join(single)} or as {several}, not both")
            if not getattr(self, several) and not all(given):
                raise ValueError(f"{what} data missing: give {' and '.join(single)}, or {several}")
        for sets, what in ((self.corpora, "corpora"), (self.valid, "valid")):
            names = [item.name for item in sets]
            if len(set(names)) != len(names):
                raise ValueError(f"{what}: names must be unique, got {names}")
        if self.valid and not any(item.weight > 0 for item in self.valid):
            raise ValueError("valid: at least one validation set needs a weight above 0")
        return self

    def training_corpora(self) -> list[CorpusConfig]:
        """The corpora to train on; a single ``train_src``/``train_tgt`` pair is a corpus named ``train``."""
        if self.corpora:
            return list(self.corpora)
        return [CorpusConfig(name="train", src=self.train_src, tgt=self.train_tgt, weight=1.0)]

    def selection_rule(self) -> str:
        """In words, how the selection score ``valid_bleu`` combines the validation sets."""
        sets = self.validation_sets()
        if len(sets) == 1:
            return f"BLEU on {sets[0].name}"
        total = sum(one.weight for one in sets)
        return "weighted mean BLEU: " + " + ".join(f"{one.weight / total:.3g} x {one.name}" for one in sets)

    def validation_sets(self) -> list[ValidSetConfig]:
        """The validation sets; a single ``valid_src``/``valid_tgt`` pair is a set named ``valid``."""
        if self.valid:
            return list(self.valid)
        return [ValidSetConfig(name="valid", src=self.valid_src, tgt=self.valid_tgt, weight=1.0)]


class TokenizerConfig(_Section):
    """Sentencepiece settings."""

    vocab_size: int = Field(8000, ge=8, description="pieces per vocabulary (upper bound)")
    model_type: Literal["unigram", "bpe"] = Field("unigram", description="sentencepiece algorithm")
    joint: bool = Field(False, description="one vocabulary trained on both sides")
    character_coverage: float = Field(1.0, gt=0, le=1, description="sentencepiece character coverage")
    placeholders: bool = Field(False, description="reserve one piece per placeholder of translator/text/protect.py, "
                               "so protected spans are masked before search and restored after it")
    byte_fallback: bool = Field(False, description="spell characters outside the vocabulary as UTF-8 byte pieces "
                                "instead of <unk>")
    sample_size: int = Field(
        500_000, ge=1, description="train sentencepiece on at most this many pairs, drawn at random "
        "(seeded by train.seed) from the cleaned corpus; bounds its memory and time")
    from_dir: Path | None = Field(
        None, description="take the sentencepiece models (and casing table) of this run or checkpoint directory "
        "instead of training them, e.g. to compare mixtures with one vocabulary and the same prepared caches")


class OptimConfig(_Section):
    """How to train."""

    output_dir: Path = Field(Path("runs/model"), description="run directory: checkpoints, logs, plots")
    init_from: Path | None = Field(
        None, description="start a new run from this checkpoint directory's weights, tokenizers and casing table "
        "(fine-tuning, or continuing on another machine): fresh optimizer, lr warmed up again from its step")
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
    save_every: int = Field(
        200, ge=0, description="save last/ (for --resume) every this many updates, besides each validation and "
        "epoch end; 0: only then. A kill loses at most this many updates; SIGTERM loses none")
    patience: int = Field(8, ge=1, description="stop after this many validations without a better BLEU")
    valid_beam_size: int = Field(1, description="beam size for validation BLEU (1 = greedy)")
    seed: int = Field(1, description="random seed for initialisation, batching and dropout")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, ...")
    threads: int = Field(0, ge=0, description="torch CPU threads (0: torch's default)")
    keep_freed_memory: bool = Field(
        True, description="keep freed memory in the process (glibc mallopt) instead of page-faulting it back "
        "every step; the process keeps its peak memory (see translator/memory.py)")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16: forward and backward under torch.autocast(bfloat16) with fp32 master weights and "
        "optimizer state (faster on CPUs with AMX and on recent GPUs); fp32: everything in float32")
    save_half_precision: bool = Field(True, description="store the best model's weights as fp16")
    keep_snapshots: int = Field(
        5, ge=0, description="keep the weights of the last N validations in snapshots/ (for translator-average)"
    )
    attention_plots: int = Field(3, ge=0, description="validation sentences to draw attention heatmaps for")

    @field_validator("valid_beam_size")
    @classmethod
    def _a_beam_the_search_accepts(cls, value: int) -> int:
        check_option("beam_size", value)  # the search's own check: a bad value fails here, not at the first validation
        return value


class TrainConfig(_Section):
    """The whole configuration of one training run."""

    data: DataConfig
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = ModelConfig()
    train: OptimConfig = OptimConfig()

    @model_validator(mode="after")
    def _placeholders_need_their_pieces(self) -> "TrainConfig":
        if self.data.placeholder_rate > 0 and not self.tokenizer.placeholders:
            raise ValueError("data.placeholder_rate needs tokenizer.placeholders: true")
        return self


def portable_path(path: str | Path) -> str:
    """``path`` as written into a released model's metadata: relative to the working directory
    when it lies under it (configs name data relative to the project root), else with the home
    directory shown as ``~``, so metadata does not carry one machine's absolute layout."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    for base, shown in ((Path.cwd(), None), (Path.home(), "~")):
        try:
            relative = path.relative_to(base)
        except ValueError:
            continue
        return str(relative) if shown is None else f"{shown}/{relative}"
    return str(path)


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
