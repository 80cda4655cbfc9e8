"""What search needs from a model: the :class:`DecodingModel` protocol.

:mod:`translator.search.beam` decodes any object with these five members, so it knows nothing about
GRUs, LSTMs, precomputed tables or how many models vote: :class:`~translator.model.seq2seq.Seq2Seq`,
:class:`~translator.model.inference.InferenceModel` and :class:`~translator.search.ensemble.Ensemble` all
satisfy it. ``Memory`` and ``State`` are opaque to search; it only asks the model to pick rows
of them, when beams are reordered or finished sentences leave the batch.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

Memory = Any  # whatever ``encode`` returns for attention, per sentence
State = Any  # whatever ``encode``/``step`` return as the recurrent state, per row (sentence x beam)


@runtime_checkable
class DecodingModel(Protocol):
    """A model that search can drive one target position at a time."""

    @property
    def vocab_size(self) -> int:
        """Number of real target pieces; ``step``'s logits may be wider (padded with -inf)."""
        ...

    def encode(self, src_ids: torch.Tensor, src_lengths: torch.Tensor) -> tuple[Memory, State]:
        """Encode a padded batch (batch, src_len) with lengths (batch,) -> memory, initial state."""
        ...

    def step(self, prev_ids: torch.Tensor, state: State, memory: Memory) -> tuple[torch.Tensor, State, torch.Tensor]:
        """prev_ids (rows,) -> scores (rows, >= vocab_size), new state, attention (rows, src_len).

        ``rows`` is the batch times the beam size: rows of one sentence are adjacent and share
        the sentence's memory row. Scores are logits or log-probabilities; search takes their
        log-softmax.
        """
        ...

    def select_state(self, state: State, rows: torch.Tensor) -> State:
        """The state of rows ``rows`` (a 1-D index into the current rows)."""
        ...

    def select_memory(self, memory: Memory, sentences: torch.Tensor) -> Memory:
        """The memory of sentences ``sentences`` (a 1-D index into the current sentences)."""
        ...
