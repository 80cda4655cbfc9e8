"""The token-level seam: the string API is prepare → translate_ids → finish, and protected spans pass through."""

from __future__ import annotations

import pytest

from tests.conftest import symbol_sentences, tiny_model
from translator.search.hypotheses import Hypothesis
from translator.seam import TokenTranslation, padded_tokens
from translator.search.options import SearchOptions
from translator.text.casing import CaseRestorer
from translator.text.protect import PLACEHOLDERS
from translator.text.tokenizer import train_tokenizer
from translator.translate import Translator


@pytest.fixture(scope="module")
def translator(tiny_model_dir):
    return Translator.from_pretrained(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def placeholder_tokenizer():
    """Symbol pieces and the placeholders, as tokenizer.placeholders: true trains them."""
    return train_tokenizer(symbol_sentences(500, seed=0), vocab_size=60, model_type="bpe", user_symbols=PLACEHOLDERS)


@pytest.fixture(scope="module")
def placeholder_translator(placeholder_tokenizer):
    """A tiny model whose vocabularies hold the placeholders."""
    model = tiny_model(placeholder_tokenizer.vocab_size, seed=2)
    return Translator(model, placeholder_tokenizer, placeholder_tokenizer, device="cpu")


def test_the_string_api_gives_what_prepare_translate_ids_and_finish_give(translator):
    texts = symbol_sentences(6, seed=11) + ["", "A B C D"]
    options = SearchOptions(beam_size=3, n_best=2, return_attention=True)
    detailed = translator.translate_detailed(texts, options)
    prepared = translator.prepare(texts)
    searched = [text for text in prepared if not text.blank]
    found = iter(translator.translate_ids([text.ids for text in searched], options))
    by_hand = [translator.finish(text) if text.blank else translator.finish(text, next(found)) for text in prepared]
    assert [t.text for t in detailed] == [t.text for t in by_hand]
    assert [[c.text for c in t.n_best] for t in detailed] == [[c.text for c in t.n_best] for t in by_hand]
    assert [t.score for t in detailed] == pytest.approx([t.score for t in by_hand], abs=1e-5)
    assert [t.alignment.target_pieces for t in detailed[:6]] == [t.alignment.target_pieces for t in by_hand[:6]]
    assert detailed[6].text == "" and by_hand[6].score == 0.0


def test_translate_ids_answers_each_source_in_order_and_none_where_abandoned(translator):
    batch = translator.source_tokenizer.encode(symbol_sentences(5, seed=12))
    options = SearchOptions(beam_size=2)
    alone = [translator.translate_ids([ids], options)[0].hypotheses[0].token_ids for ids in batch]
    found = translator.translate_ids(batch, options, step_hook=lambda active: active % 2 == 1)
    assert [result is None for result in found] == [False, True, False, True, False]
    assert [found[i].hypotheses[0].token_ids for i in (0, 2, 4)] == [alone[i] for i in (0, 2, 4)]
    assert translator.translate_ids([], options) == []


def test_a_batchs_budget_counts_padding_and_eos():
    assert padded_tokens(longest=4, sentences=3) == 15


def test_a_model_without_placeholder_pieces_on_both_sides_sees_the_text_as_written(translator, placeholder_tokenizer,
                                                                                  symbol_tokenizer):
    assert not translator.protects_spans
    [prepared] = translator.prepare(["a 42 b"])
    assert prepared.masked is None and prepared.ids == translator.source_tokenizer.encode(["a 42 b"])[0]
    one_sided = Translator(tiny_model(placeholder_tokenizer.vocab_size), placeholder_tokenizer, symbol_tokenizer)
    assert not one_sided.protects_spans


def test_a_model_with_placeholders_gets_spans_masked_and_put_back(placeholder_translator):
    translator = placeholder_translator
    assert translator.protects_spans
    [prepared] = translator.prepare(["a 42 b https://x.org/a/b"])
    assert prepared.masked.spans == ["42", "https://x.org/a/b"]
    assert translator.source_tokenizer.decode([prepared.ids]) == [f"a {PLACEHOLDERS[0]} b {PLACEHOLDERS[1]}"]
    # A placeholder in the output becomes its span; one the output dropped is put back among the words.
    output = translator.target_tokenizer.encode([f"c {PLACEHOLDERS[1]} d"])[0]
    finished = translator.finish(prepared, TokenTranslation([Hypothesis(output, -1.0)]))
    assert finished.text == "42 c https://x.org/a/b d"


def test_protected_spans_come_through_a_whole_translation(placeholder_translator):
    texts = ["a 42 b", "c d 05.01.2024 e", "f g"]
    results = placeholder_translator.translate_detailed(texts, beam_size=2, n_best=2)
    assert "42" in results[0].text.split() and "05.01.2024" in results[1].text.split()
    assert all("42" in candidate.text.split() for candidate in results[0].n_best)
    assert not any(char in PLACEHOLDERS for result in results for char in result.text)


def test_rare_names_pass_through_as_placeholders_where_capitals_mark_names(placeholder_tokenizer):
    from translator.glossary.entries import build_glossary

    model = tiny_model(placeholder_tokenizer.vocab_size, seed=2)

    def translator(language: str | None) -> Translator:
        return Translator(model, placeholder_tokenizer, placeholder_tokenizer, {"source_language": language},
                          device="cpu")

    text = "a b Abcd c 42"  # "Abcd" is spelt with several pieces: a name the model cannot know
    [prepared] = translator("en").prepare([text])
    assert prepared.masked.spans == ["Abcd", "42"]
    assert translator("en").source_tokenizer.decode([prepared.ids]) == [f"a b {PLACEHOLDERS[0]} c {PLACEHOLDERS[1]}"]
    output = placeholder_tokenizer.encode([f"d {PLACEHOLDERS[0]} e {PLACEHOLDERS[1]}"])[0]
    assert translator("en").finish(prepared, TokenTranslation([Hypothesis(output, -1.0)])).text == "d Abcd e 42"
    assert "Abcd" in translator("en").translate([text])[0].split()
    # German writes every noun with a capital; a name masked off; a glossary term is the glossary's to translate.
    assert translator("de").prepare([text])[0].masked.spans == ["42"]
    german = translator("de")  # ... unless the target language writes it with a capital too
    german.case_restorer = CaseRestorer({}, {}, frozenset({"Abcd"}))
    assert german.prepare([text])[0].masked.spans == ["Abcd", "42"]
    german.case_restorer = CaseRestorer({}, {}, frozenset({"Abc"}))
    assert german.prepare([text])[0].masked.spans == ["42"]
    # Without a source language there is no telling which capitals mark names: none are masked.
    assert translator(None).prepare([text])[0].masked.spans == ["42"]
    off = translator("en")
    off.masks_names = False
    assert off.prepare([text])[0].masked.spans == ["42"]
    glossary = build_glossary([("Abcd", "a b", "entry 1")])
    assert translator("en").prepare([text], glossary=glossary)[0].masked.spans == ["42"]


def test_an_alignment_spells_the_protected_spans_so_inline_tags_can_be_placed_by_attention(placeholder_translator):
    import torch

    from translator.alignment import piece_spans

    translator = placeholder_translator
    [prepared] = translator.prepare(["a 42 b"])
    output = translator.target_tokenizer.encode([f"c {PLACEHOLDERS[0]} d"])[0]
    attention = torch.full((len(output) + 1, len(prepared.ids) + 1), 1.0 / (len(prepared.ids) + 1))
    result = translator.finish(prepared, TokenTranslation([Hypothesis(output, -1.0, attention)]))
    assert result.text == "c 42 d"
    alignment = result.alignment
    assert "42" in "".join(alignment.source_pieces) and "42" in "".join(alignment.target_pieces)
    # What the HTML placement needs (translator.text.markup): pieces that spell the source and the translation.
    assert piece_spans("a 42 b", alignment.source_pieces) is not None
    assert piece_spans(result.text, alignment.target_pieces) is not None
