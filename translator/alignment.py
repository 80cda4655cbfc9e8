"""Attention as an alignment: sentencepiece pieces located in their text, and alignments composed through a pivot.

A translation through a pivot language (de->en->fr) has two attentions: the first model's, from
English pieces to German pieces, and the second's, from French pieces to English pieces. The two
models cut the English text into different pieces, so :func:`compose` first relates them through
the characters they cover, then multiplies: French piece t's weight on German piece s is the sum,
over the English text, of t's weight on a span of it times that span's weight on s.
"""

from __future__ import annotations

from typing import Sequence

import torch

from translator.seam import Alignment

WORD_START = "\u2581"  # sentencepiece's mark of a piece that starts a word
EOS_PIECE = "</s>"


def piece_spans(text: str, pieces: Sequence[str]) -> list[tuple[int, int] | None] | None:
    """The character span in ``text`` of each piece (None for EOS and a bare word mark).

    None when the pieces do not spell ``text`` up to case and spaces (e.g. characters that
    sentencepiece normalised, or an unknown piece).
    """
    spans: list[tuple[int, int] | None] = []
    position = 0
    for piece in pieces:
        body = piece.replace(WORD_START, "")
        if piece == EOS_PIECE or not body:
            spans.append(None)
            continue
        while position < len(text) and text[position].isspace():
            position += 1
        if text[position:position + len(body)].lower() != body.lower():
            return None
        spans.append((position, position + len(body)))
        position += len(body)
    return spans if not text[position:].strip() else None


def compose(pivot_text: str, first: Alignment, second: Alignment) -> Alignment | None:
    """The attention from ``second``'s target pieces to ``first``'s source pieces, through ``pivot_text``.

    ``first`` aligns ``pivot_text`` (its target) with the source; ``second`` aligns the final
    translation with ``pivot_text`` (its source). Each of ``second``'s source pieces takes the rows
    of the ``first`` target pieces it overlaps, in proportion to the characters they share (EOS
    to EOS). Rows are renormalised to sum to 1. None when either side's pieces do not spell
    ``pivot_text``.
    """
    if not first.weights or not second.weights:
        return None
    first_spans = piece_spans(pivot_text, first.target_pieces)
    second_spans = piece_spans(pivot_text, second.source_pieces)
    if first_spans is None or second_spans is None:
        return None
    # through[p2][p1]: how much of second-leg pivot piece p2 is first-leg pivot piece p1 (rows sum to 1).
    # Both span lists run left to right over the same text, so one sweep finds every overlap.
    through = torch.zeros(len(second_spans), len(first_spans), dtype=torch.float64)
    located = [(row, span) for row, span in enumerate(first_spans) if span is not None]
    start = 0
    for pivot, span in enumerate(second_spans):
        if span is None:
            if second.source_pieces[pivot] == EOS_PIECE:
                for row, piece in enumerate(first.target_pieces):
                    through[pivot, row] = float(piece == EOS_PIECE)
            continue
        while start < len(located) and located[start][1][1] <= span[0]:
            start += 1
        for row, other in located[start:]:
            if other[0] >= span[1]:
                break
            through[pivot, row] = min(span[1], other[1]) - max(span[0], other[0])
    through = through / through.sum(dim=1, keepdim=True).clamp_min(1e-12)
    first_weights = torch.tensor(first.weights, dtype=torch.float64).reshape(len(first_spans), -1)
    second_weights = torch.tensor(second.weights, dtype=torch.float64).reshape(-1, len(second_spans))
    composed = second_weights @ through @ first_weights  # target x source
    totals = composed.sum(dim=1, keepdim=True)
    composed = torch.where(totals > 0, composed / totals.clamp_min(1e-12), composed)
    return Alignment(list(first.source_pieces), list(second.target_pieces), composed.tolist())
