"""What both searches keep: the sentences being searched and their hypotheses, as tensors.

Every sentence of the batch and every beam of it live in one tensor of batch × beam rows
(:class:`SearchBatch`); their hypotheses are tensors too (:class:`HypothesisTensors`), with what confidence
estimation needs of them (:class:`Trace`). A sentence that is done leaves the batch (:func:`prune`) and
its best hypotheses become :class:`Hypothesis` objects (:func:`collect`). :mod:`translator.search.greedy`
and :mod:`translator.search.beam` build on these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Sequence

import torch

from translator.search.constraints import Forcing
from translator.search.protocol import DecodingModel, Memory, State
from translator.search.options import SearchOptions
from translator.text.tokenizer import BOS_ID, EOS_ID


StepHook = Callable[[torch.Tensor], "torch.Tensor | None"]
"""Called between decoding steps with the batch indices (active,) of the sentences still being searched;
returns a bool mask (active,) of sentences to abandon, or None. Abandoned sentences leave the batch at once
and get no hypotheses. (The service uses it to drop cancelled requests' sentences and to let other work run.)"""


def hook_on(step_hook: StepHook | None, indices: torch.Tensor) -> StepHook | None:
    """``step_hook`` for a search over the rows ``indices`` of a larger batch: it is called with indices into that
    batch instead of into the rows searched."""
    return None if step_hook is None else partial(_on_indices, step_hook, indices)


def _on_indices(step_hook: StepHook, indices: torch.Tensor, active: torch.Tensor) -> torch.Tensor | None:
    return step_hook(indices[active.cpu()])


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


def occurrences(pieces: Sequence[int], pattern: Sequence[int]) -> list[int]:
    """Where ``pattern`` stands in ``pieces`` (a hypothesis's output): the start of each occurrence, in order; none
    for an empty pattern."""
    width, pattern = len(pattern), list(pattern)
    return [start for start in range(len(pieces) - width + 1) if width and list(pieces[start:start + width]) == pattern]


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


def output_caps(src_lengths: torch.Tensor, options: SearchOptions, forcing: Forcing | None,
            device: torch.device) -> torch.Tensor:
    """:func:`output_limits`, raised where what ``forcing`` forces (and EOS) would not fit."""
    limits = output_limits(src_lengths, options).to(device)
    if forcing is not None:
        limits = torch.maximum(limits, forcing.needed_lengths().to(device) + 1)
    return limits


@dataclass
class SearchBatch:
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
    def start(cls, model: DecodingModel, src_ids: torch.Tensor, src_lengths: torch.Tensor, beam: int) -> "SearchBatch":
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
class Trace:
    """What confidence estimation needs of each hypothesis, sentence first like its tokens: ``log_probs``
    (sentences, k, steps) of its pieces, ``coverage`` (sentences, k, src_len) summed attention, ``entropy``
    (sentences, k) summed attention entropy. (Greedy search drops the k dimension.)

    The three live side by side in one tensor, ``values`` (…, src_len + 1 + steps): coverage, entropy, then the
    pieces' log-probabilities, so that following the beams moves them with one gather a step instead of three
    (each costs about as much as the model's own small operations at the batch sizes the service runs), and
    greedy search, which keeps no beams, grows it by one column a step."""

    values: torch.Tensor
    src_len: int

    @classmethod
    def zeros(cls, leading: tuple[int, ...], steps: int, src_len: int, device: torch.device) -> "Trace":
        return cls(torch.zeros(*leading, src_len + 1 + steps, device=device), src_len)

    @property
    def log_probs(self) -> torch.Tensor:
        return self.values[..., self.src_len + 1:]

    @property
    def coverage(self) -> torch.Tensor:
        return self.values[..., : self.src_len]

    @property
    def entropy(self) -> torch.Tensor:
        return self.values[..., self.src_len]

    def select(self, sentences: torch.Tensor) -> "Trace":
        return Trace(self.values[sentences], self.src_len)

    def gather(self, index: torch.Tensor) -> "Trace":
        """Each sentence's hypotheses ``index`` (sentences, k') (see :func:`gather_beams`)."""
        return Trace(gather_beams(self.values, index), self.src_len)

    def extended(self, log_probs: torch.Tensor, weights: torch.Tensor, step: int) -> "Trace":
        """This trace after one more step with pieces of ``log_probs`` and attention ``weights`` (…, src_len).
        Beam search preallocates every step and extends a fresh gather, in place; greedy search's grows."""
        weights = weights.float()
        column = self.src_len + 1 + step
        if self.values.size(-1) > column:
            values = self.values
            values[..., column] = log_probs
        else:
            values = torch.cat([self.values, log_probs.unsqueeze(-1)], dim=-1)
        values[..., : self.src_len] += weights
        values[..., self.src_len] += torch.special.entr(weights).sum(-1)
        return Trace(values, self.src_len)

    def unsqueezed(self) -> "Trace":
        """This trace with a k dimension of 1 (greedy search's hypotheses as beam search keeps them)."""
        return Trace(self.values.unsqueeze(1), self.src_len)

    @staticmethod
    def cat(first: "Trace", second: "Trace") -> "Trace":
        return Trace(torch.cat([first.values, second.values], 1), first.src_len)


@dataclass
class HypothesisTensors:
    """Hypotheses of the active sentences, sentence first: ``scores`` (sentences, k), ``tokens`` (sentences, k,
    steps), ``attention`` (sentences, k, steps, src_len) or None, ``lengths`` (sentences, k) where they differ,
    ``trace`` for confidence. (Greedy search keeps one per sentence and drops the k dimension.)"""

    scores: torch.Tensor
    tokens: torch.Tensor
    attention: torch.Tensor | None = None
    lengths: torch.Tensor | None = None
    trace: Trace | None = None

    def select(self, sentences: torch.Tensor) -> "HypothesisTensors":
        """The hypotheses of ``sentences`` (an index or a bool mask over the first dimension)."""
        return HypothesisTensors(self.scores[sentences], self.tokens[sentences],
                                 None if self.attention is None else self.attention[sentences],
                                 None if self.lengths is None else self.lengths[sentences],
                                 None if self.trace is None else self.trace.select(sentences))


def gather_beams(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values (rows, beams, ...) -> (rows, k, ...) picking beams ``index`` (rows, k) per row."""
    shape = index.shape + values.shape[2:]
    return values.gather(1, index.view(*index.shape, *([1] * (values.dim() - 2))).expand(shape))


def collect(results: list[list[Hypothesis]], sentence_ids: torch.Tensor, finished: HypothesisTensors,
            n_best: int) -> None:
    """Store the n best hypotheses of sentences that just finished searching.

    finished: (done, k, ...) hypotheses with length-normalised scores and their lengths. The best one's
    ``runner_up`` is the second best, when there is one and it is finite.
    """
    assert finished.lengths is not None and finished.trace is not None
    order = finished.scores.argsort(dim=1, descending=True)[:, :max(n_best, min(2, finished.scores.size(1)))]
    final, lengths = finished.scores.gather(1, order).tolist(), finished.lengths.gather(1, order).tolist()
    tokens = gather_beams(finished.tokens, order).tolist()
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


def prune(batch: SearchBatch, leaving: torch.Tensor, *hypotheses: HypothesisTensors,
           constraints: Forcing | None = None) -> list[HypothesisTensors] | None:
    """Take the sentences ``leaving`` ((active,) bool) out of ``batch`` (and ``constraints``); returns each of
    ``hypotheses`` without them, or None when no sentence is left."""
    keep = (~leaving).nonzero().squeeze(1)
    if keep.numel() == 0:
        return None
    batch.keep(keep)
    if constraints is not None:
        constraints.keep(keep)
    return [kept.select(keep) for kept in hypotheses]


def leaving_sentences(
    done: torch.Tensor, step_hook: StepHook | None, active: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(done, leaving), both (active,) bool: sentences to collect, and those plus the ones the hook abandons."""
    abandoned = step_hook(active) if step_hook is not None else None
    if abandoned is None:
        return done, done
    return done & ~abandoned, done | abandoned
