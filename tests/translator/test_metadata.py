"""The metadata schema's record of a selection on several validation sets (translator-select)."""

from __future__ import annotations

import pytest

from translator.store.manifest import CheckpointError
from translator.store.metadata import validate_metadata


def selection(**changes):
    recorded = {
        "chosen": "best/", "rule": "weighted mean BLEU: 0.5 x tatoeba + 0.5 x news", "beam_size": 5,
        "sets": {"tatoeba": {"src": "val.de", "ref": "val.en", "weight": 1.0},
                 "news": {"src": "news.de", "ref": "news.en", "weight": 1.0}},
        "candidates": {"best/": {"score": 20.0, "sets": {"tatoeba": {"bleu": 30.0, "chrf": 50.0},
                                                         "news": {"bleu": 10.0, "chrf": 40.0}}}},
    }
    return {"selection_scores": {**recorded, **changes}}


def test_a_selection_record_with_every_candidates_scores_is_valid():
    assert validate_metadata(selection(), "test") == selection()


@pytest.mark.parametrize("changes, where", [
    ({"chosen": "average of the last 3 snapshots"}, "selection_scores: Value error, chosen 'average of the last 3 "
                                                    "snapshots' is not one of the candidates"),
    ({"sets": {"tatoeba": {"src": "val.de", "ref": "val.en", "weight": -1}}}, "selection_scores.sets.tatoeba.weight"),
    ({"candidates": {"best/": {"score": 20.0, "sets": {"news": {"bleu": "high", "chrf": 1}}}}},
     "selection_scores.candidates.best/.sets.news.bleu"),
    ({"beam_size": 0}, "selection_scores.beam_size"),
])
def test_a_selection_record_that_contradicts_itself_or_has_wrong_types_is_refused(changes, where):
    with pytest.raises(CheckpointError, match="^meta is not valid checkpoint metadata: " + where.replace(".", r"\.")):
        validate_metadata(selection(**changes), "meta")
