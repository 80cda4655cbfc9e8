"""Checkpoint directories: weights, config, tokenizers and metadata, verified and loaded without unpickling.

Layout of a checkpoint directory::

    config.json        {"format_version": 1, "model": ModelConfig}
    model.safetensors  the weights (fp32, or fp16 to ship small; loading restores fp32)
    source.spm         sentencepiece model of the source side
    target.spm         sentencepiece model of the target side (a copy of source.spm when joint)
    metadata.json      languages, training data and its terms, scores, library version (typed:
                       translator.store.metadata.CheckpointMetadata)
    manifest.json      the sha256 of every other file; the model version is its hash (translator.store.manifest)

Loading verifies every file against the manifest, then refuses weights that are not finite. A
directory is written beside its final place and swapped into it (translator.store.atomic), so a crash
mid-save never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from translator import __version__
from translator.store.atomic import clean_leftovers, folder_lock, fsync_tree, replace_directory, staging_directory
from translator.confidence.calibration import CALIBRATION_FILE, Calibration
from translator.text.casing import CASING_FILE, CaseRestorer
from translator.model.config import ModelConfig
from translator.store.manifest import MANIFEST_FILE, CheckpointError, VerifiedFiles, read_verified, write_manifest
from translator.store.metadata import parse_metadata, validate_metadata
from translator.model.seq2seq import Seq2Seq
from translator.text.tokenizer import Tokenizer

__all__ = [
    "CONFIG_FILE", "MANIFEST_FILE", "METADATA_FILE", "SOURCE_TOKENIZER_FILE", "TARGET_TOKENIZER_FILE",
    "WEIGHTS_FILE", "Checkpoint", "CheckpointError", "load_checkpoint", "read_metadata", "resolve_device",
    "save_checkpoint", "verify_checkpoint", "write_manifest",
]

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SOURCE_TOKENIZER_FILE = "source.spm"
TARGET_TOKENIZER_FILE = "target.spm"
METADATA_FILE = "metadata.json"


class CheckpointConfig(BaseModel):
    """Contents of ``config.json``."""

    format_version: int
    model: ModelConfig


@dataclass
class Checkpoint:
    """Everything a checkpoint directory holds, loaded into memory; ``version`` is the manifest's hash."""

    model: Seq2Seq
    source_tokenizer: Tokenizer
    target_tokenizer: Tokenizer
    metadata: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    case_restorer: CaseRestorer | None = None  # from casing.json, when the checkpoint has one
    calibration: Calibration | None = None  # from calibration.json (translator-calibrate), when it has one


def save_checkpoint(
    directory: str | Path,
    model: Seq2Seq,
    source_tokenizer: Tokenizer,
    target_tokenizer: Tokenizer,
    metadata: dict[str, Any] | None = None,
    half_precision: bool = False,
    write_extra: Callable[[Path], None] | None = None,
    case_restorer: CaseRestorer | None = None,
) -> Path:
    """Write a checkpoint directory atomically (build beside it, then swap it into place).

    ``write_extra`` may add files (e.g. optimiser state) to the directory before it is swapped in,
    so they land together with the weights or not at all; the manifest covers them too.
    ``case_restorer`` (the training data's casing table) is saved as ``casing.json``. Leftover
    staging directories of ``directory`` from an interrupted save are removed first.

    Raises:
        CheckpointError: ``metadata`` does not fit :class:`~translator.store.metadata.CheckpointMetadata`.
    """
    directory = Path(directory)
    full_metadata = validate_metadata({"library_version": __version__, **(metadata or {})},
                                      f"the metadata for {directory}")
    with folder_lock(directory.parent):
        clean_leftovers(directory)
        staging = staging_directory(directory)
        try:
            config = CheckpointConfig(format_version=FORMAT_VERSION, model=model.config)
            (staging / CONFIG_FILE).write_text(config.model_dump_json(indent=2) + "\n")
            save_file(_weights_for_saving(model, half_precision), str(staging / WEIGHTS_FILE))
            source_tokenizer.save(staging / SOURCE_TOKENIZER_FILE)
            target_tokenizer.save(staging / TARGET_TOKENIZER_FILE)
            (staging / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2, ensure_ascii=False) + "\n")
            if case_restorer is not None:
                case_restorer.save(staging)
            if write_extra is not None:
                write_extra(staging)
            write_manifest(staging)
            make_readable(staging)
            fsync_tree(staging)
            replace_directory(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return directory


def make_readable(directory: Path) -> None:
    """Ordinary permissions: a model is read by other users (a service account, a container's non-root user)."""
    os.chmod(directory, 0o755)  # mkdtemp made it private
    for path in directory.iterdir():
        os.chmod(path, 0o644)


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


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """The validated ``metadata.json`` of a checkpoint (empty if the file is absent; not hash-checked)."""
    path = Path(directory) / METADATA_FILE
    if not path.exists():
        return {}
    return parse_metadata(path.read_bytes(), path)


def verify_checkpoint(directory: str | Path) -> str:
    """Every check :func:`load_checkpoint` makes, without building the model; returns the model version.

    Raises:
        CheckpointError: one line naming the file that is missing, changed, corrupt or incompatible.
    """
    return _read_checkpoint(Path(directory))[0].version


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a verified checkpoint directory onto ``device``; the model is returned in eval mode, fp32.

    Every file is checked against ``manifest.json`` and the weights must be finite.

    Raises:
        CheckpointError: one line naming the file that is missing, changed, corrupt or incompatible.
    """
    files, config, weights, tokenizers, metadata = _read_checkpoint(Path(directory))
    model = Seq2Seq(config.model)
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=False)
    model.to(device).eval()
    case_restorer = None
    if CASING_FILE in files.contents:
        try:
            case_restorer = CaseRestorer.parse(files.contents[CASING_FILE], Path(directory) / CASING_FILE)
        except ValueError as error:
            raise CheckpointError(str(error)) from None
    calibration = None
    if CALIBRATION_FILE in files.contents:
        try:
            calibration = Calibration.parse(files.contents[CALIBRATION_FILE], Path(directory) / CALIBRATION_FILE)
        except ValueError as error:
            raise CheckpointError(str(error)) from None
    return Checkpoint(model, tokenizers[0], tokenizers[1], metadata, files.version, case_restorer, calibration)


def _read_checkpoint(
    directory: Path,
) -> tuple[VerifiedFiles, CheckpointConfig, dict[str, torch.Tensor], list[Tokenizer], dict[str, Any]]:
    """Verified, parsed and cross-checked contents of a checkpoint directory."""
    required = (CONFIG_FILE, WEIGHTS_FILE, SOURCE_TOKENIZER_FILE, TARGET_TOKENIZER_FILE)
    if directory.is_dir() and not (directory / MANIFEST_FILE).exists():
        for name in required:  # a clearer message for a directory that is not a checkpoint at all
            if not (directory / name).is_file():
                raise CheckpointError(f"{directory / name} is missing; is {directory} a model directory?")
    files = read_verified(directory, keep=(*required, METADATA_FILE, CASING_FILE, CALIBRATION_FILE))
    for name in required:
        if name not in files.contents:
            raise CheckpointError(f"{directory / name} is missing; is {directory} a model directory?")
    config = _parse_config(directory / CONFIG_FILE, files.contents[CONFIG_FILE])
    weights_path = directory / WEIGHTS_FILE
    weights = _parse_weights(weights_path, files.contents[WEIGHTS_FILE])
    _check_weights(weights_path, directory / CONFIG_FILE, weights, config.model)
    tokenizers = []
    for name, vocab_size in ((SOURCE_TOKENIZER_FILE, config.model.src_vocab_size),
                             (TARGET_TOKENIZER_FILE, config.model.tgt_vocab_size)):
        try:
            tokenizer = Tokenizer(files.contents[name], name=str(directory / name))
        except ValueError as error:
            raise CheckpointError(str(error)) from None
        if tokenizer.vocab_size != vocab_size:
            raise CheckpointError(
                f"{directory / name} has {tokenizer.vocab_size} pieces but {directory / CONFIG_FILE} "
                f"expects {vocab_size}"
            )
        tokenizers.append(tokenizer)
    metadata = {}
    if METADATA_FILE in files.contents:
        metadata = parse_metadata(files.contents[METADATA_FILE], directory / METADATA_FILE)
    return files, config, weights, tokenizers, metadata


def _check_weights(path: Path, config_path: Path, weights: dict[str, torch.Tensor], config: ModelConfig) -> None:
    """Names and shapes as the config implies (model built on the meta device: no memory), all finite."""
    with torch.device("meta"):
        expected_shapes = {name: tuple(tensor.shape) for name, tensor in Seq2Seq(config).state_dict().items()
                           if not (config.tie_target_embeddings and name == "decoder.output_projection.weight")}
    if set(weights) != set(expected_shapes):
        missing, unexpected = sorted(set(expected_shapes) - set(weights)), sorted(set(weights) - set(expected_shapes))
        raise CheckpointError(
            f"{path} does not match {config_path}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, tensor in weights.items():
        if tuple(tensor.shape) != expected_shapes[name]:
            raise CheckpointError(f"{path} does not match {config_path}: {name} has shape {tuple(tensor.shape)}, "
                                  f"the config implies {expected_shapes[name]}")
        if tensor.is_floating_point():
            bad = int((~torch.isfinite(tensor)).sum())
            if bad:
                raise CheckpointError(f"{path} holds {bad} non-finite values (NaN or infinity) in {name}; "
                                      "the weights are corrupt or training diverged")


def _parse_config(path: Path, raw: bytes) -> CheckpointConfig:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version!r}; this library (version {__version__}) "
            f"reads format_version {FORMAT_VERSION}"
        )
    try:
        return CheckpointConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CheckpointError(f"{path} is not a valid model config: {where}: {first['msg']}") from None


def _parse_weights(path: Path, raw: bytes) -> dict[str, torch.Tensor]:
    try:
        return load_safetensors(raw)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file: {error}") from None


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}: {error}") from error
