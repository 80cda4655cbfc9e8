"""Batched beam search, and :func:`search`, which runs it or greedy search.

A hypothesis that ends leaves the beam for its sentence's store of finished hypotheses (a tensor too), so
every row the model computes is live; a sentence that is done leaves the active batch, so later steps do no
work for it (:mod:`translator.search.hypotheses`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from translator.search.constraints import Forcing
from translator.search.greedy import greedy_search
from translator.search.hypotheses import (
    Hypothesis, HypothesisTensors, SearchBatch, SearchResult, StepHook, Trace, collect, gather_beams,
    leaving_sentences, length_normaliser, output_caps, prune,
)
from translator.search.kernels import top_k
from translator.search.options import SearchOptions
from translator.search.protocol import DecodingModel
from translator.text.tokenizer import EOS_ID, PAD_ID


@dataclass
class _Candidates:
    """The best ``2 * beam`` one-piece extensions of each sentence's live hypotheses, best first.

    ``scores`` (sentences, 2 * beam) are raw cumulative log-probabilities; ``ids`` the pieces added;
    ``origin`` which live hypothesis (0 .. beam - 1) each extends; ``tokens`` (sentences, 2 * beam,
    longest) and ``attention`` (sentences, 2 * beam, step + 1, src_len) their pieces and weights so far.
    """

    scores: torch.Tensor
    ids: torch.Tensor
    origin: torch.Tensor
    tokens: torch.Tensor
    attention: torch.Tensor | None
    trace: Trace


@torch.inference_mode()
def beam_search(
    model: DecodingModel,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
    step_hook: StepHook | None = None,
    forcing: Forcing | None = None,
) -> SearchResult:
    """Beam search over a padded batch.

    Every row the model computes is a live hypothesis. Each step has four parts: expand the live
    hypotheses by one piece (:func:`_expand`); retire the candidates that end in EOS to the sentence's
    store of finished hypotheses, which keeps the ``beam_size`` best (:func:`_retire`); advance the
    beam with the best candidates that did not end (:func:`_advance`); and prune the sentences that
    are done from the batch (:func:`prune`). A sentence is done once it has ``beam_size`` finished
    hypotheses, or at its length cap, where the live ones count as finished too.

    Args:
        model: anything with the :class:`~translator.search.protocol.DecodingModel` calls: a
            :class:`~translator.model.seq2seq.Seq2Seq` in eval mode, an
            :class:`~translator.model.inference.InferenceModel` or an :class:`~translator.search.ensemble.Ensemble`.
        src_ids: (batch, src_len) source piece ids padded with PAD_ID.
        src_lengths: (batch,) true source lengths.
        options: beam size, n-best, length penalty and output caps.
        return_attention: keep each hypothesis's attention matrix.
        step_hook: see :data:`StepHook`; abandoned sentences get an empty hypothesis list.
        forcing: what narrows each sentence's choices (glossary terms or forced prefixes,
            :mod:`translator.search.constraints`); the output caps are raised to fit what it forces.

    Returns:
        ``options.n_best`` hypotheses per sentence, best first. Scores are the sum of the pieces'
        log-probabilities (EOS included) divided by :func:`length_normaliser`.
    """
    device = src_ids.device
    batch_size, src_len = src_ids.shape
    beam = options.beam_size
    batch = SearchBatch.start(model, src_ids, src_lengths, beam)
    constraints = forcing
    limits = output_caps(src_lengths, options, forcing, device)
    longest = int(limits.max())

    # Live hypotheses all have `step` pieces; only the first of each sentence's beam exists at the start.
    scores = torch.full((batch_size, beam), float("-inf"), device=device)  # raw cumulative log-probs
    scores[:, 0] = 0.0
    # Live attention grows by a step at a time: copying a (steps so far)-long buffer each step, not a longest-long one.
    live = HypothesisTensors(scores, torch.full((batch_size, beam, longest), PAD_ID, dtype=torch.long, device=device),
                             torch.zeros((batch_size, beam, 0, src_len), device=device) if return_attention else None,
                             trace=Trace.zeros((batch_size, beam), longest, src_len, device))
    # Finished hypotheses: the `beam` best per sentence, scores already length-normalised.
    finished = HypothesisTensors(
        torch.full((batch_size, beam), float("-inf"), device=device),
        torch.full((batch_size, beam, longest), PAD_ID, dtype=torch.long, device=device),
        torch.zeros((batch_size, beam, longest, src_len), device=device) if return_attention else None,
        torch.zeros(batch_size, beam, dtype=torch.long, device=device),
        Trace.zeros((batch_size, beam), longest, src_len, device),
    )
    results: list[list[Hypothesis]] = [[] for _ in range(batch_size)]

    for step in range(longest):
        log_probs, weights = batch.step()
        at_cap = limits[batch.active] <= step + 1
        if constraints is not None:
            log_probs = constraints.restrict(log_probs, weights, at_cap, step)
        candidates = _expand(live, log_probs, weights, step, model.vocab_size)
        unended = _best_unended(candidates.ids, beam)
        finished = _retire(finished, candidates, unended, at_cap, step, options.length_penalty)
        live, rows = _advance(batch, candidates, unended)
        if constraints is not None:
            constraints.advance(rows, batch.prev_ids)
        done = at_cap | torch.isfinite(finished.scores).all(dim=1)
        done, leaving = leaving_sentences(done, step_hook, batch.active)
        if bool(leaving.any()):
            collect(results, batch.active[done], finished.select(done), options.n_best)
            kept = prune(batch, leaving, live, finished, constraints=constraints)
            if kept is None:
                break
            live, finished = kept
    return SearchResult(results)


def _expand(live: HypothesisTensors, log_probs: torch.Tensor, weights: torch.Tensor, step: int,
            vocab_size: int) -> _Candidates:
    """Each sentence's best ``2 * beam`` extensions of its live hypotheses by the piece at ``step``.

    log_probs: (rows, >= vocab_size) and weights (rows, src_len) from :meth:`SearchBatch.step`.
    """
    sentences, beam = live.scores.shape
    # What a step needs is the sentence's best `beam` candidates (the EOS ones among them finish) and its
    # best `beam` candidates that do not end. A hypothesis holds at most one EOS candidate, so both sets
    # lie within each hypothesis's own best beam + 1 pieces: a top-k over the vocabulary per hypothesis,
    # then over beam x width.
    width = min(beam + 1, vocab_size)
    top_log_probs, top_ids = top_k(log_probs, width)
    extended = (live.scores.unsqueeze(-1) + top_log_probs.view(sentences, beam, width)).view(sentences, -1)
    # All candidates have step + 1 pieces, so raw scores rank them as normalised ones would.
    scores, best = extended.topk(2 * beam, dim=-1)  # (sentences, 2 * beam), best first
    origin = best // width
    # A candidate that cannot be (-inf: a dead hypothesis, or a piece that forcing ruled out) may carry any id,
    # one of the model's padding columns included; PAD keeps its next step's embedding lookup in range.
    ids = top_ids.view(sentences, -1).gather(1, best).masked_fill(torch.isinf(scores), PAD_ID)
    tokens = gather_beams(live.tokens, origin)  # (sentences, 2 * beam, longest)
    tokens[:, :, step] = ids
    step_weights = gather_beams(weights.view(sentences, beam, -1), origin)  # (sentences, 2 * beam, src_len)
    attention = None
    if live.attention is not None:
        attention = torch.cat([gather_beams(live.attention, origin), step_weights.unsqueeze(2)], 2)
    assert live.trace is not None
    piece_log_probs = top_log_probs.view(sentences, -1).gather(1, best)
    trace = live.trace.gather(origin).extended(piece_log_probs, step_weights, step)
    return _Candidates(scores, ids, origin, tokens, attention, trace)


def _best_unended(ids: torch.Tensor, beam: int) -> torch.Tensor:
    """(sentences, beam): the places among the candidates (``ids`` (sentences, 2 * beam), best first) of the
    ``beam`` best that do not end in EOS, best first."""
    rank = torch.arange(ids.size(1), device=ids.device).expand(ids.size(0), -1)
    return torch.where(ids == EOS_ID, rank + ids.size(1), rank).topk(beam, dim=-1, largest=False).indices


def _retire(finished: HypothesisTensors, candidates: _Candidates, unended: torch.Tensor, at_cap: torch.Tensor,
            step: int, alpha: float) -> HypothesisTensors:
    """The store of finished hypotheses after this step, still the ``beam`` best per sentence.

    Candidates ending in EOS among a sentence's best ``beam`` join it; at a sentence's length cap
    (``at_cap`` (sentences,)) its best unended candidates join it as they are, without EOS.
    """
    beam = unended.size(1)
    normaliser = float(length_normaliser(torch.tensor(step + 1), alpha))
    rank = torch.arange(2 * beam, device=unended.device).expand(unended.size(0), -1)
    ends = (candidates.ids == EOS_ID) & (rank < beam)
    capped = torch.zeros_like(ends).scatter(1, unended, at_cap.unsqueeze(1).expand(-1, beam))
    joining = (ends | capped) & torch.isfinite(candidates.scores)
    if not bool(joining.any()):  # most steps: nothing ends, and the store stays as it is (no copies of it)
        return finished
    joining_scores = torch.where(joining, candidates.scores / normaliser, float("-inf"))
    scores, pick = torch.cat([finished.scores, joining_scores], 1).topk(beam, dim=-1)
    assert finished.lengths is not None and finished.trace is not None
    return HypothesisTensors(
        scores,
        gather_beams(torch.cat([finished.tokens, candidates.tokens], 1), pick),
        None if finished.attention is None or candidates.attention is None
        else gather_beams(torch.cat([finished.attention, _padded(candidates.attention, finished.attention.size(2))], 1),
                          pick),
        torch.cat([finished.lengths, torch.full_like(candidates.ids, step + 1)], 1).gather(1, pick),
        Trace.cat(finished.trace, candidates.trace).gather(pick),
    )


def _padded(attention: torch.Tensor, steps: int) -> torch.Tensor:
    """(sentences, k, step + 1, src_len) live attention as (sentences, k, steps, src_len), zeros after."""
    return torch.nn.functional.pad(attention, (0, 0, 0, steps - attention.size(2)))


def _advance(batch: SearchBatch, candidates: _Candidates,
             unended: torch.Tensor) -> tuple[HypothesisTensors, torch.Tensor]:
    """The live hypotheses of the next step: the best unended candidates, and (rows,) the row each extends. The
    batch's state and last pieces are reordered to follow them."""
    sentences, beam = unended.shape
    batch.prev_ids = candidates.ids.gather(1, unended).view(-1)
    origin = candidates.origin.gather(1, unended)
    rows = torch.arange(sentences, device=unended.device).unsqueeze(1) * beam + origin
    batch.state = batch.model.select_state(batch.state, rows.view(-1))
    return HypothesisTensors(candidates.scores.gather(1, unended), gather_beams(candidates.tokens, unended),
                             None if candidates.attention is None else gather_beams(candidates.attention, unended),
                             trace=candidates.trace.gather(unended)), rows.view(-1)


def search(
    model: DecodingModel,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
    step_hook: StepHook | None = None,
    forcing: Forcing | None = None,
) -> SearchResult:
    """Greedy search when ``beam_size`` is 1, beam search otherwise (``step_hook``: see :data:`StepHook`; ``forcing``:
    see :mod:`translator.search.constraints`, made for ``beam_rows(options)`` rows per sentence)."""
    if options.beam_size == 1:
        return greedy_search(model, src_ids, src_lengths, options, return_attention, step_hook, forcing)
    return beam_search(model, src_ids, src_lengths, options, return_attention, step_hook, forcing)


def beam_rows(options: SearchOptions) -> int:
    """Rows per sentence that :func:`search` keeps: 1 for greedy search, the beam size otherwise."""
    return options.beam_size


__all__ = ["beam_rows", "beam_search", "search"]
