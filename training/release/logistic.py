"""Logistic regression for confidence calibration, and the scores that judge a confidence: AUROC and ECE.

Plain numpy: a dozen features and a few thousand sentences are fitted by Newton's method (iteratively
reweighted least squares) in milliseconds, with a small L2 penalty so that a feature that is constant in
the fitting data (e.g. beam disagreement under greedy search) gets weight 0 instead of an arbitrary one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LogisticModel:
    """``P(y=1) = sigmoid(bias + ((x - means) / scales) @ weights)``."""

    means: np.ndarray  # (features,)
    scales: np.ndarray  # (features,)
    weights: np.ndarray  # (features,)
    bias: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(sentences,) probabilities for ``features`` (sentences, features)."""
        return _sigmoid(self.bias + ((features - self.means) / self.scales) @ self.weights)


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-2, iterations: int = 50) -> LogisticModel:
    """Fit by Newton's method on standardized features; ``l2`` penalizes the weights (not the bias),
    scaled by the number of examples.

    features: (sentences, features); labels: (sentences,) 0 or 1.

    Raises:
        ValueError: fewer than two examples of either label (no boundary to learn).
    """
    labels = labels.astype(float)
    if labels.sum() < 2 or (1 - labels).sum() < 2:
        raise ValueError(f"calibration needs at least 2 acceptable and 2 unacceptable translations; got "
                         f"{int(labels.sum())} and {int((1 - labels).sum())}: add validation sets of other domains "
                         "or more sentences")
    means = features.mean(axis=0)
    scales = features.std(axis=0)
    scales = np.where(scales > 1e-9, scales, 1.0)  # a constant feature: weight 0 under the penalty
    design = np.hstack([np.ones((len(features), 1)), (features - means) / scales])
    penalty = np.full(design.shape[1], l2 * len(features))
    penalty[0] = 0.0
    coefficients = np.zeros(design.shape[1])
    for _ in range(iterations):
        probabilities = _sigmoid(design @ coefficients)
        gradient = design.T @ (probabilities - labels) + penalty * coefficients
        hessian = (design * (probabilities * (1 - probabilities))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        coefficients -= step
        if np.abs(step).max() < 1e-8:
            break
    return LogisticModel(means, scales, coefficients[1:], float(coefficients[0]))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties count
    half); NaN when either class is absent."""
    labels = labels.astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = _average_tied_ranks(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE over ``bins`` equal-width bins of the predicted probability: the size-weighted mean of
    |mean prediction - share of positives| per bin."""
    if len(probabilities) == 0:
        return float("nan")
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.sum() * abs(probabilities[members].mean() - labels[members].mean())
    return float(error / len(probabilities))


def _average_tied_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, ties given their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(values, -500, 500)))
