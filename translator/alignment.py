"""Attention as an alignment: sentencepiece pieces located in their text, and alignments composed through a pivot.

A translation through a pivot language (de->en->fr) has two attentions: the first model's, from
English pieces to German pieces, and the second's, from French pieces to English pieces. The two
models cut the English text into different pieces, so :func:`compose` first relates them through
the characters they cover, then multiplies: French piece t's weight on German piece s is the sum,
over the English text, of t's weight on a span of it times that span's weight on s.
"""

from __future__ import annotations

from typing import Sequence

from translator.translate import Alignment

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
    first_spans = piece_spans(pivot_text, first.target_pieces)
    second_spans = piece_spans(pivot_text, second.source_pieces)
    if first_spans is None or second_spans is None:
        return None
    width = len(first.source_pieces)
    first_eos = [row for row, piece in enumerate(first.target_pieces) if piece == EOS_PIECE]
    through: list[list[float]] = []  # each pivot piece of `second`: its weight on each source piece
    for piece, span in zip(second.source_pieces, second_spans):
        shares: list[tuple[int, float]] = []
        if span is not None:
            shares = [(row, float(min(span[1], other[1]) - max(span[0], other[0])))
                      for row, other in enumerate(first_spans) if other is not None and other[0] < span[1]
                      and span[0] < other[1]]
        elif piece == EOS_PIECE:
            shares = [(row, 1.0) for row in first_eos]
        total = sum(share for _, share in shares)
        through.append([sum(share * first.weights[row][column] for row, share in shares) / total if total else 0.0
                        for column in range(width)])
    weights = []
    for row in second.weights:
        composed = [sum(weight * through[pivot][column] for pivot, weight in enumerate(row)) for column in range(width)]
        total = sum(composed)
        weights.append([value / total for value in composed] if total > 0 else composed)
    return Alignment(list(first.source_pieces), list(second.target_pieces), weights)
