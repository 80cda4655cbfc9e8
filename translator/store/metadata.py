"""The typed schema of a checkpoint's ``metadata.json``, validated when a checkpoint is saved and loaded.

Known fields are typed; other fields are kept as they are (later versions and other tools may add
some), so validation refuses wrong types, not new information.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from translator.store.manifest import CheckpointError

LANGUAGE_CODE = r"^[A-Za-z]{2,8}([_-][A-Za-z0-9]{1,8})*$"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TrainingData(_Open):
    """Where the training data came from and on what terms it may be used."""

    name: str | None = None
    terms: str | None = None
    train_src: str | None = None
    train_tgt: str | None = None
    domain: str | None = None


class WarmStart(_Open):
    """The checkpoint a warm-started run began from (``train.init_from``): an earlier phase of the model's training."""

    checkpoint: str | None = None
    step: int | None = Field(None, ge=0)
    training_data: TrainingData | None = None
    warm_start: WarmStart | None = None  # that checkpoint's own warm start, if it had one


class TrainingInfo(_Open):
    """How far training had got when the checkpoint was written."""

    step: int | None = Field(None, ge=0)
    epoch: int | None = Field(None, ge=0)
    trainer_version: str | None = None
    config: str | None = None
    warm_start: WarmStart | None = None


class TestScore(_Open):
    """One measured test score of one named set with one search (written by ``translator-release``)."""

    __test__ = False  # not a pytest test class

    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    sentences: int | None = Field(None, ge=1)
    seconds_on_cpu: float | None = None
    command: str | None = None


class SetScore(_Open):
    """BLEU and chrF on one validation set."""

    bleu: float
    chrf: float


class CandidateScore(_Open):
    """One candidate of ``translator-select``: its selection score and its scores on every set."""

    score: float
    sets: dict[str, SetScore]


class SelectionSet(_Open):
    """A validation set ``translator-select`` scored on, and its weight in the selection score."""

    src: str
    ref: str
    weight: float = Field(..., ge=0)


class SelectionScores(_Open):
    """What ``translator-select`` measured to choose the checkpoint (``selection`` says it in words)."""

    chosen: str
    rule: str
    beam_size: int = Field(..., ge=1)
    sets: dict[str, SelectionSet]
    candidates: dict[str, CandidateScore]

    @model_validator(mode="after")
    def _chosen_is_a_candidate(self) -> "SelectionScores":
        if self.chosen not in self.candidates:
            raise ValueError(f"chosen {self.chosen!r} is not one of the candidates")
        return self


class Example(_Open):
    """A sentence and the model's translation of it, recorded by ``translator-release``."""

    source: str
    translation: str


class Domain(_Open):
    """What text the model was trained on, and what it does outside it."""

    description: str | None = None
    out_of_domain_examples: list[Example] | None = None


class DefaultSearch(BaseModel):
    """How the model is meant to be searched when a caller does not say (e.g. greedy for a distilled student)."""

    model_config = ConfigDict(extra="forbid")  # the fields of translator.search.options.MODEL_DEFAULT_FIELDS

    beam_size: int | None = Field(None, ge=1)
    length_penalty: float | None = Field(None, ge=0.0, allow_inf_nan=False)


class CheckpointMetadata(_Open):
    """Contents of ``metadata.json``."""

    library_version: str | None = None
    name: str | None = None
    source_language: str | None = Field(None, pattern=LANGUAGE_CODE)
    target_language: str | None = Field(None, pattern=LANGUAGE_CODE)
    training_data: TrainingData | None = None
    training: TrainingInfo | None = None
    validation: dict[str, float] | None = None
    test: dict[str, dict[str, TestScore]] | None = None
    selection: str | None = None
    selection_scores: SelectionScores | None = None
    averaged_from: list[str] | None = None
    domain: Domain | None = None
    default_search: DefaultSearch | None = None


def validate_metadata(data: Any, source: str | Path) -> dict[str, Any]:
    """``data`` checked against :class:`CheckpointMetadata`, as a plain dict (as written).

    Raises:
        CheckpointError: naming ``source`` (the file, or what produced the metadata) and the bad field.
    """
    try:
        CheckpointMetadata.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise CheckpointError(f"{source} is not valid checkpoint metadata: {where}: {first['msg']}") from None
    return dict(data)


def parse_metadata(raw: bytes, path: Path) -> dict[str, Any]:
    """The validated contents of a ``metadata.json`` file read as ``raw`` bytes."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None
    return validate_metadata(data, path)
