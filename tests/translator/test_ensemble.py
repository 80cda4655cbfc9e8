"""Search drives anything with the DecodingModel calls; an ensemble is one such thing."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_model
from tests.translator.test_search import SOURCES, as_pairs, padded_batch
from translator.search.protocol import DecodingModel
from translator.search.ensemble import Ensemble
from translator.model.inference import InferenceModel
from translator.search.beam import beam_search
from translator.search.greedy import greedy_search
from translator.search.options import SearchOptions
from translator.text.tokenizer import BOS_ID, EOS_ID
from translator.translate import Translator

VOCAB = 14


class CountingModel:
    """Not a neural network: from BOS it says 5, 6, 7, ... up to the source length, then EOS.

    It implements only the five DecodingModel members, so search must not need anything else.
    """

    vocab_size = VOCAB

    def encode(self, src_ids, src_lengths):
        return src_lengths.clone(), torch.zeros(src_ids.size(0), dtype=torch.long)  # memory, state

    def step(self, prev_ids, state, memory):
        rows, beams = prev_ids.size(0), prev_ids.size(0) // memory.size(0)
        lengths = memory.repeat_interleave(beams)
        wanted = torch.where(state < lengths - 1, 5 + state, torch.full_like(state, EOS_ID))
        logits = torch.full((rows, self.vocab_size), -10.0)
        logits[torch.arange(rows), wanted] = 10.0
        return logits, state + 1, torch.ones(rows, 1)

    def select_state(self, state, rows):
        return state.index_select(0, rows)

    def select_memory(self, memory, sentences):
        return memory.index_select(0, sentences)


@pytest.mark.parametrize("search", [greedy_search, beam_search])
def test_search_needs_only_the_protocol(search):
    model = CountingModel()
    assert isinstance(model, DecodingModel)
    src, lengths = padded_batch(SOURCES)
    result = search(model, src, lengths, SearchOptions(beam_size=3, max_output_length=20))
    outputs = [hypotheses[0].token_ids for hypotheses in result.hypotheses]
    assert outputs == [list(range(5, 5 + len(source) - 1)) for source in SOURCES]


@pytest.mark.parametrize("search, beam_size", [(greedy_search, 1), (beam_search, 4)])
def test_an_ensemble_of_one_model_twice_decodes_like_the_model(search, beam_size):
    model = tiny_model(VOCAB, seed=7).double()
    options = SearchOptions(beam_size=beam_size, n_best=beam_size, max_output_length=10)
    src, lengths = padded_batch(SOURCES)
    alone = as_pairs(search(model, src, lengths, options))
    together = as_pairs(search(Ensemble([model, InferenceModel(model)]), src, lengths, options))
    assert together == alone
    assert any(hypotheses[0][0] for hypotheses in alone)


def test_an_ensemble_follows_the_average_of_its_members_log_probabilities():
    members = [tiny_model(VOCAB, seed=seed).double() for seed in (8, 9)]
    src, lengths = padded_batch([SOURCES[0]])
    options = SearchOptions(beam_size=1, max_output_length=8, max_output_ratio=None)
    result = greedy_search(Ensemble(members), src, lengths, options).hypotheses[0][0]
    # The same greedy decision rule, written out one sentence and one member at a time.
    expected, prev = [], BOS_ID
    with torch.no_grad():
        encoded = [member.encode(src, lengths) for member in members]
        states = [state for _, state in encoded]
        for _ in range(8):
            log_probs = []
            for index, (member, (memory, _)) in enumerate(zip(members, encoded)):
                logits, states[index], _ = member.step(torch.tensor([prev]), states[index], memory)
                log_probs.append(torch.log_softmax(logits, dim=-1))
            prev = int(torch.stack(log_probs).mean(0).argmax())
            if prev == EOS_ID:
                break
            expected.append(prev)
    assert result.token_ids == expected
    singles = [greedy_search(member, src, lengths, options).hypotheses[0][0].token_ids for member in members]
    assert singles[0] != singles[1]  # the members disagree, so the average decided something


def test_an_ensemble_needs_two_members_with_one_vocabulary():
    with pytest.raises(ValueError, match="at least 2"):
        Ensemble([tiny_model(VOCAB)])
    with pytest.raises(ValueError, match="vocabulary sizes"):
        Ensemble([tiny_model(VOCAB), tiny_model(VOCAB + 1)])


def test_translator_ensemble_translates_and_refuses_other_vocabularies(tiny_model_dir, tmp_path, symbol_tokenizer):
    from translator.store.checkpoint import save_checkpoint
    from translator.text.tokenizer import train_tokenizer
    from tests.conftest import symbol_sentences

    single = Translator.from_pretrained(tiny_model_dir, device="cpu")
    ensemble = Translator.ensemble([tiny_model_dir, tiny_model_dir], device="cpu")
    texts = ["a b c", "h g"]
    assert ensemble.translate(texts, beam_size=3) == single.translate(texts, beam_size=3)
    other_tokenizer = train_tokenizer(symbol_sentences(300, seed=1), vocab_size=29, model_type="unigram")
    other = tmp_path / "other"
    save_checkpoint(other, tiny_model(other_tokenizer.vocab_size), other_tokenizer, symbol_tokenizer,
                    {"source_language": "xx", "target_language": "yy"})
    with pytest.raises(ValueError, match="sentencepiece"):
        Translator.ensemble([tiny_model_dir, other], device="cpu")
    with pytest.raises(ValueError, match="at least 2"):
        Translator.ensemble([tiny_model_dir], device="cpu")
