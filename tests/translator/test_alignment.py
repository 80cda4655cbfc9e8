"""Pieces located in their text, and attention composed through a pivot language."""

from __future__ import annotations

import pytest

from translator.alignment import compose, piece_spans
from translator.translate import Alignment


def test_piece_spans_match_up_to_case_and_spaces_or_not_at_all():
    assert piece_spans("A DOG  runs", ["▁a", "▁dog", "▁run", "s", "</s>"]) == [(0, 1), (2, 5), (7, 10), (10, 11), None]
    assert piece_spans("A dog", ["▁a", "▁cat"]) is None
    assert piece_spans("A dog runs", ["▁a", "▁dog"]) is None  # the pieces end before the text does


def test_attention_through_a_pivot_relates_differently_cut_pieces_by_their_characters():
    # de -> en: "Zwei Hunde" -> "Two dogs"; en -> fr cuts the English differently: "Tw" "o" "dog" "s".
    first = Alignment(["▁Zwei", "▁Hunde", "</s>"], ["▁Two", "▁dogs", "</s>"],
                      [[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    second = Alignment(["▁Tw", "o", "▁dog", "s", "</s>"], ["▁Deux", "▁chiens", "</s>"],
                       [[0.5, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.6, 0.4, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    composed = compose("Two dogs", first, second)
    assert composed.source_pieces == ["▁Zwei", "▁Hunde", "</s>"]
    assert composed.target_pieces == ["▁Deux", "▁chiens", "</s>"]
    assert composed.weights == [pytest.approx([0.9, 0.1, 0.0]), pytest.approx([0.2, 0.8, 0.0]),
                                pytest.approx([0.0, 0.0, 1.0])]


def test_a_pivot_piece_spanning_two_first_leg_pieces_shares_their_rows_by_characters():
    first = Alignment(["▁a", "▁b", "</s>"], ["▁x", "y", "</s>"], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    second = Alignment(["▁xy", "</s>"], ["▁z", "</s>"], [[1.0, 0.0], [0.0, 1.0]])
    assert compose("xy", first, second).weights[0] == pytest.approx([0.5, 0.5, 0.0])


def test_pieces_that_do_not_spell_the_pivot_text_give_no_alignment():
    first = Alignment(["▁a", "</s>"], ["▁x", "</s>"], [[1.0, 0.0], [0.0, 1.0]])
    second = Alignment(["▁⁇", "</s>"], ["▁z", "</s>"], [[1.0, 0.0], [0.0, 1.0]])
    assert compose("x", first, second) is None
