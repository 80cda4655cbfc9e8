"""Confidence: how likely a translation is acceptable, from what the search already knows.

``features.py`` turns a hypothesis into numbers (log-probabilities, attention coverage and entropy, length
ratio, repetition, beam disagreement, unknown source pieces); ``calibration.py`` maps them to a probability
with the logistic model a checkpoint's ``calibration.json`` holds (fitted by ``translator-calibrate``) and
names the features that lowered it. Imports pydantic and the search's Hypothesis only.
"""

from translator.confidence.calibration import (CALIBRATION_FILE, Calibration, Confidence, chain_confidences,
                                               combine_confidences, estimate)
from translator.confidence.features import FEATURE_NAMES, sentence_features

__all__ = ["CALIBRATION_FILE", "Calibration", "Confidence", "FEATURE_NAMES", "chain_confidences",
           "combine_confidences", "estimate", "sentence_features"]
