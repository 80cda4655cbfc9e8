"""translator-select: best/ or an average of the last snapshots, chosen by measured validation BLEU."""

from __future__ import annotations

from tests.conftest import symbol_sentences, tiny_model
from training.release.select import main as select_main
from training.release.select import select
from translator.store.checkpoint import load_checkpoint, save_checkpoint
from translator.translate import Translator


def test_the_candidate_with_the_highest_validation_bleu_is_written_with_every_score(tmp_path, symbol_tokenizer):
    run = tmp_path / "run"
    languages = {"source_language": "xx", "target_language": "yy"}

    def checkpoint(directory, seed):
        save_checkpoint(directory, tiny_model(symbol_tokenizer.vocab_size, seed=seed), symbol_tokenizer,
                        symbol_tokenizer, languages, half_precision=True)

    checkpoint(run / "best", seed=1)
    checkpoint(run / "snapshots" / "step-00000010", seed=3)
    for step in (20, 30, 40):  # the last three snapshots are one model: their average is that model
        checkpoint(run / "snapshots" / f"step-{step:08d}", seed=2)
    src, ref = tmp_path / "val.src", tmp_path / "val.ref"
    sources = symbol_sentences(12, seed=4)
    src.write_text("".join(s + "\n" for s in sources))
    # References that the seed-2 model (the average of the last 3) matches exactly.
    references = Translator.from_pretrained(run / "snapshots" / "step-00000040").translate(sources, beam_size=2)
    ref.write_text("".join(r + "\n" for r in references))

    scores = select(run, src, ref, tmp_path / "chosen", lasts=(3, 4, 5), beam_size=2)

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
