"""Batched greedy and beam search.

Every sentence of the batch and every beam of it live in one tensor of batch × beam rows; no
Python loop runs over sentences while decoding. Finished hypotheses stay in their beam with a
frozen score (their only continuation is PAD at no cost), and a sentence whose beams are all
finished leaves the active batch so later steps do no work for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from translator.decoder import select_state
from translator.model import Seq2Seq
from translator.tokenizer import BOS_ID, EOS_ID, PAD_ID


@dataclass(frozen=True)
class SearchOptions:
    """How to search. ``max_output_length`` caps every output; ``max_output_ratio`` (if set)
    also caps it at ``ceil(ratio * source length)`` pieces."""

    beam_size: int = 5
    n_best: int = 1
    length_penalty: float = 1.0
    max_output_length: int = 256
    max_output_ratio: float | None = 2.0

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if not 1 <= self.n_best <= self.beam_size:
            raise ValueError(f"n_best must be between 1 and beam_size ({self.beam_size}), got {self.n_best}")
        if self.length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {self.length_penalty}")
        if self.max_output_length < 1:
            raise ValueError(f"max_output_length must be >= 1, got {self.max_output_length}")
        if self.max_output_ratio is not None and self.max_output_ratio <= 0:
            raise ValueError(f"max_output_ratio must be > 0, got {self.max_output_ratio}")


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
    model: Seq2Seq,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
) -> SearchResult:
    """Beam search over a padded batch.

    Args:
        model: the translation model (put in eval mode by the caller).
        src_ids: (batch, src_len) source piece ids padded with PAD_ID.
        src_lengths: (batch,) true source lengths.
        options: beam size, n-best, length penalty and output caps.
        return_attention: keep each hypothesis's attention matrix.

    Returns:
        ``options.n_best`` hypotheses per sentence, best first. Scores are the sum of the pieces'
        log-probabilities (EOS included) divided by :func:`length_normaliser`.
    """
    device = src_ids.device
    batch_size, src_len = src_ids.shape
    beam = options.beam_size
    alpha = options.length_penalty
    memory, state = model.encode(src_ids, src_lengths)
    limits = output_limits(src_lengths, options).to(device)
    longest = int(limits.max())

    repeat = torch.arange(batch_size, device=device).repeat_interleave(beam)
    memory = memory.index_select(repeat)
    state = select_state(state, repeat)

    # Per active sentence and beam: raw cumulative log-prob, output length, finished flag.
    scores = torch.full((batch_size, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0
    lengths = torch.zeros(batch_size, beam, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, beam, dtype=torch.bool, device=device)
    tokens = torch.empty(batch_size, beam, 0, dtype=torch.long, device=device)
    attention = torch.empty(batch_size, beam, 0, src_len, device=device) if return_attention else None
    prev_ids = torch.full((batch_size * beam,), BOS_ID, dtype=torch.long, device=device)
    active = torch.arange(batch_size, device=device)  # original index of each active sentence
    results: list[list[Hypothesis]] = [[] for _ in range(batch_size)]

    for step in range(longest):
        rows = active.numel()
        logits, state, weights = model.step(prev_ids, state, memory)
        logits = logits.float()  # no-op in fp32; scores accumulate in fp32 whatever the model's dtype
        # Within one hypothesis every continuation shares the length normaliser, so its best
        # `width` pieces by log-probability are its only candidates for the new beam: a top-k
        # over the vocabulary per hypothesis, then over beam x width, never over beam x vocab.
        width = min(beam, logits.size(-1))
        top_log_probs, top_ids = torch.log_softmax(logits, dim=-1).topk(width, dim=-1)  # (rows * beam, width)
        top_log_probs = top_log_probs.view(rows, beam, width)
        top_ids = top_ids.view(rows, beam, width)
        # A finished hypothesis has exactly one continuation, PAD, which costs nothing.
        frozen = torch.full_like(top_log_probs[0, 0], float("-inf"))
        frozen[0] = 0.0
        top_log_probs = torch.where(finished.unsqueeze(-1), frozen, top_log_probs)
        top_ids = top_ids.masked_fill(finished.unsqueeze(-1), PAD_ID)
        candidates = scores.unsqueeze(-1) + top_log_probs  # (rows, beam, width)
        new_lengths = lengths + (~finished).long()
        # Rank every candidate by its length-normalised score, finished or not.
        ranking = candidates / length_normaliser(new_lengths, alpha).unsqueeze(-1)
        _, best = ranking.view(rows, -1).topk(beam, dim=-1)  # (rows, beam)
        origin = best // width
        next_ids = top_ids.view(rows, -1).gather(1, best)
        scores = candidates.view(rows, -1).gather(1, best)
        lengths = new_lengths.gather(1, origin)
        was_finished = finished.gather(1, origin)
        finished = was_finished | (next_ids == EOS_ID) | torch.isinf(scores)
        tokens = torch.cat([tokens.gather(1, origin.unsqueeze(-1).expand_as(tokens)), next_ids.unsqueeze(-1)], -1)
        flat_origin = (torch.arange(rows, device=device).unsqueeze(1) * beam + origin).view(-1)
        state = select_state(state, flat_origin)
        if attention is not None:
            step_weights = weights.view(rows, beam, 1, src_len).gather(
                1, origin.view(rows, beam, 1, 1).expand(rows, beam, 1, src_len)
            )
            history = attention.gather(
                1, origin.view(rows, beam, 1, 1).expand(rows, beam, attention.size(2), src_len)
            )
            attention = torch.cat([history, step_weights], dim=2)
        prev_ids = next_ids.view(-1)

        # A sentence is done when all its beams are finished or its length cap is reached.
        done = finished.all(dim=1) | (limits[active] <= step + 1)
        if bool(done.any()):
            _collect(results, active[done], tokens[done], scores[done], lengths[done],
                     None if attention is None else attention[done], alpha, options.n_best)
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            active, scores, lengths, finished, tokens = (
                active[keep], scores[keep], lengths[keep], finished[keep], tokens[keep]
            )
            attention = None if attention is None else attention[keep]
            keep_rows = (keep.unsqueeze(1) * beam + torch.arange(beam, device=device)).view(-1)
            memory = memory.index_select(keep_rows)
            state = select_state(state, keep_rows)
            prev_ids = prev_ids.index_select(0, keep_rows)
    return SearchResult(results)


def _collect(
    results: list[list[Hypothesis]],
    sentence_ids: torch.Tensor,
    tokens: torch.Tensor,
    scores: torch.Tensor,
    lengths: torch.Tensor,
    attention: torch.Tensor | None,
    alpha: float,
    n_best: int,
) -> None:
    """Store the n best hypotheses of sentences that just finished searching.

    tokens: (done, beam, steps); scores, lengths: (done, beam);
    attention: (done, beam, steps, src_len) or None.
    """
    final = scores / length_normaliser(lengths, alpha)
    order = final.argsort(dim=1, descending=True)[:, :n_best]
    final, lengths = final.gather(1, order).tolist(), lengths.gather(1, order).tolist()
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
    model: Seq2Seq,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
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
        best_log_prob, next_ids = torch.log_softmax(logits.float(), dim=-1).max(dim=-1)
        scores = scores + best_log_prob
        finished = next_ids == EOS_ID  # a finished sentence leaves the batch at once
        tokens = torch.cat([tokens, next_ids.unsqueeze(1)], dim=1)
        if attention is not None:
            attention = torch.cat([attention, weights.unsqueeze(1)], dim=1)
        prev_ids = next_ids
        done = finished | (limits[active] <= step + 1)
        if bool(done.any()):
            lengths = torch.full_like(next_ids[done], step + 1)
            _collect(results, active[done], tokens[done].unsqueeze(1), scores[done].unsqueeze(1),
                     lengths.unsqueeze(1),
                     None if attention is None else attention[done].unsqueeze(1),
                     options.length_penalty, 1)
            keep = (~done).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            active, scores, tokens, prev_ids = active[keep], scores[keep], tokens[keep], prev_ids[keep]
            attention = None if attention is None else attention[keep]
            memory = memory.index_select(keep)
            state = select_state(state, keep)
    return SearchResult(results)


def search(
    model: Seq2Seq,
    src_ids: torch.Tensor,
    src_lengths: torch.Tensor,
    options: SearchOptions,
    return_attention: bool = False,
) -> SearchResult:
    """Greedy search when ``beam_size`` is 1, beam search otherwise."""
    if options.beam_size == 1:
        return greedy_search(model, src_ids, src_lengths, options, return_attention)
    return beam_search(model, src_ids, src_lengths, options, return_attention)


__all__ = [
    "Hypothesis",
    "SearchOptions",
    "SearchResult",
    "beam_search",
    "greedy_search",
    "length_normaliser",
    "search",
]
