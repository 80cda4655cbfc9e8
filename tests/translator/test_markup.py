"""HTML for format "html": tags kept byte for byte, text nodes decoded for translation and escaped after."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from translator.text.markup import parse_markup
from translator.translate import Alignment, Translation


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


def aligned(source_pieces: list[str], target_pieces: list[str], links: dict[int, int]) -> Alignment:
    """Attention where target piece t looks only at source piece links[t] (EOS at the source's EOS)."""
    weights = [[1.0 if links.get(t, len(source_pieces) - 1) == s else 0.0 for s in range(len(source_pieces))]
               for t in range(len(target_pieces))]
    return Alignment(source_pieces, target_pieces, weights)


def test_inline_tags_go_around_the_words_their_text_was_translated_into():
    parsed = parse_markup('<p>Ich habe <a href="/h">den Hund</a> <b>gestern</b> gesehen.</p>')
    [run] = parsed.runs
    assert parsed.units == ["Ich habe den Hund gestern gesehen."]
    source = ["▁Ich", "▁habe", "▁den", "▁Hund", "▁gest", "ern", "▁gesehen", ".", "</s>"]
    target = ["▁I", "▁saw", "▁the", "▁dog", "▁yesterday", ".", "</s>"]
    translation = Translation("I saw the dog yesterday.", -1.0,
                              alignment=aligned(source, target, {0: 0, 1: 6, 2: 2, 3: 3, 4: 4, 5: 7}))
    placed = parsed.place([translation], "de")
    assert placed[0] is not None
    assert parsed.render([translation], placed) == \
        '<p>I saw <a href="/h">the dog</a> <b>yesterday</b>.</p>'


def test_a_tag_never_cuts_a_word_that_the_model_wrote_in_pieces():
    parsed = parse_markup("Mehr steht auf <a href=\"/s\">unserer Seite</a>.")
    source = ["▁Mehr", "▁steht", "▁auf", "▁uns", "er", "er", "▁Seite", ".", "</s>"]
    target = ["▁More", "▁stands", "▁on", "to", "▁our", "▁page", ".", "</s>"]
    translation = Translation("More stands onto our page.", -1.0,
                              alignment=aligned(source, target, {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 7}))
    assert parsed.render([translation], parsed.place([translation], "de")) == \
        'More stands <a href="/s">onto our page</a>.'


def test_nested_elements_stay_nested_and_the_parent_widens_to_hold_its_child():
    parsed = parse_markup("<b>Ein <i>roter</i> Hut</b> liegt da &amp; hier.")
    source = ["▁Ein", "▁roter", "▁Hut", "▁liegt", "▁da", "▁&", "▁hier", ".", "</s>"]
    target = ["▁Here", "▁&", "▁there", "▁lies", "▁a", "▁red", "▁hat", ".", "</s>"]
    links = {0: 6, 1: 5, 2: 4, 3: 3, 4: 0, 5: 1, 6: 2, 7: 7}
    translation = Translation("Here & there lies a red hat.", -1.0, alignment=aligned(source, target, links))
    assert parsed.render([translation], parsed.place([translation], "de")) == \
        "Here &amp; there lies <b>a <i>red</i> hat</b>."


def test_tags_that_cannot_be_placed_fall_back_to_translating_the_text_nodes_one_by_one():
    parsed = parse_markup("<p>Zwei <b>Hunde</b> laufen.</p><p>Ende.</p>")
    assert parsed.units == ["Zwei Hunde laufen.", "Ende."]
    normalised = Translation("Two dogs run.", -1.0, alignment=aligned(["▁Zwei", "▁Hund", "e", "▁lauf", "en", "…"],
                                                                      ["▁Two", "▁dogs", "▁run", "."], {}))
    end = Translation("End.", -1.0)
    placed = parsed.place([normalised, end], "de")
    assert placed == [None]  # "…" does not spell the source's "."
    assert parsed.run_node_texts(0) == ["Zwei ", "Hunde", " laufen."]
    assert parsed.render([normalised, end], placed, {0: ["Two ", "dogs", " run."]}) == \
        "<p>Two <b>dogs</b> run.</p><p>End.</p>"


def test_unbalanced_inline_tags_and_a_lone_text_node_make_no_run():
    assert parse_markup("Ein <b>Hund läuft.").runs == []
    assert parse_markup("<b>Ein Hund</b> <br>läuft.").runs == []
    assert parse_markup("<p><i>Ein Hund.</i></p>").runs == []
    assert [run.text for run in parse_markup("<i>Ein</i> <b>Hund</b><br>Ende <em>hier</em>.").runs] == \
        ["Ein Hund", "Ende hier."]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<b>", "</b>", "<i>", "</i>", '<a href="x">', "</a>", "<br/>",
                                 "Hund", " ", "\n", "&amp;", "Katze.", "Ein Hund. Zwei"]), max_size=20))
def test_any_markup_with_runs_renders_back_to_itself_when_every_run_falls_back(pieces):
    parsed = parse_markup("".join(pieces))
    unattended = [Translation(unit, 0.0) for unit in parsed.units]
    placed = parsed.place(unattended, "de")
    assert placed == [None] * len(parsed.runs)
    assert parsed.render(unattended, placed, {run: parsed.run_node_texts(run) for run in range(len(placed))}) == \
        parsed.join(parsed.texts)
