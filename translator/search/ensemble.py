"""Several models voting in one search: an :class:`Ensemble` is one more :class:`DecodingModel`.

At every step each member scores the next piece and the ensemble averages their
log-probabilities (the geometric mean of their distributions; search renormalises it), so the
batched beam search of :mod:`translator.search.beam` runs unchanged. Members must share the source
and target vocabularies, e.g. checkpoints of one run or runs that reused its sentencepiece
models; :meth:`translator.translate.Translator.ensemble` checks that.
"""

from __future__ import annotations

from typing import Sequence

import torch

from translator.search.protocol import DecodingModel


class Ensemble:
    """The average of ``members``' log-probabilities, as a :class:`DecodingModel`.

    Memory and state are lists with one entry per member. The attention weights returned by
    :meth:`step` are the members' average.
    """

    def __init__(self, members: Sequence[DecodingModel]) -> None:
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 models, got {len(members)}")
        sizes = {member.vocab_size for member in members}
        if len(sizes) != 1:
            raise ValueError(f"ensemble members have different target vocabulary sizes: {sorted(sizes)}")
        self.members = list(members)
        self._vocab_size = sizes.pop()

    @property
    def vocab_size(self) -> int:
        """The members' shared target vocabulary size."""
        return self._vocab_size

    def encode(self, src_ids: torch.Tensor, src_lengths: torch.Tensor) -> tuple[list, list]:
        """Every member encodes the batch: (memories, states), one of each per member."""
        encoded = [member.encode(src_ids, src_lengths) for member in self.members]
        return [memory for memory, _ in encoded], [state for _, state in encoded]

    def step(self, prev_ids: torch.Tensor, state: list, memory: list) -> tuple[torch.Tensor, list, torch.Tensor]:
        """prev_ids (rows,) -> averaged log-probabilities (rows, vocab), states, mean attention."""
        log_probs, states, weights = [], [], []
        for member, member_state, member_memory in zip(self.members, state, memory):
            logits, new_state, member_weights = member.step(prev_ids, member_state, member_memory)
            # Members may pad their logits differently (InferenceModel aligns them to 64 columns).
            log_probs.append(torch.log_softmax(logits[:, : self._vocab_size].float(), dim=-1))
            states.append(new_state)
            weights.append(member_weights.float())
        return torch.stack(log_probs).mean(0), states, torch.stack(weights).mean(0)

    def select_state(self, state: list, rows: torch.Tensor) -> list:
        """Rows ``rows`` of every member's state."""
        return [member.select_state(part, rows) for member, part in zip(self.members, state)]

    def select_memory(self, memory: list, sentences: torch.Tensor) -> list:
        """Sentences ``sentences`` of every member's memory."""
        return [member.select_memory(part, sentences) for member, part in zip(self.members, memory)]
