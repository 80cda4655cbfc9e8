"""Spans that must pass through untouched: found, masked, restored, and masked in training pairs."""

from __future__ import annotations

import random

import pytest

from translator.text.protect import PLACEHOLDERS, mask, mask_pair, protected_spans, unmask
from translator.text.tokenizer import train_tokenizer


@pytest.mark.parametrize("text, spans", [
    ("Besuchen Sie https://example.com/a?b=1. Danke!", ["https://example.com/a?b=1"]),
    ("Schreib an tom.meier@example.org oder ruf 030-1234567 an.", ["tom.meier@example.org", "030-1234567"]),
    ("Die Datei liegt in /usr/local/bin/tool und C:\\Users\\tom\\x.txt", ["/usr/local/bin/tool", "C:\\Users\\tom\\x.txt"]),
    ("Am 05.01.2024 um 10:30 kostet es 1.234,56 €.", ["05.01.2024", "10:30", "1.234,56"]),
    ("Rufe os.path.join() mit --verbose auf, setze max_length und myVar.",
     ["os.path.join()", "--verbose", "max_length", "myVar"]),
    ("Der Befehl braucht die Option --verbose. Oder -v, --level=3; nicht E-Mail. Mit --out=a.txt.",
     ["--verbose", "-v", "--level=3", "--out=a.txt"]),
    ("Pizza 🍕, 👍🏽 und 👨\u200d👩\u200d👧!", ["🍕", "👍🏽", "👨\u200d👩\u200d👧"]),
    ("Klicken Sie auf %PRODUCTNAME, %s, {0} oder ${HOME}.", ["%PRODUCTNAME", "%s", "{0}", "${HOME}"]),
    ("The U.S. economy grew 3% in 2023.", ["3", "2023"]),
    ("Tom wohnt in Zürich.", []),
])
def test_protected_spans_are_found_whole_and_nothing_else(text, spans):
    assert [text[start:end] for start, end in protected_spans(text)] == spans


def test_mask_then_unmask_gives_the_text_back_and_repeats_share_a_placeholder():
    text = "Zahl 42 und noch einmal 42 und https://x.org/a/b"
    masked = mask(text)
    assert masked.spans == ["42", "https://x.org/a/b"]
    assert masked.text == f"Zahl {PLACEHOLDERS[0]} und noch einmal {PLACEHOLDERS[0]} und {PLACEHOLDERS[1]}"
    assert unmask(masked.text, masked) == text


def test_unmask_restores_spans_in_the_translations_order_and_inserts_dropped_ones():
    masked = mask("Am 05.01.2024 um 10:30 kostet es 12 Euro.")
    p = PLACEHOLDERS
    assert unmask(f"At {p[1]} on {p[0]} it costs {p[2]} euros.", masked) == "At 10:30 on 05.01.2024 it costs 12 euros."
    restored = unmask(f"On {p[0]} it costs euros.", masked)  # two placeholders dropped by the model
    assert restored.startswith("On 05.01.2024") and "10:30" in restored and "12" in restored
    assert unmask(f"Costs {p[5]} euros.", mask("Kostet nichts.")) == "Costs euros."  # invented: dropped


def test_more_spans_than_placeholders_leave_the_rest_as_written():
    text = " ".join(str(n) for n in range(len(PLACEHOLDERS) + 3))
    masked = mask(text)
    assert len(masked.spans) == len(PLACEHOLDERS)
    assert masked.text.endswith(" ".join(str(n) for n in range(len(PLACEHOLDERS), len(PLACEHOLDERS) + 3)))
    assert unmask(masked.text, masked) == text


def test_training_pairs_mask_only_spans_standing_on_both_sides_as_whole_tokens():
    rng = random.Random(0)
    source, target = mask_pair("Ich habe 3 Katzen, 13 Hunde und 1,5 Liter.", "I have 3 cats, 13 dogs and 1.5 litres.",
                               rng, rate=1.0)
    assert source == f"Ich habe {PLACEHOLDERS[0]} Katzen, {PLACEHOLDERS[1]} Hunde und 1,5 Liter."
    assert target == f"I have {PLACEHOLDERS[0]} cats, {PLACEHOLDERS[1]} dogs and 1.5 litres."
    assert mask_pair("3 Katzen", "3 cats", rng, rate=0.0) == ("3 Katzen", "3 cats")
    masked = sum(mask_pair("3 Katzen", "3 cats", rng, rate=0.3)[0] != "3 Katzen" for _ in range(1000))
    assert 240 < masked < 360


def test_placeholders_are_one_piece_each_for_a_tokenizer_that_reserves_them():
    texts = ["a b c d e f g h"] * 50
    plain = train_tokenizer(texts, 40, "bpe")
    reserved = train_tokenizer(texts, 320, "bpe", user_symbols=PLACEHOLDERS, byte_fallback=True)
    assert not plain.has_pieces(PLACEHOLDERS) and reserved.has_pieces(PLACEHOLDERS)
    ids = reserved.encode([f"a {PLACEHOLDERS[3]} b"])[0]
    assert reserved.id_to_piece(ids).count(PLACEHOLDERS[3]) == 1
    assert reserved.decode([reserved.encode(["a 🍕 b"])[0]]) == ["a 🍕 b"]  # byte fallback, no <unk>


def test_more_spans_to_mask_are_masked_in_order_unless_they_overlap_a_protected_one():
    text = "Ask Ahmed at https://example.com/Ahmed/x or Oslo"
    url = text.index("https")
    masked = mask(text, [(4, 9), (url + 20, url + 25), (text.index("Oslo"), len(text))])
    assert masked.spans == ["Ahmed", "https://example.com/Ahmed/x", "Oslo"]
    assert masked.text == f"Ask {PLACEHOLDERS[0]} at {PLACEHOLDERS[1]} or {PLACEHOLDERS[2]}"
    assert unmask(masked.text, masked) == text


def test_a_placeholder_the_output_repeats_more_often_than_the_source_has_it_is_kept_once():
    p = PLACEHOLDERS
    assert unmask(f"Le train part de {p[0]} à {p[0]}.", mask("The train leaves at 10:30.")) \
        == "Le train part de 10:30 à."
    twice = mask("From 3 to 3 and 4.")
    assert unmask(f"De {p[0]} à {p[0]} et {p[1]} {p[0]}.", twice) == "De 3 à 3 et 4."


def test_pieces_get_the_spans_as_the_text_does_so_an_alignment_spells_what_the_user_reads():
    from translator.text.protect import unmask_pieces

    p = PLACEHOLDERS
    masked = mask("At 10:30 and 42.")
    assert unmask_pieces(["▁At", "▁", p[0], "▁and", "▁" + p[1], "."], masked) == ["▁At", "▁", "10:30", "▁and", "▁42", "."]
    # As unmask does: a repeat, or a placeholder the source lacks, spells nothing.
    assert unmask_pieces(["▁", p[0], "▁", p[0], "▁" + p[5]], masked) == ["▁", "10:30", "▁", "", "▁"]
