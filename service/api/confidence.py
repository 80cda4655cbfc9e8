"""Confidence in answers: each translation's calibrated confidence, and the ``min_confidence`` policy.

A request (or the server, by the settings ``min_confidence`` and ``low_confidence``) names a threshold; a
sentence whose confidence is below it is *low*. With ``low_confidence: "flag"`` (the default) the answer
marks it (``low_confidence: true``, with the reasons); with ``"refuse"`` the whole request is answered 422,
listing every low sentence (text index, sentence index, source, confidence, reasons), so a pipeline gets
nothing rather than a wrong sentence. A text of one sentence is judged as that sentence; a text of several
by each of its sentences. A translation without confidence (a model without ``calibration.json``) is never
low; a request that asks for ``min_confidence`` of such a model is refused (422) instead of being passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from translator.translate import Translation

from service.api.errors import InvalidRequest

LowConfidenceAction = Literal["flag", "refuse"]


@dataclass(frozen=True)
class ConfidencePolicy:
    """The threshold in effect (None: none) and what to do under it."""

    min_confidence: float | None = None
    action: LowConfidenceAction = "flag"

    @classmethod
    def of(cls, asked: float | None, asked_action: LowConfidenceAction | None, default: float | None,
           default_action: LowConfidenceAction) -> "ConfidencePolicy":
        """The request's threshold and action where it gives them, else the server's."""
        return cls(asked if asked is not None else default, asked_action or default_action)


class LowConfidence(InvalidRequest):
    """Sentences below ``min_confidence`` with ``low_confidence: "refuse"`` (422, listing them)."""

    def __init__(self, threshold: float, low: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(low)} sentence{'s' * (len(low) != 1)} translated with confidence below "
                         f"min_confidence {threshold:g}; nothing is returned (low_confidence: refuse). The "
                         "low_confidence list names them; send them elsewhere, or use low_confidence: flag")
        self.extra = {"low_confidence": low}


def is_low(translation: Translation, policy: ConfidencePolicy) -> bool:
    """Whether ``translation`` (one sentence) is below the policy's threshold."""
    return (policy.min_confidence is not None and translation.confidence is not None
            and translation.confidence.probability < policy.min_confidence)


def check_confidence(translations: list[Translation], sources: list[str], policy: ConfidencePolicy,
                     calibrated: bool, model: str) -> None:
    """Apply ``policy`` to the translations of ``sources``: nothing to do, or refuse.

    Raises:
        InvalidRequest: the request asked for a threshold but the model has no calibration.
        LowConfidence: ``refuse`` and some sentence is below the threshold.
    """
    if policy.min_confidence is None:
        return
    if not calibrated:
        raise InvalidRequest(f"min_confidence needs a calibrated model, and {model} has no calibration.json "
                             "(its translations carry no confidence); calibrate it with translator-calibrate, or "
                             "leave min_confidence out")
    if policy.action != "refuse":
        return
    low = []
    for number, (translation, source) in enumerate(zip(translations, sources)):
        sentences = translation.sentences or [Translation(translation.text, translation.score, source=source,
                                                          confidence=translation.confidence)]
        for index, sentence in enumerate(sentences):
            if is_low(sentence, policy):
                assert sentence.confidence is not None
                low.append({"text": number, "sentence": index, "source": sentence.source or source,
                            "confidence": round(sentence.confidence.probability, 4),
                            "reasons": sentence.confidence.reasons})
    if low:
        assert policy.min_confidence is not None
        raise LowConfidence(policy.min_confidence, low)
