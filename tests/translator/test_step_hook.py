"""The search's step hook: abandoned sentences leave the batch, the others are searched as before."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import symbol_sentences, tiny_model
from tests.translator.test_search import SOURCES, VOCAB, as_pairs, padded_batch
from translator.search.beam import beam_search
from translator.search.greedy import greedy_search
from translator.search.options import SearchOptions
from translator.translate import Translator


class Recorder:
    """A step hook that abandons ``drop`` (batch indices) from step ``at_step`` on and records what it saw."""

    def __init__(self, drop: set[int], at_step: int) -> None:
        self.drop, self.at_step, self.seen = drop, at_step, []

    def __call__(self, active: torch.Tensor) -> torch.Tensor | None:
        self.seen.append(active.tolist())
        if len(self.seen) <= self.at_step:
            return None
        return torch.tensor([index in self.drop for index in active.tolist()])


@pytest.mark.parametrize("search", [greedy_search, beam_search])
def test_abandoned_sentences_leave_the_batch_and_the_others_are_unchanged(search):
    model = tiny_model(VOCAB, "gru", seed=4).double()
    options = SearchOptions(beam_size=1 if search is greedy_search else 3, max_output_length=12, max_output_ratio=None)
    src, lengths = padded_batch(SOURCES)
    plain = as_pairs(search(model, src, lengths, options))
    hook = Recorder(drop={1, 3}, at_step=1)
    dropped = as_pairs(search(model, src, lengths, options, step_hook=hook))
    assert dropped[1] == [] and dropped[3] == []
    assert [dropped[i] for i in (0, 2, 4)] == [plain[i] for i in (0, 2, 4)]
    assert all(1 not in active and 3 not in active for active in hook.seen[2:])  # gone after the drop
    assert 1 in hook.seen[0] and 3 in hook.seen[0]


def test_abandoning_every_sentence_ends_the_search_at_once():
    model = tiny_model(VOCAB, "gru", seed=4)
    options = SearchOptions(beam_size=4, max_output_length=50, max_output_ratio=None)
    src, lengths = padded_batch(SOURCES)
    hook = Recorder(drop=set(range(len(SOURCES))), at_step=0)
    result = beam_search(model, src, lengths, options, step_hook=hook)
    assert result.hypotheses == [[] for _ in SOURCES]
    assert len(hook.seen) == 1


def test_translator_passes_text_indices_and_returns_none_for_abandoned_texts(tiny_model_dir):
    translator = Translator.from_pretrained(tiny_model_dir, device="cpu")
    texts = symbol_sentences(9, seed=2, max_len=10)
    texts[4] = ""  # never searched, always translated
    seen: set[int] = set()

    def drop_odd(active: torch.Tensor) -> torch.Tensor:
        seen.update(active.tolist())
        return active % 2 == 1

    results = translator.translate_detailed(texts, beam_size=2, max_batch_sentences=3, step_hook=drop_odd)
    plain = translator.translate(texts, beam_size=2)
    assert seen == {0, 1, 2, 3, 5, 6, 7, 8}
    assert [r is None for r in results] == [i % 2 == 1 for i in range(9)]
    assert [r.text for i, r in enumerate(results) if i % 2 == 0] == plain[::2]
