"""HTML for format "html": tags kept byte for byte, text nodes decoded for translation and escaped after."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.markup import parse_markup


def test_text_nodes_are_decoded_and_tags_comments_and_code_are_left_alone():
    markup = ('<!DOCTYPE html><p class="a">Ein Mann &amp; ein Hund.</p>\n<p>Zwei <b>Hunde</b> laufen.</p>'
              '<script>var a = "<b>Hund</b>";</script><!-- Hund --><pre>Hund</pre><br/>Ende')
    parsed = parse_markup(markup)
    assert parsed.texts == ["Ein Mann & ein Hund.", "Zwei ", "Hunde", " laufen.", "Ende"]
    assert parsed.join(parsed.texts) == markup
    assert parsed.join([t.upper() for t in parsed.texts]) == (
        '<!DOCTYPE html><p class="a">EIN MANN &amp; EIN HUND.</p>\n<p>ZWEI <b>HUNDE</b> LAUFEN.</p>'
        '<script>var a = "<b>Hund</b>";</script><!-- Hund --><pre>Hund</pre><br/>ENDE'
    )


def test_translations_are_escaped_so_they_cannot_inject_markup():
    parsed = parse_markup("<p>x</p>")
    assert parsed.join(["<img src=x onerror=alert(1)> & more"]) == "<p>&lt;img src=x onerror=alert(1)&gt; &amp; more</p>"


def test_a_lone_less_than_sign_is_text():
    assert parse_markup("3 < 5 <i>ok</i>").texts == ["3 < 5 ", "ok"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<b>", "</b>", "<br/>", "<script>", "</script>", "<!-- c -->",
                                 "Hund", " ", "\n", "&amp;", "a < b", "Katze."]), max_size=20))
def test_any_markup_rejoins_to_itself_with_its_own_text(pieces):
    markup = "".join(pieces)
    parsed = parse_markup(markup)
    rejoined = parsed.join(parsed.texts)
    assert parse_markup(rejoined).texts == parsed.texts
    assert [parsed.parts[i] for i in range(len(parsed.parts)) if i not in parsed.text_parts] == [
        part for i, part in enumerate(parse_markup(rejoined).parts) if i not in parsed.text_parts]
