"""Lexical constraints in batched search: each sentence's glossary terms, written by forcing their pieces.

Each sentence of a batch has its own terms (none for most); each row (hypothesis) tracks how far it has written
each of its sentence's terms. Before a step's candidates are chosen (:meth:`Constraints.restrict`), a row's
next-piece log-probabilities are narrowed to one piece when

1. it is in the middle of a term: the term's next piece (a term once started is finished);
2. its attention's peak is on the source pieces of a term it has not written: the term's first piece
   (the model is about to translate that source word, so it writes the term instead);
3. it would end (EOS is its best piece) with a term unwritten: the first such term's first piece.

and EOS is barred while a term is unwritten (up to the length cap). A term the model writes of its own accord
counts as written. After a step (:meth:`Constraints.advance`) progress follows the rows the beam kept.
Sentences without terms are never touched, so they translate exactly as without a glossary, in the same batch
as sentences with other glossaries.

This is forced decoding triggered by attention, the "placeholder restored through attention" idea done inside
the search, so it works with any model (no placeholder pieces needed). Unlike Post & Vilar's dynamic beam
allocation it does not keep beam slots for hypotheses at every stage of constraint coverage; rule 3 is what
guarantees coverage instead (see docs/translating.md for the measurements).
"""

from __future__ import annotations

from typing import Sequence

import torch

from translator.glossary.matching import TermConstraint
from translator.text.tokenizer import EOS_ID, PAD_ID


class Constraints:
    """Per-sentence terms and per-row progress through them, for the active sentences of one search."""

    def __init__(self, terms: Sequence[Sequence[TermConstraint]], src_len: int, beam: int,
                 device: torch.device) -> None:
        sentences = len(terms)
        most = max(1, max(len(one) for one in terms))
        longest = max([1] + [len(term.target_ids) for one in terms for term in one])
        self.targets = torch.full((sentences, most, longest), PAD_ID, dtype=torch.long)  # (sentences, K, L)
        self.lengths = torch.zeros(sentences, most, dtype=torch.long)  # (sentences, K); 0: no term
        self.spans = torch.zeros(sentences, most, src_len, dtype=torch.bool)  # (sentences, K, src_len)
        for sentence, one in enumerate(terms):
            for k, term in enumerate(one):
                self.targets[sentence, k, : len(term.target_ids)] = torch.tensor(term.target_ids)
                self.lengths[sentence, k] = len(term.target_ids)
                positions = [p for p in term.source_positions if p < src_len]
                self.spans[sentence, k, positions] = True
        self.targets, self.lengths, self.spans = (t.to(device) for t in (self.targets, self.lengths, self.spans))
        self.beam = beam
        self.progress = torch.zeros(sentences * beam, most, dtype=torch.long, device=device)  # (rows, K)

    @staticmethod
    def of(terms: Sequence[Sequence[TermConstraint]] | None, src_len: int, beam: int,
           device: torch.device) -> "Constraints | None":
        """Constraints for a batch, or None when no sentence has a term (search then runs as it always did)."""
        if terms is None or not any(terms):
            return None
        return Constraints(terms, src_len, beam, device)

    def needed_lengths(self) -> torch.Tensor:
        """(sentences,) pieces each sentence needs at least: all its terms."""
        return self.lengths.sum(dim=1)

    def _per_row(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.repeat_interleave(self.beam, dim=0)

    def restrict(self, log_probs: torch.Tensor, weights: torch.Tensor, at_cap: torch.Tensor, step: int) -> torch.Tensor:
        """``log_probs`` (rows, vocab) narrowed by the rules of the module docstring; ``weights`` (rows, src_len)
        is this step's attention, ``at_cap`` (sentences,) marks sentences at their length cap (they may end); the
        ``step`` is not needed here (:class:`ForcedPrefixes` uses it)."""
        rows = log_probs.size(0)
        lengths, targets = self._per_row(self.lengths), self._per_row(self.targets)  # (rows, K), (rows, K, L)
        unwritten = self.progress < lengths
        in_term = unwritten & (self.progress > 0)
        # 1. the next piece of a term begun; 2. the first piece of a term whose source the attention peaks on;
        # 3. the first piece of the first unwritten term, for a row about to end.
        peak = weights.argmax(dim=-1)  # (rows,)
        attended = self._per_row(self.spans).gather(2, peak.view(rows, 1, 1).expand(-1, lengths.size(1), 1))[..., 0]
        due = unwritten & attended
        ending = unwritten.any(dim=1) & (log_probs.argmax(dim=-1) == EOS_ID)
        first_unwritten = unwritten.long().argmax(dim=1)
        term = torch.where(in_term.any(1), in_term.long().argmax(1),
                           torch.where(due.any(1), due.long().argmax(1), first_unwritten))
        forced = in_term.any(1) | due.any(1) | ending  # (rows,)
        position = torch.where(in_term.any(1), self.progress.gather(1, term.unsqueeze(1))[:, 0], 0)
        piece = targets[torch.arange(rows, device=targets.device), term, position]  # (rows,)
        barred = unwritten.any(dim=1) & ~self._per_row(at_cap)
        if not bool(forced.any()) and not bool(barred.any()):
            return log_probs
        restricted = log_probs.clone()
        restricted[barred, EOS_ID] = float("-inf")
        keep = log_probs.gather(1, piece.unsqueeze(1))
        restricted[forced] = float("-inf")
        restricted[forced] = restricted[forced].scatter(1, piece[forced].unsqueeze(1), keep[forced])
        return restricted

    def advance(self, rows: torch.Tensor, pieces: torch.Tensor) -> None:
        """Follow the beam: row ``r`` of the next step extends old row ``rows[r]`` by ``pieces[r]``."""
        progress = self.progress.index_select(0, rows)
        lengths, targets = self._per_row(self.lengths), self._per_row(self.targets)
        unwritten = progress < lengths
        in_term = unwritten & (progress > 0)
        expected = targets.gather(2, progress.clamp(max=targets.size(2) - 1).unsqueeze(2))[..., 0]  # (rows, K)
        hit = unwritten & (expected == pieces.unsqueeze(1))
        # A row in a term follows that term alone; another starts the first term the piece begins.
        starting = hit & ~in_term.any(1, keepdim=True)
        first_start = torch.zeros_like(starting).scatter(1, starting.long().argmax(1, keepdim=True), True) & starting
        moved = (in_term & hit) | first_start
        self.progress = torch.where(moved, progress + 1, torch.where(in_term & ~hit, 0, progress))

    def keep(self, sentences: torch.Tensor) -> None:
        """Keep only ``sentences`` (a 1-D index into the active ones), with their rows."""
        rows = (sentences.unsqueeze(1) * self.beam + torch.arange(self.beam, device=sentences.device)).view(-1)
        self.targets, self.lengths, self.spans = self.targets[sentences], self.lengths[sentences], self.spans[sentences]
        self.progress = self.progress.index_select(0, rows)


class ForcedPrefixes:
    """Per-sentence forced prefixes: every hypothesis of sentence ``i`` starts with ``prefixes[i]`` and continues
    freely, except that its next piece may not continue the prefix's last word (``joins`` (vocab,) marks the pieces
    that would: a glossary term must stay a word of its own). Used by :mod:`translator.glossary.placement`, whose
    prefixes end with the glossary terms in place. The same interface as :class:`Constraints`."""

    def __init__(self, prefixes: Sequence[Sequence[int]], beam: int, device: torch.device,
                 joins: torch.Tensor | None = None) -> None:
        longest = max(1, max(len(prefix) for prefix in prefixes))
        self.pieces = torch.full((len(prefixes), longest), PAD_ID, dtype=torch.long)  # (sentences, P)
        for sentence, prefix in enumerate(prefixes):
            self.pieces[sentence, : len(prefix)] = torch.tensor(list(prefix), dtype=torch.long)
        self.pieces = self.pieces.to(device)
        self.lengths = torch.tensor([len(prefix) for prefix in prefixes], dtype=torch.long, device=device)
        self.beam = beam
        self.joins = None if joins is None else joins.to(device)

    def needed_lengths(self) -> torch.Tensor:
        """(sentences,) pieces each sentence needs at least: its prefix."""
        return self.lengths

    def restrict(self, log_probs: torch.Tensor, weights: torch.Tensor, at_cap: torch.Tensor, step: int) -> torch.Tensor:
        """``log_probs`` (rows, vocab) with the rows of sentences still in their prefix narrowed to its piece at
        ``step``."""
        forced = (self.lengths > step).repeat_interleave(self.beam)  # (rows,)
        free_from_here = (self.lengths == step) & (self.lengths > 0)
        if self.joins is not None and bool(free_from_here.any()):
            rows = free_from_here.repeat_interleave(self.beam)
            joins = torch.zeros(log_probs.size(1), dtype=torch.bool, device=log_probs.device)
            joins[: self.joins.numel()] = self.joins
            log_probs = log_probs.clone()
            log_probs[rows.unsqueeze(1) & joins.unsqueeze(0)] = float("-inf")
        if not bool(forced.any()):
            return log_probs
        piece = self.pieces[:, min(step, self.pieces.size(1) - 1)].repeat_interleave(self.beam)  # (rows,)
        keep = log_probs.gather(1, piece.unsqueeze(1))
        restricted = log_probs.clone()
        restricted[forced] = float("-inf")
        restricted[forced] = restricted[forced].scatter(1, piece[forced].unsqueeze(1), keep[forced])
        return restricted

    def advance(self, rows: torch.Tensor, pieces: torch.Tensor) -> None:
        """Nothing to follow: every row of a sentence is at the same step."""

    def keep(self, sentences: torch.Tensor) -> None:
        """Keep only ``sentences`` (a 1-D index into the active ones)."""
        self.pieces, self.lengths = self.pieces[sentences], self.lengths[sentences]


Forcing = Constraints | ForcedPrefixes
"""What :func:`translator.search.beam.search` accepts as ``forcing``."""
