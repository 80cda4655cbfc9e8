"""Checkpoint directories: weights, config, tokenizers and metadata, loaded without unpickling.

Layout of a checkpoint directory::

    config.json        {"format_version": 1, "model": ModelConfig}
    model.safetensors  the weights (fp32, or fp16 to ship small; loading restores fp32)
    source.spm         sentencepiece model of the source side
    target.spm         sentencepiece model of the target side (a copy of source.spm when joint)
    metadata.json      languages, training data and its terms, scores, library version

A directory is written next to its final place and renamed into it, so a crash mid-save never
leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from translator import __version__
from translator.config import ModelConfig
from translator.model import Seq2Seq
from translator.tokenizer import Tokenizer

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SOURCE_TOKENIZER_FILE = "source.spm"
TARGET_TOKENIZER_FILE = "target.spm"
METADATA_FILE = "metadata.json"


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete, corrupt or from an incompatible version."""


class CheckpointConfig(BaseModel):
    """Contents of ``config.json``."""

    format_version: int
    model: ModelConfig


@dataclass
class Checkpoint:
    """Everything a checkpoint directory holds, loaded into memory."""

    model: Seq2Seq
    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    metadata: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    directory: str | Path,
    model: Seq2Seq,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    metadata: dict[str, Any] | None = None,
    half_precision: bool = False,
    write_extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write a checkpoint directory atomically (build beside it, then rename into place).

    ``write_extra`` may add files (e.g. optimiser state) to the directory before it is renamed,
    so they land together with the weights or not at all.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        config = CheckpointConfig(format_version=FORMAT_VERSION, model=model.config)
        (staging / CONFIG_FILE).write_text(config.model_dump_json(indent=2) + "\n")
        save_file(_weights_for_saving(model, half_precision), str(staging / WEIGHTS_FILE))
        source_tokenizer.save(staging / SOURCE_TOKENIZER_FILE)
        target_tokenizer.save(staging / TARGET_TOKENIZER_FILE)
        full_metadata = {"library_version": __version__, **(metadata or {})}
        (staging / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2, ensure_ascii=False) + "\n")
        if write_extra is not None:
            write_extra(staging)
        # mkdtemp makes a private directory; a model is meant to be read by other users (a
        # service account, a container's non-root user), so it gets ordinary permissions.
        os.chmod(staging, 0o755)
        for path in staging.iterdir():
            os.chmod(path, 0o644)
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        _replace_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _weights_for_saving(model: Seq2Seq, half_precision: bool) -> dict[str, torch.Tensor]:
    """State dict without the tied output weight (it is re-tied on load), contiguous, on the CPU."""
    weights = {}
    for name, tensor in model.state_dict().items():
        if model.config.tie_target_embeddings and name == "decoder.output_projection.weight":
            continue
        tensor = tensor.detach().to("cpu")
        if half_precision and tensor.is_floating_point():
            tensor = tensor.half()
        weights[name] = tensor.contiguous()
    return weights


def _replace_directory(staging: Path, directory: Path) -> None:
    """Move ``staging`` to ``directory``; an existing directory is swapped out, then removed."""
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
        os.replace(staging, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, directory)


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """The parsed ``metadata.json`` of a checkpoint (empty if the file is absent)."""
    path = Path(directory) / METADATA_FILE
    if not path.exists():
        return {}
    return _read_json(path)


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint directory onto ``device``; the model is returned in eval mode, fp32.

    Raises:
        CheckpointError: naming the file that is missing, corrupt or incompatible.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"model directory {directory} does not exist or is not a directory")
    for name in (CONFIG_FILE, WEIGHTS_FILE, SOURCE_TOKENIZER_FILE, TARGET_TOKENIZER_FILE):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory / name} is missing; is {directory} a model directory?")

    config = _load_config(directory / CONFIG_FILE)
    model = Seq2Seq(config.model)
    weights = _load_weights(directory / WEIGHTS_FILE)
    expected = {k for k in model.state_dict() if not (
        config.model.tie_target_embeddings and k == "decoder.output_projection.weight")}
    if set(weights) != expected:
        missing, unexpected = sorted(expected - set(weights)), sorted(set(weights) - expected)
        raise CheckpointError(
            f"{directory / WEIGHTS_FILE} does not match {directory / CONFIG_FILE}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    try:
        model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=False)
    except RuntimeError as error:  # shape mismatch
        raise CheckpointError(f"{directory / WEIGHTS_FILE} does not match {directory / CONFIG_FILE}: {error}") from error
    model.to(device).eval()

    tokenizers = []
    for name, vocab_size in ((SOURCE_TOKENIZER_FILE, config.model.src_vocab_size),
                             (TARGET_TOKENIZER_FILE, config.model.tgt_vocab_size)):
        try:
            tokenizer = Tokenizer.load(directory / name)
        except ValueError as error:
            raise CheckpointError(str(error)) from error
        if tokenizer.vocab_size != vocab_size:
            raise CheckpointError(
                f"{directory / name} has {tokenizer.vocab_size} pieces but {directory / CONFIG_FILE} "
                f"expects {vocab_size}"
            )
        tokenizers.append(tokenizer)
    return Checkpoint(model, tokenizers[0], tokenizers[1], read_metadata(directory))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from error


def _load_config(path: Path) -> CheckpointConfig:
    raw = _read_json(path)
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version!r}; this library (version {__version__}) "
            f"reads format_version {FORMAT_VERSION}"
        )
    try:
        return CheckpointConfig.model_validate(raw)
    except ValidationError as error:
        raise CheckpointError(f"{path} is not a valid model config: {error}") from error


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file: {error}") from error


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}: {error}") from error
