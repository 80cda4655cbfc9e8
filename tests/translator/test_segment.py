"""Running text: sentence splitting that keeps the layout, and paragraph translation sentence by sentence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from translator.cli import main as translate_main
from translator.text.segment import split_sentences
from translator.translate import Translator

PARAGRAPH = "Ein Mann fährt Fahrrad. Eine Frau liest ein Buch im Park.\nZwei Kinder spielen Fußball im Schnee."


@pytest.fixture(scope="module")
def translator(tiny_model_dir):
    return Translator.from_pretrained(tiny_model_dir, device="cpu")


def test_the_issues_paragraph_splits_into_three_sentences_around_its_line_break():
    split = split_sentences(PARAGRAPH, "de")
    assert split.sentences == [
        "Ein Mann fährt Fahrrad.", "Eine Frau liest ein Buch im Park.", "Zwei Kinder spielen Fußball im Schnee.",
    ]
    assert split.separators == ["", " ", "\n", ""]


@pytest.mark.parametrize("language, text, sentences", [
    ("de", "Dr. Müller kam z.B. um 3 Uhr. Dann ging er.", ["Dr. Müller kam z.B. um 3 Uhr.", "Dann ging er."]),
    ("en", "Mr. Smith arrived at 5 p.m. on Monday. He left.", ["Mr. Smith arrived at 5 p.m. on Monday.", "He left."]),
    ("fr", "Le chien court. Il est content !", ["Le chien court.", "Il est content !"]),
])
def test_abbreviations_do_not_end_sentences(language, text, sentences):
    assert split_sentences(text, language).sentences == sentences


def test_invisible_characters_at_a_sentences_edges_belong_to_the_separators():
    split = split_sentences("\ufeffEin Hund läuft.\u200b Er bellt.\ufeff", "de")
    assert split.sentences == ["Ein Hund läuft.", "Er bellt."]
    assert split.separators == ["\ufeff", "\u200b ", "\ufeff"]
    assert split_sentences("\u200b\x00\u200d", "de").sentences == []


def test_every_line_break_ends_a_sentence_and_blank_lines_are_kept():
    split = split_sentences("  one\r\ntwo  \n\n\tthree\n", "en")
    assert split.sentences == ["one", "two", "three"]
    assert split.separators == ["  ", "\r\n", "  \n\n\t", "\n"]


def test_blank_text_has_no_sentences():
    assert split_sentences(" \n\t", "en").sentences == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("aB .!?\n\r\t\u2028é"), max_size=60))
def test_joining_the_sentences_back_gives_the_original_text(text):
    split = split_sentences(text, "en")
    assert split.join(split.sentences) == text
    assert all(s == s.strip() and s for s in split.sentences)


def test_each_sentence_of_a_paragraph_translates_exactly_as_it_does_alone(translator):
    text = "a bb cc. Dd e f!  \nGg h a bb.\n\nc d e"
    split = split_sentences(text, "en")
    assert len(split.sentences) == 4
    alone = [translator.translate_detailed([s], beam_size=3, n_best=2)[0] for s in split.sentences]
    [result] = translator.translate_paragraphs([text], language="en", beam_size=3, n_best=2, max_batch_sentences=3)
    assert result.text == split.join([a.text for a in alone])
    assert result.text.count("\n") == 3 and "  \n" in result.text
    assert [s.source for s in result.sentences] == split.sentences
    assert [s.text for s in result.sentences] == [a.text for a in alone]
    # The same candidates; scores equal up to float rounding (a batch pads sentences to its longest, and
    # matmuls over other shapes may round differently on some CPUs).
    assert [[c.text for c in s.n_best] for s in result.sentences] == [[c.text for c in a.n_best] for a in alone]
    assert [[c.score for c in s.n_best] for s in result.sentences] == \
        [pytest.approx([c.score for c in a.n_best], rel=1e-5) for a in alone]
    assert result.score == pytest.approx(sum(a.score for a in alone))
    assert result.n_best[1].text == split.join([a.n_best[1].text for a in alone])


def test_sentences_of_several_texts_share_one_batched_call(translator, monkeypatch):
    calls = []
    original = translator.translate_detailed
    monkeypatch.setattr(translator, "translate_detailed", lambda texts, **o: calls.append(texts) or original(texts, **o))
    results = translator.translate_paragraphs(["a bb. Cc d.", "", "e f"], language="en", beam_size=2)
    assert calls == [["a bb.", "Cc d.", "e f"]]
    assert results[1].text == "" and results[2].sentences is None


def test_a_one_sentence_text_keeps_its_alignment(translator):
    [result] = translator.translate_paragraphs(["  a b c  "], beam_size=2, return_attention=True)
    assert result.alignment is not None and result.sentences is None
    assert result.text.startswith("  ") and result.text.endswith("  ")


def test_cli_running_text_keeps_the_line_structure(tiny_model_dir, translator, tmp_path, capsys):
    source = tmp_path / "running.txt"
    source.write_text("a bb. Cc d.\n\ne f g\n", encoding="utf-8")
    assert translate_main([str(tiny_model_dir), "-i", str(source), "--running-text", "--beam-size", "2",
                           "--no-progress"]) == 0
    a, c, e = translator.translate(["a bb.", "Cc d.", "e f g"], beam_size=2)
    assert capsys.readouterr().out == f"{a} {c}\n\n{e}\n"


def test_cli_running_text_refuses_n_best(tiny_model_dir, capsys):
    assert translate_main([str(tiny_model_dir), "-i", "/dev/null", "--running-text", "--n-best", "2"]) == 2
    assert "--running-text" in capsys.readouterr().err
