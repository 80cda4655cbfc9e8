"""Batched greedy and beam search.

Every sentence of the batch and every beam of it live in one tensor of batch × beam rows; no
Python loop runs over sentences while decoding. In beam search a hypothesis that ends leaves the
beam for its sentence's store of finished hypotheses (a tensor too), so every row the model
computes is live; a sentence that is done leaves the active batch, so later steps do no work
for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from translator.search.constraints import Forcing
from translator.search.protocol import DecodingModel, Memory, State
from translator.search.options import SearchOptions
from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID


StepHook = Callable[[torch.Tensor], "torch.Tensor | None"]
"""Called between decoding steps with the batch indices (active,) of the sentences still being searched;
returns a bool mask (active,) of sentences to abandon, or None. Abandoned sentences leave the batch at once
and get no hypotheses. (The service uses it to drop cancelled requests' sentences and to let other work run.)"""


@dataclass
class Hypothesis:
    """One output: pieces without BOS/EOS, its (length-normalised) score, optional attention.

    The search also keeps, at the cost of a few small tensors, what confidence estimation needs
    (:mod:`translator.confidence`): each piece's log-probability, the attention each source position
    received in total, the attention's mean entropy, and in beam search the next-best hypothesis.
    """

    token_ids: list[int]
    score: float
    attention: torch.Tensor | None = None  # (output_len, src_len), EOS step included
    ended_with_eos: bool = True
    piece_log_probs: list[float] | None = None  # (output_len,) EOS step included
    coverage: list[float] | None = None  # (src_len,) summed attention weights, padding included
    attention_entropy: float | None = None  # mean over output steps, in nats
    runner_up: "Hypothesis | None" = None  # the best of the other finished hypotheses (beam search)


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


@dataclass
class _Batch:
    """The model's side of the sentences still being searched.

    Rows are hypotheses, sentence-major: sentence ``i`` of the active ones owns rows ``i * beam`` to
    ``i * beam + beam - 1`` of ``state`` and ``prev_ids``; ``memory`` has one row per sentence (attention
    broadcasts it over the beam).
    """

    model: DecodingModel
    memory: Memory
    state: State
    prev_ids: torch.Tensor  # (rows,) each hypothesis's last piece
    active: torch.Tensor  # (sentences,) each active sentence's index in the input batch
    beam: int

    @classmethod
    def start(cls, model: DecodingModel, src_ids: torch.Tensor, src_lengths: torch.Tensor, beam: int) -> "_Batch":
        """Encode the batch and give every sentence ``beam`` rows of state, all starting at BOS."""
        batch_size, device = src_ids.size(0), src_ids.device
        memory, state = model.encode(src_ids, src_lengths)
        if beam > 1:
            state = model.select_state(state, torch.arange(batch_size, device=device).repeat_interleave(beam))
        prev_ids = torch.full((batch_size * beam,), BOS_ID, dtype=torch.long, device=device)
        return cls(model, memory, state, prev_ids, torch.arange(batch_size, device=device), beam)

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance the model by one piece: log-probabilities (rows, >= vocab_size) of every hypothesis's next
        piece, in fp32 whatever the model's dtype, and its attention (rows, src_len)."""
        logits, self.state, weights = self.model.step(self.prev_ids, self.state, self.memory)
        return torch.log_softmax(logits.float(), dim=-1), weights

    def keep(self, sentences: torch.Tensor) -> None:
        """Keep only ``sentences`` (a 1-D index into the active sentences), with all their rows."""
        rows = (sentences.unsqueeze(1) * self.beam + torch.arange(self.beam, device=sentences.device)).view(-1)
        self.active = self.active[sentences]
        self.memory = self.model.select_memory(self.memory, sentences)
        self.state = self.model.select_state(self.state, rows)
        self.prev_ids = self.prev_ids.index_select(0, rows)


@dataclass
class _Trace:
    """What confidence estimation needs of each hypothesis, sentence first like its tokens: ``log_probs``
    (sentences, k, steps) of its pieces, ``coverage`` (sentences, k, src_len) summed attention, ``entropy``
    (sentences, k) summed attention entropy. (Greedy search drops the k dimension.)"""

    log_probs: torch.Tensor
    coverage: torch.Tensor
    entropy: torch.Tensor

    @classmethod
    def zeros(cls, leading: tuple[int, ...], steps: int, src_len: int, device: torch.device) -> "_Trace":
        return cls(torch.zeros(*leading, steps, device=device), torch.zeros(*leading, src_len, device=device),
                   torch.zeros(*leading, device=device))

    def select(self, sentences: torch.Tensor) -> "_Trace":
        return _Trace(self.log_probs[sentences], self.coverage[sentences], self.entropy[sentences])

    def gather(self, index: torch.Tensor) -> "_Trace":
        """Each sentence's hypotheses ``index`` (sentences, k') (see :func:`_gather_beams`)."""
        return _Trace(_gather_beams(self.log_probs, index), _gather_beams(self.coverage, index),
                      self.entropy.gather(1, index))

    def extended(self, log_probs: torch.Tensor, weights: torch.Tensor, step: int) -> "_Trace":
        """This trace after one more step with pieces of ``log_probs`` and attention ``weights`` (…, src_len)."""
        weights = weights.float()
        if self.log_probs.size(-1) > step:  # beam search: preallocated, and this trace a fresh gather, so in place
            pieces = self.log_probs
            pieces[..., step] = log_probs
        else:
            pieces = torch.cat([self.log_probs, log_probs.unsqueeze(-1)], dim=-1)
        return _Trace(pieces, self.coverage + weights, self.entropy + torch.special.entr(weights).sum(-1))

    @staticmethod
    def cat(first: "_Trace", second: "_Trace") -> "_Trace":
        return _Trace(*(torch.cat([a, b], 1) for a, b in
                        ((first.log_probs, second.log_probs), (first.coverage, second.coverage),
                         (first.entropy, second.entropy))))


@dataclass
class _Hypotheses:
    """Hypotheses of the active sentences, sentence first: ``scores`` (sentences, k), ``tokens`` (sentences, k,
    steps), ``attention`` (sentences, k, steps, src_len) or None, ``lengths`` (sentences, k) where they differ,
    ``trace`` for confidence. (Greedy search keeps one per sentence and drops the k dimension.)"""

    scores: torch.Tensor
    tokens: torch.Tensor
    attention: torch.Tensor | None = None
    lengths: torch.Tensor | None = None
    trace: _Trace | None = None

    def select(self, sentences: torch.Tensor) -> "_Hypotheses":
        """The hypotheses of ``sentences`` (an index or a bool mask over the first dimension)."""
        return _Hypotheses(self.scores[sentences], self.tokens[sentences],
                           None if self.attention is None else self.attention[sentences],
                           None if self.lengths is None else self.lengths[sentences],
                           None if self.trace is None else self.trace.select(sentences))


@dataclass
class _Candidates:
    """The best ``2 * beam`` one-piece extensions of each sentence's live hypotheses, best first.

    ``scores`` (sentences, 2 * beam) are raw cumulative log-probabilities; ``ids`` the pieces added;
    ``origin`` which live hypothesis (0 .. beam - 1) each extends; ``tokens`` (sentences, 2 * beam,
    longest) and ``attention`` (sentences, 2 * beam, longest, src_len) their pieces and weights so far.
    """

    scores: torch.Tensor
    ids: torch.Tensor
    origin: torch.Tensor
    tokens: torch.Tensor
    attention: torch.Tensor | None
    trace: _Trace


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
    are done from the batch (:func:`_prune`). A sentence is done once it has ``beam_size`` finished
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
    batch = _Batch.start(model, src_ids, src_lengths, beam)
    constraints = forcing
    limits = _limits(src_lengths, options, forcing, device)
    longest = int(limits.max())

    # Live hypotheses all have `step` pieces; only the first of each sentence's beam exists at the start.
    scores = torch.full((batch_size, beam), float("-inf"), device=device)  # raw cumulative log-probs
    scores[:, 0] = 0.0
    attention_shape = (batch_size, beam, longest, src_len)
    live = _Hypotheses(scores, torch.full((batch_size, beam, longest), PAD_ID, dtype=torch.long, device=device),
                       torch.zeros(attention_shape, device=device) if return_attention else None,
                       trace=_Trace.zeros((batch_size, beam), longest, src_len, device))
    # Finished hypotheses: the `beam` best per sentence, scores already length-normalised.
    finished = _Hypotheses(
        torch.full((batch_size, beam), float("-inf"), device=device),
        torch.full((batch_size, beam, longest), PAD_ID, dtype=torch.long, device=device),
        torch.zeros(attention_shape, device=device) if return_attention else None,
        torch.zeros(batch_size, beam, dtype=torch.long, device=device),
        _Trace.zeros((batch_size, beam), longest, src_len, device),
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
        done, leaving = _leaving(done, step_hook, batch.active)
        if bool(leaving.any()):
            _collect(results, batch.active[done], finished.select(done), options.n_best)
            kept = _prune(batch, leaving, live, finished, constraints=constraints)
            if kept is None:
                break
            live, finished = kept
    return SearchResult(results)


def _expand(live: _Hypotheses, log_probs: torch.Tensor, weights: torch.Tensor, step: int,
            vocab_size: int) -> _Candidates:
    """Each sentence's best ``2 * beam`` extensions of its live hypotheses by the piece at ``step``.

    log_probs: (rows, >= vocab_size) and weights (rows, src_len) from :meth:`_Batch.step`.
    """
    sentences, beam = live.scores.shape
    # What a step needs is the sentence's best `beam` candidates (the EOS ones among them finish) and its
    # best `beam` candidates that do not end. A hypothesis holds at most one EOS candidate, so both sets
    # lie within each hypothesis's own best beam + 1 pieces: a top-k over the vocabulary per hypothesis,
    # then over beam x width.
    width = min(beam + 1, vocab_size)
    top_log_probs, top_ids = _top_k(log_probs, width)
    extended = (live.scores.unsqueeze(-1) + top_log_probs.view(sentences, beam, width)).view(sentences, -1)
    # All candidates have step + 1 pieces, so raw scores rank them as normalised ones would.
    scores, best = extended.topk(2 * beam, dim=-1)  # (sentences, 2 * beam), best first
    origin = best // width
    # A candidate that cannot be (-inf: a dead hypothesis, or a piece that forcing ruled out) may carry any id,
    # one of the model's padding columns included; PAD keeps its next step's embedding lookup in range.
    ids = top_ids.view(sentences, -1).gather(1, best).masked_fill(torch.isinf(scores), PAD_ID)
    tokens = _gather_beams(live.tokens, origin)  # (sentences, 2 * beam, longest)
    tokens[:, :, step] = ids
    step_weights = _gather_beams(weights.view(sentences, beam, -1), origin)  # (sentences, 2 * beam, src_len)
    attention = None
    if live.attention is not None:
        attention = _gather_beams(live.attention, origin)
        attention[:, :, step] = step_weights
    assert live.trace is not None
    piece_log_probs = top_log_probs.view(sentences, -1).gather(1, best)
    trace = live.trace.gather(origin).extended(piece_log_probs, step_weights, step)
    return _Candidates(scores, ids, origin, tokens, attention, trace)


def _best_unended(ids: torch.Tensor, beam: int) -> torch.Tensor:
    """(sentences, beam): the places among the candidates (``ids`` (sentences, 2 * beam), best first) of the
    ``beam`` best that do not end in EOS, best first."""
    rank = torch.arange(ids.size(1), device=ids.device).expand(ids.size(0), -1)
    return torch.where(ids == EOS_ID, rank + ids.size(1), rank).topk(beam, dim=-1, largest=False).indices


def _retire(finished: _Hypotheses, candidates: _Candidates, unended: torch.Tensor, at_cap: torch.Tensor,
            step: int, alpha: float) -> _Hypotheses:
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
    joining_scores = torch.where(joining, candidates.scores / normaliser, float("-inf"))
    scores, pick = torch.cat([finished.scores, joining_scores], 1).topk(beam, dim=-1)
    assert finished.lengths is not None and finished.trace is not None
    return _Hypotheses(
        scores,
        _gather_beams(torch.cat([finished.tokens, candidates.tokens], 1), pick),
        None if finished.attention is None or candidates.attention is None
        else _gather_beams(torch.cat([finished.attention, candidates.attention], 1), pick),
        torch.cat([finished.lengths, torch.full_like(candidates.ids, step + 1)], 1).gather(1, pick),
        _Trace.cat(finished.trace, candidates.trace).gather(pick),
    )


def _advance(batch: _Batch, candidates: _Candidates, unended: torch.Tensor) -> tuple[_Hypotheses, torch.Tensor]:
    """The live hypotheses of the next step: the best unended candidates, and (rows,) the row each extends. The
    batch's state and last pieces are reordered to follow them."""
    sentences, beam = unended.shape
    batch.prev_ids = candidates.ids.gather(1, unended).view(-1)
    origin = candidates.origin.gather(1, unended)
    rows = torch.arange(sentences, device=unended.device).unsqueeze(1) * beam + origin
    batch.state = batch.model.select_state(batch.state, rows.view(-1))
    return _Hypotheses(candidates.scores.gather(1, unended), _gather_beams(candidates.tokens, unended),
                       None if candidates.attention is None else _gather_beams(candidates.attention, unended),
                       trace=candidates.trace.gather(unended)), rows.view(-1)


def _prune(batch: _Batch, leaving: torch.Tensor, *hypotheses: _Hypotheses,
           constraints: Forcing | None = None) -> list[_Hypotheses] | None:
    """Take the sentences ``leaving`` ((active,) bool) out of ``batch`` (and ``constraints``); returns each of
    ``hypotheses`` without them, or None when no sentence is left."""
    keep = (~leaving).nonzero().squeeze(1)
    if keep.numel() == 0:
        return None
    batch.keep(keep)
    if constraints is not None:
        constraints.keep(keep)
    return [kept.select(keep) for kept in hypotheses]


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


def _collect(results: list[list[Hypothesis]], sentence_ids: torch.Tensor, finished: _Hypotheses, n_best: int) -> None:
    """Store the n best hypotheses of sentences that just finished searching.

    finished: (done, k, ...) hypotheses with length-normalised scores and their lengths. The best one's
    ``runner_up`` is the second best, when there is one and it is finite.
    """
    assert finished.lengths is not None and finished.trace is not None
    order = finished.scores.argsort(dim=1, descending=True)[:, :max(n_best, min(2, finished.scores.size(1)))]
    final, lengths = finished.scores.gather(1, order).tolist(), finished.lengths.gather(1, order).tolist()
    tokens = _gather_beams(finished.tokens, order).tolist()
    trace = finished.trace.gather(order)
    log_probs, coverage, entropy = trace.log_probs.tolist(), trace.coverage.tolist(), trace.entropy.tolist()
    for row, sentence in enumerate(sentence_ids.tolist()):
        found = []
        for rank in range(len(order[row])):
            length = lengths[row][rank]
            pieces = tokens[row][rank][:length]
            ended = bool(pieces) and pieces[-1] == EOS_ID
            hyp_attention = None
            if finished.attention is not None and rank < n_best:
                hyp_attention = finished.attention[row, int(order[row, rank]), :length].cpu()
            found.append(Hypothesis(pieces[:-1] if ended else pieces, final[row][rank], hyp_attention, ended,
                                    log_probs[row][rank][:length], coverage[row][rank],
                                    entropy[row][rank] / max(length, 1)))
        if len(found) > 1 and math.isfinite(found[1].score):
            found[0].runner_up = found[1]
        results[sentence].extend(found[:n_best])


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
    batch = _Batch.start(model, src_ids, src_lengths, beam=1)
    constraints = forcing
    limits = _limits(src_lengths, options, forcing, device)
    # One hypothesis per sentence: (sentences,) scores, (sentences, steps) tokens and attention.
    found = _Hypotheses(torch.zeros(batch_size, device=device),
                        torch.empty(batch_size, 0, dtype=torch.long, device=device),
                        torch.empty(batch_size, 0, src_len, device=device) if return_attention else None,
                        trace=_Trace.zeros((batch_size,), 0, src_len, device))
    results: list[list[Hypothesis]] = [[] for _ in range(batch_size)]

    for step in range(int(limits.max())):
        log_probs, weights = batch.step()
        if constraints is not None:
            log_probs = constraints.restrict(log_probs, weights, limits[batch.active] <= step + 1, step)
        best_log_prob, next_ids = _max(log_probs)
        if constraints is not None:
            constraints.advance(torch.arange(next_ids.size(0), device=device), next_ids)
        attention = None if found.attention is None else torch.cat([found.attention, weights.unsqueeze(1)], dim=1)
        assert found.trace is not None
        found = _Hypotheses(found.scores + best_log_prob, torch.cat([found.tokens, next_ids.unsqueeze(1)], dim=1),
                            attention, trace=found.trace.extended(best_log_prob, weights, step))
        batch.prev_ids = next_ids
        done = (next_ids == EOS_ID) | (limits[batch.active] <= step + 1)  # a finished sentence leaves at once
        done, leaving = _leaving(done, step_hook, batch.active)
        if bool(leaving.any()):
            ending = found.select(done)
            lengths = torch.full_like(next_ids[done], step + 1)
            final = ending.scores / length_normaliser(lengths, options.length_penalty)
            assert ending.trace is not None
            _collect(results, batch.active[done], _Hypotheses(
                final.unsqueeze(1), ending.tokens.unsqueeze(1),
                None if ending.attention is None else ending.attention.unsqueeze(1), lengths.unsqueeze(1),
                _Trace(*(tensor.unsqueeze(1) for tensor in
                         (ending.trace.log_probs, ending.trace.coverage, ending.trace.entropy)))), 1)
            kept = _prune(batch, leaving, found, constraints=constraints)
            if kept is None:
                break
            [found] = kept
    return SearchResult(results)


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


def _limits(src_lengths: torch.Tensor, options: SearchOptions, forcing: Forcing | None,
            device: torch.device) -> torch.Tensor:
    """:func:`output_limits`, raised where what ``forcing`` forces (and EOS) would not fit."""
    limits = output_limits(src_lengths, options).to(device)
    if forcing is not None:
        limits = torch.maximum(limits, forcing.needed_lengths().to(device) + 1)
    return limits


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
