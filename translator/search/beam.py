"""Batched greedy and beam search.

Every sentence of the batch and every beam of it live in one tensor of batch × beam rows; no
Python loop runs over sentences while decoding. In beam search a hypothesis that ends leaves the
beam for its sentence's store of finished hypotheses (a tensor too), so every row the model
computes is live; a sentence that is done leaves the active batch, so later steps do no work
for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from translator.search.protocol import DecodingModel
from translator.search.options import SearchOptions
from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID


StepHook = Callable[[torch.Tensor], "torch.Tensor | None"]
"""Called between decoding steps with the batch indices (active,) of the sentences still being searched;
returns a bool mask (active,) of sentences to abandon, or None. Abandoned sentences leave the batch at once
and get no hypotheses. (The service uses it to drop cancelled requests' sentences and to let other work run.)"""


@dataclass
class Hypothesis:
    """One output: pieces without BOS/EOS, its (length-normalised) score, optional attention."""

    token_ids: list[int]
    score: float
    attention: torch.Tensor | None = None  # (output_len, src_len), EOS step included
    ended_with_eos: bool = True


@dataclass
class SearchResult:
    """n-best hypotheses per input sentence, best first, in input order."""

    hypotheses: list[list[Hypothesis]] = field(default_factory=list)


def length_normaliser(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT length penalty ((5 + length) / 6) ** alpha; alpha = 0 means raw log-probabilities."""
    if alpha == 0:
        return torch.ones_like(lengths, dtype=torch.float32)
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def output_limits(src_lengths: torch.Tensor, options: SearchOptions) -> torch.Tensor:
    """(batch,) maximum output length per sentence, EOS included."""
    limits = torch.full_like(src_lengths, options.max_output_length)
    if options.max_output_ratio is not None:
        by_ratio = torch.ceil(src_lengths.float() * options.max_output_ratio).long().clamp(min=1)
        limits = torch.minimum(limits, by_ratio)
    return limits


@torch.inference_mode()
def beam_search(
    model: DecodingModel,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
    step_hook: StepHook | None = None,
) -> SearchResult:
    """Beam search over a padded batch.

    Every row the model computes is a live hypothesis: a candidate that ends in EOS leaves the
    beam for the sentence's store of finished hypotheses (the ``beam_size`` best are kept), and
    the beam is refilled with the best candidates that did not end. A sentence is done once it
    has ``beam_size`` finished hypotheses, or at its length cap, where the live ones count as
    finished too. Done sentences leave the batch.

    Args:
        model: anything with the :class:`~translator.search.protocol.DecodingModel` calls: a
            :class:`~translator.model.seq2seq.Seq2Seq` in eval mode, an
            :class:`~translator.model.inference.InferenceModel` or an :class:`~translator.search.ensemble.Ensemble`.
        src_ids: (batch, src_len) source piece ids padded with PAD_ID.
        src_lengths: (batch,) true source lengths.
        options: beam size, n-best, length penalty and output caps.
        return_attention: keep each hypothesis's attention matrix.
        step_hook: see :data:`StepHook`; abandoned sentences get an empty hypothesis list.

    Returns:
        ``options.n_best`` hypotheses per sentence, best first. Scores are the sum of the pieces'
        log-probabilities (EOS included) divided by :func:`length_normaliser`.
    """
    device = src_ids.device
    batch_size, src_len = src_ids.shape
    beam = options.beam_size
    alpha = options.length_penalty
    vocab_size = model.vocab_size  # logits may be wider, padded with -inf
    memory, state = model.encode(src_ids, src_lengths)
    limits = output_limits(src_lengths, options).to(device)
    longest = int(limits.max())

    # One memory row per sentence (attention broadcasts it over the beam); beam rows of state.
    state = model.select_state(state, torch.arange(batch_size, device=device).repeat_interleave(beam))

    # Live hypotheses, per active sentence and beam; all of them have `step` pieces.
    scores = torch.full((batch_size, beam), float("-inf"), device=device)  # raw cumulative log-probs
    scores[:, 0] = 0.0
    tokens = torch.full((batch_size, beam, longest), PAD_ID, dtype=torch.long, device=device)
    # Finished hypotheses: the `beam` best per sentence, scores already length-normalised.
    done_scores = torch.full((batch_size, beam), float("-inf"), device=device)
    done_tokens = torch.full((batch_size, beam, longest), PAD_ID, dtype=torch.long, device=device)
    done_lengths = torch.zeros(batch_size, beam, dtype=torch.long, device=device)
    attention = done_attention = None
    if return_attention:
        attention = torch.zeros(batch_size, beam, longest, src_len, device=device)
        done_attention = torch.zeros(batch_size, beam, longest, src_len, device=device)
    prev_ids = torch.full((batch_size * beam,), BOS_ID, dtype=torch.long, device=device)
    active = torch.arange(batch_size, device=device)  # original index of each active sentence
    results: list[list[Hypothesis]] = [[] for _ in range(batch_size)]

    for step in range(longest):
        rows = active.numel()
        logits, state, weights = model.step(prev_ids, state, memory)
        logits = logits.float()  # no-op in fp32; scores accumulate in fp32 whatever the model's dtype
        # What this step needs is the sentence's best `beam` candidates (the EOS ones among them
        # finish) and its best `beam` candidates that do not end. A hypothesis holds at most one
        # EOS candidate, so both sets lie within each hypothesis's own best beam + 1 pieces: a
        # top-k over the vocabulary per hypothesis, then over beam x width.
        width = min(beam + 1, vocab_size)
        top_log_probs, top_ids = _top_k(torch.log_softmax(logits, dim=-1), width)
        candidates = (scores.unsqueeze(-1) + top_log_probs.view(rows, beam, width)).view(rows, -1)
        # All candidates have step + 1 pieces, so raw scores rank them as normalised ones would.
        cand_scores, best = candidates.topk(2 * beam, dim=-1)  # (rows, 2 * beam), best first
        origin = best // width
        cand_ids = top_ids.view(rows, -1).gather(1, best)
        cand_tokens = _gather_beams(tokens, origin)  # (rows, 2 * beam, longest)
        cand_tokens[:, :, step] = cand_ids
        cand_attention = None
        if attention is not None:
            cand_attention = _gather_beams(attention, origin)
            cand_attention[:, :, step] = _gather_beams(weights.view(rows, beam, 1, src_len), origin)[:, :, 0]

        # Candidates ending in EOS among the best `beam` join the finished store.
        normaliser = float(length_normaliser(torch.tensor(step + 1), alpha))
        rank = torch.arange(2 * beam, device=device).expand(rows, -1)
        ends = (cand_ids == EOS_ID) & (rank < beam)
        at_cap = limits[active] <= step + 1
        # At the cap the best live candidates are finished as they are, without EOS.
        alive_rank = torch.where(cand_ids == EOS_ID, rank + 2 * beam, rank)
        alive_slots = alive_rank.topk(beam, dim=-1, largest=False).indices  # (rows, beam), by score
        capped = torch.zeros_like(ends).scatter(1, alive_slots, at_cap.unsqueeze(1).expand(-1, beam))
        joining = (ends | capped) & torch.isfinite(cand_scores)
        joining_scores = torch.where(joining, cand_scores / normaliser, float("-inf"))
        merged_scores, pick = torch.cat([done_scores, joining_scores], 1).topk(beam, dim=-1)
        done_scores = merged_scores
        done_tokens = _gather_beams(torch.cat([done_tokens, cand_tokens], 1), pick)
        done_lengths = torch.cat([done_lengths, torch.full_like(cand_ids, step + 1)], 1).gather(1, pick)
        if attention is not None:
            done_attention = _gather_beams(torch.cat([done_attention, cand_attention], 1), pick)

        # The beam continues with the best candidates that did not end.
        scores = cand_scores.gather(1, alive_slots)
        tokens = _gather_beams(cand_tokens, alive_slots)
        if attention is not None:
            attention = _gather_beams(cand_attention, alive_slots)
        prev_ids = cand_ids.gather(1, alive_slots).view(-1)
        beam_origin = origin.gather(1, alive_slots)
        state = model.select_state(state, (torch.arange(rows, device=device).unsqueeze(1) * beam + beam_origin).view(-1))

        done = at_cap | torch.isfinite(done_scores).all(dim=1)
        done, leaving = _leaving(done, step_hook, active)
        if bool(leaving.any()):
            _collect(results, active[done], done_tokens[done], done_scores[done], done_lengths[done],
                     None if done_attention is None else done_attention[done], options.n_best)
            keep = (~leaving).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            active, scores, tokens = active[keep], scores[keep], tokens[keep]
            done_scores, done_tokens, done_lengths = done_scores[keep], done_tokens[keep], done_lengths[keep]
            if attention is not None:
                attention, done_attention = attention[keep], done_attention[keep]
            keep_rows = (keep.unsqueeze(1) * beam + torch.arange(beam, device=device)).view(-1)
            memory = model.select_memory(memory, keep)
            state = model.select_state(state, keep_rows)
            prev_ids = prev_ids.index_select(0, keep_rows)
    return SearchResult(results)


def _leaving(
    done: torch.Tensor, step_hook: StepHook | None, active: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(done, leaving), both (active,) bool: sentences to collect, and those plus the ones the hook abandons."""
    abandoned = step_hook(active) if step_hook is not None else None
    if abandoned is None:
        return done, done
    return done & ~abandoned, done | abandoned


def _top_k(values: torch.Tensor, k: int, block: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``values.topk(k, dim=-1)`` for (rows, n) with small k and large n, about 1.7x faster on CPU.

    The k largest values lie in the k blocks with the largest maxima (each block holding one of
    them has a maximum at least as large as the k-th value), so a top-k over block maxima and
    then over those k blocks' members replaces a top-k over the whole row. (320 x 7931, k=6,
    2 cores: 1.64 ms -> 0.94 ms.)
    """
    rows, size = values.shape
    body = size - size % block
    if body < 4 * k * block:
        return values.topk(k, dim=-1)
    blocks = values[:, :body].view(rows, body // block, block)
    top_blocks = blocks.amax(dim=-1).topk(k, dim=-1).indices  # (rows, k)
    offsets = torch.arange(block, device=values.device)
    candidates = blocks.gather(1, top_blocks.unsqueeze(-1).expand(rows, k, block)).view(rows, k * block)
    indices = (top_blocks.unsqueeze(-1) * block + offsets).view(rows, k * block)
    if body < size:  # the last, partial block always competes
        candidates = torch.cat([candidates, values[:, body:]], dim=1)
        indices = torch.cat([indices, torch.arange(body, size, device=values.device).expand(rows, -1)], dim=1)
    top_values, positions = candidates.topk(k, dim=-1)
    return top_values, indices.gather(1, positions)


def _max(values: torch.Tensor, block: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``values.max(dim=-1)`` for (rows, n) with n a multiple of ``block``, about 2x faster on CPU.

    torch's max with indices over a long row is slow on CPU; a max over one block per column
    offset and an argmax down the winning column are not. (64 x 8000 on 2 cores: about 0.29 ->
    0.12 ms, with one torch thread 0.56 -> 0.14 ms; greedy en-de-fast 1.04x and 1.10x faster;
    ``benchmarks/greedy_overheads.py``.) Only which index an exact tie returns may differ from ``max``.
    """
    rows, size = values.shape
    if size % block or size < 4 * block:
        return values.max(dim=-1)
    columns = values.view(rows, size // block, block)  # [r, i, j] = values[r, i * block + j]
    best, offsets = columns.amax(dim=1).max(dim=-1)
    winning_columns = columns.gather(2, offsets.view(rows, 1, 1).expand(rows, size // block, 1)).squeeze(2)
    return best, winning_columns.argmax(dim=-1) * block + offsets


def _gather_beams(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values (rows, beams, ...) -> (rows, k, ...) picking beams ``index`` (rows, k) per row."""
    shape = index.shape + values.shape[2:]
    return values.gather(1, index.view(*index.shape, *([1] * (values.dim() - 2))).expand(shape))


def _collect(
    results: list[list[Hypothesis]],
    sentence_ids: torch.Tensor,
    tokens: torch.Tensor,
    final_scores: torch.Tensor,
    lengths: torch.Tensor,
    attention: torch.Tensor | None,
    n_best: int,
) -> None:
    """Store the n best hypotheses of sentences that just finished searching.

    tokens: (done, k, steps); final_scores (length-normalised), lengths: (done, k);
    attention: (done, k, steps, src_len) or None.
    """
    order = final_scores.argsort(dim=1, descending=True)[:, :n_best]
    final, lengths = final_scores.gather(1, order).tolist(), lengths.gather(1, order).tolist()
    tokens = tokens.gather(1, order.unsqueeze(-1).expand(-1, -1, tokens.size(2))).tolist()
    for row, sentence in enumerate(sentence_ids.tolist()):
        for rank in range(len(order[row])):
            length = lengths[row][rank]
            pieces = tokens[row][rank][:length]
            ended = bool(pieces) and pieces[-1] == EOS_ID
            hyp_attention = None
            if attention is not None:
                hyp_attention = attention[row, int(order[row, rank]), :length].cpu()
            results[sentence].append(
                Hypothesis(pieces[:-1] if ended else pieces, final[row][rank], hyp_attention, ended)
            )


@torch.inference_mode()
def greedy_search(
    model: DecodingModel,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
    step_hook: StepHook | None = None,
) -> SearchResult:
    """Pick the most probable piece at each step; the same output as beam search with beam 1.

    Takes the same arguments as :func:`beam_search` (``beam_size`` and ``n_best`` are ignored)
    and avoids its beam bookkeeping, which makes it the fast path.
    """
    device = src_ids.device
    batch_size, src_len = src_ids.shape
    memory, state = model.encode(src_ids, src_lengths)
    limits = output_limits(src_lengths, options).to(device)
    scores = torch.zeros(batch_size, device=device)
    prev_ids = torch.full((batch_size,), BOS_ID, dtype=torch.long, device=device)
    active = torch.arange(batch_size, device=device)
    tokens = torch.empty(batch_size, 0, dtype=torch.long, device=device)
    attention = torch.empty(batch_size, 0, src_len, device=device) if return_attention else None
    results: list[list[Hypothesis]] = [[] for _ in range(batch_size)]

    for step in range(int(limits.max())):
        logits, state, weights = model.step(prev_ids, state, memory)
        best_log_prob, next_ids = _max(torch.log_softmax(logits.float(), dim=-1))
        scores = scores + best_log_prob
        finished = next_ids == EOS_ID  # a finished sentence leaves the batch at once
        tokens = torch.cat([tokens, next_ids.unsqueeze(1)], dim=1)
        if attention is not None:
            attention = torch.cat([attention, weights.unsqueeze(1)], dim=1)
        prev_ids = next_ids
        done = finished | (limits[active] <= step + 1)
        done, leaving = _leaving(done, step_hook, active)
        if bool(leaving.any()):
            lengths = torch.full_like(next_ids[done], step + 1)
            final = scores[done] / length_normaliser(lengths, options.length_penalty)
            _collect(results, active[done], tokens[done].unsqueeze(1), final.unsqueeze(1), lengths.unsqueeze(1),
                     None if attention is None else attention[done].unsqueeze(1), 1)
            keep = (~leaving).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            active, scores, tokens, prev_ids = active[keep], scores[keep], tokens[keep], prev_ids[keep]
            attention = None if attention is None else attention[keep]
            memory = model.select_memory(memory, keep)
            state = model.select_state(state, keep)
    return SearchResult(results)


def search(
    model: DecodingModel,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
    step_hook: StepHook | None = None,
) -> SearchResult:
    """Greedy search when ``beam_size`` is 1, beam search otherwise (``step_hook``: see :data:`StepHook`)."""
    if options.beam_size == 1:
        return greedy_search(model, src_ids, src_lengths, options, return_attention, step_hook)
    return beam_search(model, src_ids, src_lengths, options, return_attention, step_hook)


__all__ = [
    "Hypothesis",
    "SearchOptions",
    "SearchResult",
    "StepHook",
    "beam_search",
    "greedy_search",
    "length_normaliser",
    "search",
]
