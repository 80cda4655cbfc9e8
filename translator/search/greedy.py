"""Greedy search: the most probable piece at each step, for a batch of sentences at once."""

from __future__ import annotations

import torch

from translator.search.constraints import Forcing
from translator.search.hypotheses import (
    Hypothesis, HypothesisTensors, SearchBatch, SearchResult, StepHook, Trace, collect, leaving_sentences,
    length_normaliser, output_caps, prune,
)
from translator.search.kernels import fast_max
from translator.search.options import SearchOptions
from translator.search.protocol import DecodingModel
from translator.text.tokenizer import EOS_ID


@torch.inference_mode()
def greedy_search(
    model: DecodingModel,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
    step_hook: StepHook | None = None,
    forcing: Forcing | None = None,
) -> SearchResult:
    """Pick the most probable piece at each step; the same output as beam search with beam 1.

    Takes the same arguments as :func:`beam_search` (``beam_size`` and ``n_best`` are ignored)
    and avoids its beam bookkeeping, which makes it the fast path.
    """
    device = src_ids.device
    batch_size, src_len = src_ids.shape
    batch = SearchBatch.start(model, src_ids, src_lengths, beam=1)
    constraints = forcing
    limits = output_caps(src_lengths, options, forcing, device)
    # One hypothesis per sentence: (sentences,) scores, (sentences, steps) tokens and attention.
    found = HypothesisTensors(torch.zeros(batch_size, device=device),
                              torch.empty(batch_size, 0, dtype=torch.long, device=device),
                              torch.empty(batch_size, 0, src_len, device=device) if return_attention else None,
                              trace=Trace.zeros((batch_size,), 0, src_len, device))
    results: list[list[Hypothesis]] = [[] for _ in range(batch_size)]

    for step in range(int(limits.max())):
        log_probs, weights = batch.step()
        if constraints is not None:
            log_probs = constraints.restrict(log_probs, weights, limits[batch.active] <= step + 1, step)
        best_log_prob, next_ids = fast_max(log_probs)
        if constraints is not None:
            constraints.advance(torch.arange(next_ids.size(0), device=device), next_ids)
        attention = None if found.attention is None else torch.cat([found.attention, weights.unsqueeze(1)], dim=1)
        assert found.trace is not None
        found = HypothesisTensors(found.scores + best_log_prob, torch.cat([found.tokens, next_ids.unsqueeze(1)], dim=1),
                                  attention, trace=found.trace.extended(best_log_prob, weights, step))
        batch.prev_ids = next_ids
        done = (next_ids == EOS_ID) | (limits[batch.active] <= step + 1)  # a finished sentence leaves at once
        done, leaving = leaving_sentences(done, step_hook, batch.active)
        if bool(leaving.any()):
            ending = found.select(done)
            lengths = torch.full_like(next_ids[done], step + 1)
            final = ending.scores / length_normaliser(lengths, options.length_penalty)
            assert ending.trace is not None
            collect(results, batch.active[done], HypothesisTensors(
                final.unsqueeze(1), ending.tokens.unsqueeze(1),
                None if ending.attention is None else ending.attention.unsqueeze(1), lengths.unsqueeze(1),
                ending.trace.unsqueezed()), 1)
            kept = prune(batch, leaving, found, constraints=constraints)
            if kept is None:
                break
            [found] = kept
    return SearchResult(results)
