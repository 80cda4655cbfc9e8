"""A paragraph's runs as HTML with inline tags, and the translated HTML back as runs."""

from __future__ import annotations

from translator.documents.inline import Piece, Run, TaggedRuns


def test_the_main_formatting_is_bare_text_and_every_other_one_an_element():
    tagged = TaggedRuns([Run("Ein ", "plain"), Run("großer", "bold"), Run(" ", "bold"), Run("Hund", "bold"),
                         Run(" läuft.", "plain")])
    assert tagged.text == 'Ein <span id="g1">großer Hund</span> läuft.'
    assert tagged.pieces('A <span id="g1">big dog</span> runs.') == [
        Piece("A ", 0), Piece("big dog", 1), Piece(" runs.", 0)]


def test_runs_formatted_alike_share_an_element_and_text_is_escaped():
    tagged = TaggedRuns([Run("a < b & ", "plain"), Run("c", "italic"), Run("d", "italic"), Run(" e", "plain")])
    assert tagged.text == 'a &lt; b &amp; <span id="g1">cd</span> e'
    assert [p.text for p in tagged.pieces('X &amp; <span id="g1">Y</span>')] == ["X & ", "Y"]


def test_spaces_in_another_formatting_make_no_element_of_their_own():
    tagged = TaggedRuns([Run(" ", "bold"), Run("Der Hund", "plain"), Run(" ", "italic"), Run("läuft.", "plain")])
    assert tagged.text == " Der Hund läuft."


def test_an_anchor_stays_after_the_last_word_before_it():
    # "Der Hund[note] läuft." : only "Hund" becomes an element, so the note follows its translation.
    tagged = TaggedRuns([Run("Der Hund", "plain", anchored=True), Run(" läuft.", "plain")])
    assert tagged.text == 'Der <span id="g1">Hund</span> läuft.'
    assert tagged.pieces('The <span id="g1">dog</span> runs.') == [
        Piece("The ", 0), Piece("dog", 0, anchors=(0,)), Piece(" runs.", 0)]


def test_an_anchor_after_punctuation_follows_the_words_before_it():
    tagged = TaggedRuns([Run("Siehe ", "plain"), Run("Seite", "link"), Run(".", "plain", anchored=True),
                         Run(" Ende.", "plain")])
    assert tagged.text == 'Siehe <span id="g1">Seite</span>. Ende.'
    assert [p.anchors for p in tagged.pieces('See <span id="g1">page</span>. End.')] == [(), (2,), ()]


def test_an_element_that_comes_back_empty_still_carries_its_anchors():
    tagged = TaggedRuns([Run("Hund", "bold", anchored=True), Run(" läuft.", "plain")])
    assert tagged.pieces('<span id="g0"></span>Runs.') == [Piece("", 0, anchors=(0,)), Piece("Runs.", 1)]


def test_code_and_urls_keep_their_text_whatever_was_translated_into_them():
    tagged = TaggedRuns([Run("Starten Sie ", "plain"), Run("make test", "mono", code=True),
                         Run(" auf https://example.com/x bitte.", "plain")])
    assert tagged.text == ('Starten Sie <span id="g1">make test</span> auf <span id="g3">https://example.com/x</span>'
                           ' bitte.')
    pieces = tagged.pieces('Run <span id="g1">do test</span> on <span id="g3">https : //example</span> please.')
    assert "".join(p.text for p in pieces) == "Run make test on https://example.com/x please."
    assert [p.run for p in pieces] == [0, 1, 0, 2, 0]  # the URL keeps the formatting of the run it was in


def test_a_paragraph_of_nothing_but_code_is_not_translated():
    assert TaggedRuns([Run("print('Hund')", "mono", code=True)]).text == '<code id="g0">print(\'Hund\')</code>'


def test_tabs_are_kept_as_tabs():
    tagged = TaggedRuns([Run("Einleitung\t3", "plain")])
    assert tagged.text == "Einleitung<x-tab/>3"
    assert tagged.pieces("Introduction<x-tab/>3") == [Piece("Introduction\t3", 0)]
