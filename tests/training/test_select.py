"""translator-select: best/ or an average of the last snapshots, chosen by measured validation BLEU."""

from __future__ import annotations

import pytest

from tests.conftest import symbol_sentences, tiny_model
from tests.training.conftest import write_config, write_set
from training.release.named_sets import NamedSet
from training.release.select import main as select_main
from training.release.select import select
from translator.store.checkpoint import load_checkpoint, save_checkpoint
from translator.translate import Translator


def make_run(run, tokenizer, best_seed=1):
    """best/ is one tiny model; the last three snapshots are another, so their average is that model."""
    languages = {"source_language": "xx", "target_language": "yy"}

    def checkpoint(directory, seed):
        save_checkpoint(directory, tiny_model(tokenizer.vocab_size, seed=seed), tokenizer, tokenizer, languages,
                        half_precision=True)

    checkpoint(run / "best", seed=best_seed)
    checkpoint(run / "snapshots" / "step-00000010", seed=3)
    for step in (20, 30, 40):
        checkpoint(run / "snapshots" / f"step-{step:08d}", seed=2)
    return run


def test_the_candidate_with_the_highest_validation_bleu_is_written_with_every_score(tmp_path, symbol_tokenizer):
    run = make_run(tmp_path / "run", symbol_tokenizer)
    src, ref = tmp_path / "val.src", tmp_path / "val.ref"
    sources = symbol_sentences(12, seed=4)
    src.write_text("".join(s + "\n" for s in sources))
    # References that the seed-2 model (the average of the last 3) matches exactly.
    references = Translator.from_pretrained(run / "snapshots" / "step-00000040").translate(sources, beam_size=2)
    ref.write_text("".join(r + "\n" for r in references))

    scores = select(run, [NamedSet("valid", src, ref)], tmp_path / "chosen", lasts=(3, 4, 5), beam_size=2)

    assert list(scores) == ["best/", "average of the last 3 snapshots (step-00000020..step-00000040)",
                            "average of the last 4 snapshots (step-00000010..step-00000040)"]  # 5: too few
    assert scores["average of the last 3 snapshots (step-00000020..step-00000040)"] == 100.0
    assert scores["best/"] < 100.0
    chosen = load_checkpoint(tmp_path / "chosen")
    assert chosen.metadata["selection"].startswith("average of the last 3 snapshots")
    assert f"best/ {scores['best/']:.2f}" in chosen.metadata["selection"]
    assert Translator.from_pretrained(tmp_path / "chosen").translate(sources, beam_size=2) == references
    assert sorted(path.name for path in run.iterdir()) == ["best", "snapshots"]  # no averages left behind


def test_a_directory_that_is_not_a_run_is_a_one_line_error(tmp_path, capsys):
    src = tmp_path / "val.src"
    src.write_text("a\n")
    assert select_main([str(tmp_path), "--src", str(src), "--ref", str(src), "--output", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"translator-select: error: {tmp_path} has no best/ checkpoint: " \
        "is it a training run's output_dir?"


AVERAGE_OF_3 = "average of the last 3 snapshots (step-00000020..step-00000040)"


@pytest.fixture
def run_and_two_sets(tmp_path, symbol_tokenizer):
    """A run and two validation sets: 'recent' is translated exactly by the last snapshots' model
    (so by the average of the last 3), 'early' exactly by best/."""
    run = make_run(tmp_path / "run", symbol_tokenizer, best_seed=4)  # seed 1 writes one-word output: BLEU 0
    sets = {}
    for name, model, seed in (("recent", run / "snapshots" / "step-00000040", 5), ("early", run / "best", 6)):
        sources = symbol_sentences(10, seed=seed)
        sets[name] = write_set(tmp_path / name / "val", sources,
                               Translator.from_pretrained(model).translate(sources, beam_size=2))
    return run, sets


@pytest.mark.parametrize("weights, winner", [({"recent": 3, "early": 1}, AVERAGE_OF_3),
                                             ({"recent": 1, "early": 3}, "best/")])
def test_several_validation_sets_choose_by_their_weighted_mean_bleu_and_every_score_is_recorded(
        tmp_path, run_and_two_sets, weights, winner, capsys):
    run, sets = run_and_two_sets
    output = tmp_path / "chosen"
    assert select_main([str(run), "--set", "recent", str(tmp_path / "recent" / "val"),  # PREFIX: val.xx, val.yy
                        "--set", "early", str(sets["early"][0]), str(sets["early"][1]),
                        "--weight", f"recent={weights['recent']}", "--weight", f"early={weights['early']}",
                        "--last", "3", "--beam-size", "2", "--output", str(output)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"chose {winner}; written to {output}"

    metadata = load_checkpoint(output).metadata
    recorded = metadata["selection_scores"]
    assert recorded["chosen"] == winner and recorded["beam_size"] == 2
    assert recorded["rule"] == f"weighted mean BLEU: {weights['recent'] / 4:g} x recent + {weights['early'] / 4:g} x early"
    assert recorded["sets"]["recent"] == {"src": str(sets["recent"][0]), "ref": str(sets["recent"][1]),
                                          "weight": weights["recent"]}
    candidates = recorded["candidates"]
    assert list(candidates) == ["best/", AVERAGE_OF_3]
    assert candidates["best/"]["sets"]["early"]["bleu"] == 100.0
    assert candidates[AVERAGE_OF_3]["sets"]["recent"]["bleu"] == 100.0
    for candidate in candidates.values():
        assert set(candidate["sets"]["recent"]) == {"bleu", "chrf"}
        bleu = {name: one["bleu"] for name, one in candidate["sets"].items()}
        assert candidate["score"] == round((weights["recent"] * bleu["recent"] + weights["early"] * bleu["early"]) / 4, 2)
    assert metadata["selection"].startswith(f"{winner} of the run {run}, chosen by beam-2 {recorded['rule']} "
                                            "on the validation sets (translator-select): best/ ")


def test_without_sets_a_run_is_chosen_on_its_own_validation_sets_and_weights(tmp_path, run_and_two_sets):
    run, sets = run_and_two_sets
    write_config(run / "config.yaml", [("recent", *sets["recent"], 0.0), ("early", *sets["early"], 1.0)])
    assert select_main([str(run), "--last", "3", "--beam-size", "2", "--output", str(tmp_path / "chosen")]) == 0
    recorded = load_checkpoint(tmp_path / "chosen").metadata["selection_scores"]
    assert {name: one["weight"] for name, one in recorded["sets"].items()} == {"recent": 0.0, "early": 1.0}
    assert recorded["chosen"] == "best/"  # recent is scored and recorded, but weighs nothing
    assert recorded["candidates"][AVERAGE_OF_3]["sets"]["recent"]["bleu"] == 100.0
