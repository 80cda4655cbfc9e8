"""The features of one translation that confidence is estimated from.

All come from the search's own bookkeeping (:class:`~translator.search.hypotheses.Hypothesis`: piece log-probabilities,
summed attention per source position, attention entropy, the runner-up hypothesis) and the source ids; nothing
is computed by a second model. Each is a float where larger is not necessarily worse: the calibration learns
the sign.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Collection, Sequence

from translator.search.hypotheses import Hypothesis, occurrences

# Pieces whose summed attention stays under this were, in effect, not translated (Tu et al. 2016's coverage).
ATTENDED = 0.5
MIN_LOG_PROB = -20.0

FEATURE_NAMES = (
    "mean_log_prob",        # mean log-probability of the output pieces, EOS included
    "min_log_prob",         # the least likely piece's log-probability (floored at MIN_LOG_PROB)
    "unattended",           # share of source pieces whose summed attention is under ATTENDED
    "coverage_deficit",     # mean of max(0, 1 - summed attention) over the source pieces
    "attention_entropy",    # mean entropy of a step's attention, as a share of the most it can be
    "length_ratio",         # log((output pieces + 1) / (source pieces + 1))
    "source_length",        # log(source pieces + 1)
    "repetition",           # share of the output's piece bigrams that repeat an earlier one
    "unknown_source",       # share of source pieces that are <unk> or UTF-8 byte fallbacks
    "truncated",            # 1 when the output hit its length cap instead of ending
    "margin",               # score of the best minus the runner-up's (0 without a runner-up: greedy search)
    "disagreement",         # share of the best's pieces the runner-up lacks (0 without a runner-up)
)


def sentence_features(source_ids: Sequence[int], hypothesis: Hypothesis,
                      fallback_ids: Collection[int] = (), given: Sequence[Sequence[int]] = ()) -> dict[str, float]:
    """The :data:`FEATURE_NAMES` of ``hypothesis``, the search result for ``source_ids`` (EOS not included).

    ``given``: piece sequences the user prescribed (glossary terms' target pieces); where they stand in the output,
    their pieces count as certain (log-probability 0) in ``mean_log_prob`` and ``min_log_prob``: the user vouches
    for them, and a term forced on the model is as unlikely to it as it is right. With the model's own
    log-probabilities, confidence on glossary sentences fell while they got better; left out of the mean, it still
    fell, since the terms the model wrote of its own accord (most of them) were among its likeliest pieces
    (benchmarks/glossary.py, *Glossaries* in docs/translating.md).

    Raises:
        ValueError: the hypothesis lacks the search's trace (piece log-probabilities and coverage).
    """
    if hypothesis.piece_log_probs is None or hypothesis.coverage is None:
        raise ValueError("the hypothesis has no piece log-probabilities or coverage; it did not come from search")
    source_length, output = len(source_ids), hypothesis.token_ids
    forced = given_positions(output, given)
    log_probs = [0.0 if index in forced else p for index, p in enumerate(hypothesis.piece_log_probs)] or [0.0]
    coverage = hypothesis.coverage[:source_length]  # the source's own pieces: not EOS, not padding
    runner_up = hypothesis.runner_up
    return {
        "mean_log_prob": sum(log_probs) / len(log_probs),
        "min_log_prob": max(min(log_probs), MIN_LOG_PROB),
        "unattended": _share(sum(weight < ATTENDED for weight in coverage), source_length),
        "coverage_deficit": _share(sum(max(0.0, 1.0 - weight) for weight in coverage), source_length),
        "attention_entropy": (hypothesis.attention_entropy or 0.0) / math.log(source_length + 2),
        "length_ratio": math.log((len(output) + 1) / (source_length + 1)),
        "source_length": math.log(source_length + 1),
        "repetition": repetition(output),
        "unknown_source": _share(sum(piece in fallback_ids for piece in source_ids), source_length),
        "truncated": 0.0 if hypothesis.ended_with_eos else 1.0,
        "margin": 0.0 if runner_up is None else hypothesis.score - runner_up.score,
        "disagreement": 0.0 if runner_up is None else disagreement(output, runner_up.token_ids),
    }


def given_positions(output: Sequence[int], given: Sequence[Sequence[int]]) -> set[int]:
    """The positions of ``output`` covered by an occurrence of one of the ``given`` piece sequences."""
    return {position for pieces in given for start in occurrences(output, pieces)
            for position in range(start, start + len(pieces))}


def repetition(pieces: Sequence[int]) -> float:
    """Share of the bigrams of ``pieces`` that occurred before in it (0 for fewer than two)."""
    bigrams = list(zip(pieces, pieces[1:]))
    return _share(len(bigrams) - len(set(bigrams)), len(bigrams))


def disagreement(best: Sequence[int], other: Sequence[int]) -> float:
    """Share of ``best``'s pieces (as a multiset) that ``other`` lacks."""
    missing = Counter(best) - Counter(other)
    return _share(sum(missing.values()), len(best))


def _share(part: float, whole: int) -> float:
    return part / whole if whole else 0.0
