"""From features to a calibrated probability, and the reasons a translation's confidence is low.

A checkpoint's ``calibration.json`` (written by ``translator-calibrate``, covered by its manifest) holds a
logistic model: ``P(acceptable) = sigmoid(bias + sum(weight * (feature - mean) / scale))``, where
*acceptable* means sentence chrF against a reference at or above ``acceptable_chrf``. A checkpoint without the
file gets no confidence at all (``None``): an uncalibrated number would look like a probability and not be one.

Reasons: each feature's term compared with its value in the fitting data's acceptable translations
(``reference``); a feature whose term lowers the log-odds by more than :data:`REASON_LOG_ODDS` is named,
most damaging first.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from translator.confidence.features import FEATURE_NAMES

CALIBRATION_FILE = "calibration.json"
CALIBRATION_FORMAT_VERSION = 1
REASON_LOG_ODDS = 0.7  # about halving the odds
MAX_REASONS = 2

# What a feature's value means when it lowers confidence: (when it is below the reference, when above).
REASON_TEXTS = {
    "mean_log_prob": ("the model found the words unlikely", "the model found the words unlikely"),
    "min_log_prob": ("a word the model found very unlikely", "a word the model found very unlikely"),
    "unattended": ("source words attended to more than once", "source words not attended to"),
    "coverage_deficit": ("source words attended to more than once", "source words not attended to"),
    "attention_entropy": ("attention fixed on few source words", "attention spread thinly over the source"),
    "length_ratio": ("unusually short", "unusually long"),
    "source_length": ("a very short source", "a very long source"),
    "repetition": ("repeats itself", "repeats itself"),
    "unknown_source": ("characters the model does not know", "characters the model does not know"),
    "truncated": ("cut off at the length limit", "cut off at the length limit"),
    "margin": ("close alternatives", "close alternatives"),
    "disagreement": ("candidates disagree", "candidates disagree"),
}


@dataclass
class Confidence:
    """The probability that a translation is acceptable, and what lowered it (short phrases, worst first)."""

    probability: float
    reasons: list[str] = field(default_factory=list)


class Calibration(BaseModel):
    """Contents of ``calibration.json``: a logistic model over named features, and how it was fitted."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = CALIBRATION_FORMAT_VERSION
    acceptable_chrf: float = Field(ge=0, le=100, description="acceptable: sentence chrF >= this")
    features: list[str]
    means: list[float]
    scales: list[float]
    weights: list[float]
    bias: float
    reference: list[float] = Field(description="mean features of the acceptable translations fitted on")
    search: dict[str, float | int | None] = Field(default_factory=dict, description="the search calibrated")
    fitted: dict = Field(default_factory=dict, description="sets, sentences and scores of the fit")

    @model_validator(mode="after")
    def _consistent(self) -> "Calibration":
        if self.format_version != CALIBRATION_FORMAT_VERSION:
            raise ValueError(f"format_version {self.format_version} is not {CALIBRATION_FORMAT_VERSION}; "
                             "recalibrate with this version's translator-calibrate")
        unknown = sorted(set(self.features) - set(FEATURE_NAMES))
        if unknown:
            raise ValueError(f"unknown features {unknown}; this version knows {list(FEATURE_NAMES)}")
        sizes = {len(self.features), len(self.means), len(self.scales), len(self.weights), len(self.reference)}
        if len(sizes) != 1:
            raise ValueError("features, means, scales, weights and reference must have the same length")
        if any(scale <= 0 or not math.isfinite(scale) for scale in self.scales):
            raise ValueError("every scale must be positive and finite")
        return self

    @classmethod
    def parse(cls, raw: bytes, path: str | Path) -> "Calibration":
        """The calibration in ``raw`` (the bytes of ``path``).

        Raises:
            ValueError: not a calibration file of this version, naming ``path``.
        """
        try:
            return cls.model_validate_json(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{path} is not a valid calibration file: {where + ': ' if where else ''}"
                             f"{first['msg']}") from None

    def save(self, directory: str | Path) -> Path:
        """Write ``calibration.json`` into ``directory`` (the caller rewrites the manifest afterwards)."""
        path = Path(directory) / CALIBRATION_FILE
        path.write_text(json.dumps(self.model_dump(), indent=2) + "\n", encoding="utf-8")
        return path

    def terms(self, features: dict[str, float]) -> list[float]:
        """Each feature's contribution to the log-odds."""
        return [weight * (features[name] - mean) / scale
                for name, mean, scale, weight in zip(self.features, self.means, self.scales, self.weights)]

    def probability(self, features: dict[str, float]) -> float:
        """P(acceptable) for one translation's features."""
        return _sigmoid(self.bias + sum(self.terms(features)))

    def reasons(self, features: dict[str, float]) -> list[str]:
        """What lowers this translation's confidence most, next to a typical acceptable translation."""
        lowering = []
        for name, reference, scale, weight in zip(self.features, self.reference, self.scales, self.weights):
            change = weight * (features[name] - reference) / scale
            if change < -REASON_LOG_ODDS:
                below, above = REASON_TEXTS[name]
                lowering.append((change, below if features[name] < reference else above))
        reasons: list[str] = []
        for _, text in sorted(lowering):
            if text not in reasons:
                reasons.append(text)
        return reasons[:MAX_REASONS]


def estimate(calibration: Calibration | None, features: dict[str, float]) -> Confidence | None:
    """The confidence of one translation, None without a calibration."""
    if calibration is None:
        return None
    return Confidence(calibration.probability(features), calibration.reasons(features))


def combine_confidences(confidences: Sequence[Confidence | None], weights: Sequence[float]) -> Confidence | None:
    """A text's confidence from its sentences': the ``weights``-weighted mean probability (callers weigh by the
    sentence's characters, so it is the expected share of the text translated acceptably), with every reason
    of a sentence under 0.5. None when any sentence has none (a blank sentence is left out by the caller)."""
    if not confidences or any(confidence is None for confidence in confidences):
        return None
    if sum(weights) <= 0:
        weights = [1.0] * len(confidences)
    probability = sum(c.probability * w for c, w in zip(confidences, weights)) / sum(weights)  # type: ignore
    reasons: list[str] = []
    for confidence in confidences:
        for reason in confidence.reasons if confidence.probability < 0.5 else []:
            if reason not in reasons:
                reasons.append(reason)
    return Confidence(min(1.0, max(0.0, probability)), reasons)


def chain_confidences(first: Confidence | None, second: Confidence | None) -> Confidence | None:
    """A pivoted translation's confidence: both legs acceptable, taken as independent (the product)."""
    if first is None or second is None:
        return None
    reasons = list(dict.fromkeys(first.reasons + second.reasons))
    return Confidence(first.probability * second.probability, reasons[:MAX_REASONS])


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exponential = math.exp(value)
    return exponential / (1.0 + exponential)
