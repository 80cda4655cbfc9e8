"""Glossaries: entries checked with messages that name the entry, terms matched across case and inflection,
and search that writes every term while sentences without terms translate as before."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
import torch

from translator.cli import main as translate_main
from translator.glossary import MAX_ENTRIES, MAX_TERM_CHARS, GlossaryError, parse_glossary, read_glossary_tsv
from translator import translate as translate_module
from translator.glossary.matching import TermConstraint, find_terms, words_match
from translator.glossary.placement import place_terms, through_terms, written
from translator.search.beam import search
from translator.search.constraints import ForcedPrefixes
from translator.search.options import SearchOptions
from translator.translate import Translator


@pytest.fixture(scope="module")
def translator(tiny_model_dir):
    return Translator.from_pretrained(tiny_model_dir, device="cpu")


# --- entries ----------------------------------------------------------------------------------------------------

def test_a_mapping_and_a_list_give_the_same_glossary():
    mapping = parse_glossary({"Vertrag": "contract", "Acme Cloud": None})
    listed = parse_glossary([{"source": "Vertrag", "target": "contract"}, {"source": "Acme Cloud", "keep": True}])
    assert mapping == listed
    assert [entry.keep for entry in mapping.entries] == [False, True]
    assert mapping.as_mapping() == {"Vertrag": "contract", "Acme Cloud": None}


@pytest.mark.parametrize("value, message", [
    ({"": "x"}, "source term is empty"),
    ({"Vertrag": "   "}, None),  # an empty target keeps the term: not an error
    ({"a" * (MAX_TERM_CHARS + 1): "x"}, f"more than the limit of {MAX_TERM_CHARS}"),
    ({"Vertrag": "x" * (MAX_TERM_CHARS + 1)}, "target term has"),
    ([{"source": "Vertrag", "target": "contract"}, {"source": "vertrag", "target": "agreement"}],
     "given two targets, 'contract' (entry 1) and 'agreement'"),
    ([{"source": "Vertrag"}], "give a target"),
    ([{"source": "Vertrag", "target": "x", "extra": 1}], "unknown field"),
    ("Vertrag", "a glossary is an object"),
    ({f"term{i}": "x" for i in range(MAX_ENTRIES + 1)}, f"more than {MAX_ENTRIES} entries"),
])
def test_bad_entries_are_refused_naming_the_entry(value, message):
    if message is None:
        assert parse_glossary(value).entries[0].keep
        return
    with pytest.raises(GlossaryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_glossary(value)


def test_the_same_entry_twice_is_one_entry():
    assert len(parse_glossary([{"source": "Hund", "target": "dog"}, {"source": "hund", "target": "dog"}])) == 1


def test_a_tsv_file_names_its_line_when_wrong(tmp_path):
    good = tmp_path / "terms.tsv"
    good.write_text("# legal terms\nVertrag\tcontract\n\nAcme Cloud\t\nGmbH\tGmbH\n", encoding="utf-8")
    assert read_glossary_tsv(good).as_mapping() == {"Vertrag": "contract", "Acme Cloud": None, "GmbH": None}
    bad = tmp_path / "bad.tsv"
    bad.write_text("Vertrag\tcontract\nVertrag\tagreement\n", encoding="utf-8")
    with pytest.raises(GlossaryError, match=f"{bad}, line 2: 'Vertrag' is given two targets"):
        read_glossary_tsv(bad)


# --- matching ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text_word, term_word, matches", [
    ("Vertrag", "Vertrag", True), ("vertrag", "Vertrag", True), ("VERTRAGS", "Vertrag", True),
    ("Verträge", "Vertrag", True), ("Verträgen", "Vertrag", True), ("Vertrag", "Verträge", True),
    ("contracts", "contract", True), ("buses", "bus", True),
    ("sich", "sicher", False), ("care", "car", False), ("Vertrauen", "Vertrag", False),
])
def test_words_match_across_case_accents_and_inflection(text_word, term_word, matches):
    assert words_match(text_word, term_word) is matches


def test_longer_terms_win_and_every_occurrence_is_found():
    glossary = parse_glossary({"Acme Cloud": None, "Acme Cloud Server": None, "Server": "host"})
    found = find_terms("Der Acme Cloud Server und ein Server.", glossary)
    assert [(m.entry.source, m.spans) for m in found] == [("Acme Cloud Server", ((4, 21),)), ("Server", ((30, 36),))]


def test_overlapping_entries_of_one_length_prefer_the_exact_form_then_the_glossarys_order():
    assert [m.entry.target for m in find_terms("Die Hunde bellen.", parse_glossary({"Hund": "dog", "Hunde": "dogs"}))
            ] == ["dogs"]
    both_stemmed = parse_glossary({"Verträge": "contracts", "Vertrag": "contract"})
    assert [m.entry.target for m in find_terms("Des Vertrags wegen.", both_stemmed)] == ["contracts"]


def test_matching_is_the_same_in_every_process_whatever_its_hash_seed():
    """Ties were once broken by the iteration order of sets of strings, which changes from process to process."""
    program = ("from translator.glossary import parse_glossary; from translator.glossary.matching import find_terms; "
               "g = parse_glossary({'Verträge': 'contracts', 'Vertrag': 'contract', 'Hund': 'dog', 'Hunde': 'dogs', "
               "'Hundes': 'of the dog'}); "
               "print([(m.entry.target, m.spans) for m in find_terms('Des Vertrags und der Hunde wegen.', g)])")
    outputs = {subprocess.run([sys.executable, "-c", program], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True).stdout for seed in ("1", "2", "3", "4")}
    assert len(outputs) == 1 and "contracts" in outputs.pop()


def test_terms_inside_other_words_do_not_match():
    assert find_terms("Der Mietvertrag endet.", parse_glossary({"Vertrag": "contract"})) == []


# --- search -----------------------------------------------------------------------------------------------------

SOURCES = ["a b c d", "e f g", "c c a", "b d h a", "a h"]
GLOSSARY = {"c": "h g", "f": "e"}


@pytest.mark.parametrize("method", ["align", "replace"])  # "trigger" cannot promise it: docs/translating.md
@pytest.mark.parametrize("beam_size", [1, 4])
def test_every_term_is_written_and_other_sentences_translate_as_before(translator, method, beam_size):
    translator.glossary_method = method
    try:
        glossary = parse_glossary(GLOSSARY)
        plain = translator.translate(SOURCES, beam_size=beam_size)
        constrained = translator.translate(SOURCES, glossary=glossary, beam_size=beam_size, max_batch_sentences=5)
    finally:
        translator.glossary_method = "align"
    for source, output in zip(SOURCES, constrained):
        for match in find_terms(source, glossary):
            assert written(match.entry.target, output), (method, source, output)
    no_terms = [i for i, source in enumerate(SOURCES) if not find_terms(source, glossary)]
    assert no_terms and all(plain[i] == constrained[i] for i in no_terms)


def test_a_continuation_that_drops_a_term_gives_way_to_the_output_with_the_terms_put_in(translator, monkeypatch):
    """The second search of "align" continues freely after the terms; should it drop one, the terms stay written."""
    real_search = translate_module.search

    def forgetful(*args, **keywords):
        result = real_search(*args, **keywords)
        if len(args) > 6:  # the second search: its forcing argument
            for hypotheses in result.hypotheses:
                hypotheses[0] = dataclasses.replace(hypotheses[0], token_ids=hypotheses[0].token_ids[:1])
        return result

    monkeypatch.setattr(translate_module, "search", forgetful)
    glossary = parse_glossary(GLOSSARY)
    constrained = translator.translate(SOURCES, glossary=glossary, beam_size=4)
    for source, output in zip(SOURCES, constrained):
        for match in find_terms(source, glossary):
            assert written(match.entry.target, output), (source, output)


def test_a_term_is_never_put_in_place_of_another_term_the_output_has(translator):
    """Attention on the missing term's source peaks on a word that is another term: that word stays."""
    tokenizer = translator.target_tokenizer
    ids = tokenizer.encode(["e f g"])[0]
    pieces = tokenizer.id_to_piece(ids)
    written_term = TermConstraint(tuple(tokenizer.encode(["f"])[0]), (1,), "f")
    missing = TermConstraint(tuple(tokenizer.encode(["h"])[0]), (0,), "h")
    attention = torch.full((len(ids) + 1, 3), 0.01)
    attention[pieces.index("\u2581f"), 0] = 1.0  # the peak is on "f"
    placed, _ = place_terms(ids, attention, [missing], tokenizer, None, [written_term])
    words = tokenizer.decode([placed])[0].split()
    assert "f" in words and "h" in words and len(words) == 3
    unguarded, _ = place_terms(ids, attention, [missing], tokenizer, None)
    assert tokenizer.decode([unguarded])[0].split() == ["e", "h", "g"]


def test_the_forced_prefix_runs_through_the_terms_the_output_already_had():
    term = TermConstraint((7, 8), (0,), "x y")
    assert through_terms([1, 7, 8, 2, 7, 8, 3], 1, [term]) == 6  # its last occurrence
    assert through_terms([1, 2, 3], 2, [term]) == 2


def test_a_term_the_model_cannot_spell_is_refused(translator):
    with pytest.raises(GlossaryError, match="cannot write"):
        translator.translate(["a b c"], glossary=parse_glossary({"c": "zz"}))


@pytest.mark.parametrize("beam_size", [1, 3])
def test_a_forced_prefix_starts_every_hypothesis(translator, beam_size):
    src = torch.tensor([[6, 7, 5, 3], [10, 3, 0, 0]])  # "a b c", "d" (EOS-terminated, padded)
    lengths = torch.tensor([4, 2])
    prefixes = [[8, 4, 8], []]  # "h g h" for the first sentence, nothing for the second
    options = SearchOptions(beam_size=beam_size, n_best=beam_size, max_output_ratio=None, max_output_length=12)
    forced = search(translator.decoding_model, src, lengths, options,
                    forcing=ForcedPrefixes(prefixes, beam_size, torch.device("cpu")))
    free = search(translator.decoding_model, src, lengths, options)
    assert all(h.token_ids[:3] == [8, 4, 8] for h in forced.hypotheses[0])
    assert [h.token_ids for h in forced.hypotheses[1]] == [h.token_ids for h in free.hypotheses[1]]


def test_the_cli_applies_a_glossary_file_and_names_a_bad_line(tiny_model_dir, tmp_path, capsys):
    terms = tmp_path / "terms.tsv"
    terms.write_text("c\th g\n", encoding="utf-8")
    source = tmp_path / "in.txt"
    source.write_text("a b c d\ne f\n", encoding="utf-8")
    assert translate_main([str(tiny_model_dir), "-i", str(source), "--glossary", str(terms), "--no-progress"]) == 0
    first, _ = capsys.readouterr().out.splitlines()
    assert written("h g", first)
    terms.write_text("c\th g\n\t\n", encoding="utf-8")
    assert translate_main([str(tiny_model_dir), "-i", str(source), "--glossary", str(terms)]) == 2
    assert f"{terms}, line 2: the source term is empty" in capsys.readouterr().err


@pytest.mark.parametrize("beam_size", [1, 3])
def test_sentences_of_different_glossaries_share_one_batch(translator, beam_size):
    first = translator.prepare(["a b c d"], glossary=parse_glossary({"c": "h g"}))[0]
    second = translator.prepare(["a b c d"], glossary=parse_glossary({"c": "e e f"}))[0]
    options = SearchOptions(beam_size=beam_size)
    found = translator.translate_ids([first.ids, second.ids], options, terms=[first.terms, second.terms])
    one, other = (translator.finish(text, result).text for text, result in zip((first, second), found))
    assert written("h g", one) and not written("e e f", one)
    assert written("e e f", other) and not written("h g", other)
