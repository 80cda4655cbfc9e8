"""The normalization that training text and requests share."""

from __future__ import annotations

import pytest

from training.data.clean import clean_pairs
from translator.text.normalize import normalize_text


@pytest.mark.parametrize("raw, normal", [
    ("Tom &amp; Jerry", "Tom & Jerry"),
    ("&quot;Hi&quot; &#39;there&#x27;", "\"Hi\" 'there'"),
    ("AT&T and a & b;", "AT&T and a & b;"),  # only complete references are decoded
    ("u\u0308ber", "\u00fcber"),  # NFC
    ("  two \t words \n", "two words"),
    ("Hund\ufeff", "Hund"),
    ("Zero\u200bwidth", "Zerowidth"),
    ("\x00\x00\x00", ""),
    ("\u200b\ufeff \u200d", ""),  # nothing in, nothing out
    ("family \U0001F468\u200d\U0001F469\u200d\U0001F467", "family \U0001F468\u200d\U0001F469\u200d\U0001F467"),
])
def test_normalize_text(raw, normal):
    assert normalize_text(raw) == normal


def test_normalizing_twice_changes_nothing_more():
    for text in ["Tom &amp; Jerry", "u\u0308ber \u200b x", "\x00 a \ufeff"]:
        once = normalize_text(text)
        assert normalize_text(once) == once


def test_an_escaped_reference_is_decoded_one_level():
    assert normalize_text("&amp;amp;") == "&amp;"


def test_training_pairs_are_normalized_and_pairs_left_empty_dropped():
    src, tgt, report = clean_pairs(["Tom &amp; Jerry", "\u200b", "ok"], ["Tom & Jerry", "x", "u\u0308"])
    assert src == ["Tom & Jerry", "ok"] and tgt == ["Tom & Jerry", "\u00fc"]
    assert report.dropped["empty"] == 1
