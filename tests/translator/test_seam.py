"""The token-level seam: the string API is prepare → translate_ids → finish."""

from __future__ import annotations

import pytest

from tests.conftest import symbol_sentences
from translator.seam import padded_tokens
from translator.search.options import SearchOptions
from translator.translate import Translator


@pytest.fixture(scope="module")
def translator(tiny_model_dir):
    return Translator.from_pretrained(tiny_model_dir, device="cpu")


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
