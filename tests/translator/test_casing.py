"""All-lower-case and ALL-UPPER-CASE input is put back into normal casing before translation."""

from __future__ import annotations

import pytest

from translator.text.casing import CASING_FILE, CaseRestorer, capitalise_like, casing_style
from translator.store.manifest import write_manifest
from translator.translate import Translator

TRAINING = [
    "Ein Mann fährt auf der Straße.",
    "Der Mann isst mit einem Hund.",
    "Zwei Männer essen in New York.",
    "Ein Hund läuft über die Straße.",
    "Essen ist gut.",  # sentence-initial "Essen": the inner "essen" decides
]


@pytest.mark.parametrize("text, style", [
    ("ein mann läuft.", "lower"), ("EIN MANN LÄUFT.", "upper"), ("Ein Mann läuft.", None),
    ("ein Mann", None), ("42 !", None), ("a", None), ("OK", "upper"),
])
def test_casing_style_is_only_set_for_uniformly_cased_text(text, style):
    assert casing_style(text) == style


@pytest.mark.parametrize(("output", "source", "expected"), [
    ("horses are animals.", "Pferde sind Tiere.", "Horses are animals."),
    ("«dogs»", "„Hunde“", "«Dogs»"),                   # quotes before either first letter
    ("¿qué hora es?", "What time is it?", "¿Qué hora es?"),
    ("l'homme dort.", "Der Mann schläft.", "L'homme dort."),
    ("Dogs", "Hunde", "Dogs"),                         # already capitalised
    ("iPhone is new", "IPhone ist neu", "iPhone is new"),  # a mixed-case first word stays
    ("dogs play.", "hunde spielen.", "dogs play."),     # the source starts in lower case
    ("3 dogs", "3 Hunde", "3 dogs"),                   # a digit first: not a sentence's first letter
    ("\ue000 dogs", "\ue000 Hunde", "\ue000 dogs"),    # a placeholder first (a masked number or name)
    ("", "Hunde", ""),
    ("dogs", "", "dogs"),
])
def test_a_capitalised_source_gets_a_capitalised_output(output, source, expected):
    assert capitalise_like(output, source) == expected


def test_lower_and_upper_case_get_the_usual_spellings():
    restorer = CaseRestorer.from_lines(TRAINING)
    assert restorer.restore("zwei männer essen in new york.") == ("Zwei Männer essen in New York.", "lower")
    assert restorer.restore("ZWEI MÄNNER ESSEN IN NEW YORK.") == ("Zwei Männer essen in New York.", "upper")
    # Upper case loses the ß; the upper-case key brings it back.
    assert restorer.restore("EIN HUND LÄUFT ÜBER DIE STRASSE.") == ("Ein Hund läuft über die Straße.", "upper")
    # Unknown words keep their letters (lower-cased), and the sentence starts with a capital.
    assert restorer.restore("KATZEN SCHLAFEN.") == ("Katzen schlafen.", "upper")


def test_normally_cased_text_is_left_alone():
    restorer = CaseRestorer.from_lines(TRAINING)
    for text in ("ein Mann isst.", "Der mann läuft.", "  ", ""):
        assert restorer.restore(text) == (text, None)


def test_only_upper_case_input_gives_upper_case_output():
    assert CaseRestorer.apply_style("A man runs.", "upper") == "A MAN RUNS."
    assert CaseRestorer.apply_style("A man runs.", "lower") == "A man runs."
    assert CaseRestorer.apply_style("A man runs.", None) == "A man runs."


def test_table_round_trips_and_a_broken_file_is_named(tmp_path):
    restorer = CaseRestorer.from_lines(TRAINING)
    restorer.save(tmp_path)
    assert CaseRestorer.load(tmp_path) == restorer
    assert CaseRestorer.load(tmp_path / "nowhere") is None
    (tmp_path / CASING_FILE).write_text('{"format_version": 1, "lower": {"a": 3}, "upper": {}}')
    with pytest.raises(ValueError, match=CASING_FILE):
        CaseRestorer.load(tmp_path)
    (tmp_path / CASING_FILE).write_text("[]")
    with pytest.raises(ValueError, match="not a valid casing table"):
        CaseRestorer.load(tmp_path)


def test_the_table_can_list_the_words_the_target_side_usually_capitalises(tmp_path):
    targets = ["Zürich is big.", "The Man in the moon.", "A man and a man.", "Then he left.", "Then then.",
               "so we met Ann today.", "so he likes ACME."]
    restorer = CaseRestorer.from_lines(TRAINING, targets)
    # Not "Man" or "Then" (usually lower case inside sentences) nor "ACME"; "Zürich" is only ever seen first.
    assert restorer.target_capitalised == {"Zürich", "Ann"}
    # A spelling the sources write ten times as often as the targets is a noun the targets quote, not a name.
    assert "Ann" not in CaseRestorer.from_lines(TRAINING + ["Ann"] * 11, targets).target_capitalised
    assert "Ann" in CaseRestorer.from_lines(TRAINING + ["Ann"] * 10, targets).target_capitalised
    restorer.save(tmp_path)
    assert CaseRestorer.load(tmp_path) == restorer
    without = CaseRestorer.from_lines(TRAINING)
    assert without.target_capitalised == frozenset()
    without.save(tmp_path)
    assert "target_capitalised" not in (tmp_path / CASING_FILE).read_text()  # older tables keep their bytes
    (tmp_path / CASING_FILE).write_text('{"format_version": 1, "lower": {}, "upper": {}, "target_capitalised": "Ann"}')
    with pytest.raises(ValueError, match="target_capitalised must be a list of strings"):
        CaseRestorer.load(tmp_path)


def test_a_broken_casing_table_in_a_checkpoint_is_a_checkpoint_error(tiny_model_dir, tmp_path):
    import shutil

    from translator.store.checkpoint import CheckpointError, load_checkpoint

    directory = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, directory)
    (directory / CASING_FILE).write_text("{}")
    write_manifest(directory)
    with pytest.raises(CheckpointError, match=f"{CASING_FILE} is not a valid casing table"):
        load_checkpoint(directory)


def test_translator_translates_recased_input_like_the_normal_input(tiny_model_dir, tmp_path):
    import shutil

    directory = tmp_path / "cased"
    shutil.copytree(tiny_model_dir, directory)
    CaseRestorer.from_lines(["x a b c", "x h g d"]).save(directory)  # the symbols are lower-case words
    with pytest.raises(ValueError, match="casing.json is not listed"):
        Translator.from_pretrained(directory, device="cpu")  # verified like every other file
    write_manifest(directory)
    translator = Translator.from_pretrained(directory, device="cpu")
    assert translator.case_restorer is not None
    inputs = ["A B C", "H G D"]
    recased = [translator.case_restorer.restore(text)[0] for text in inputs]
    assert recased == ["A b c", "H g d"]
    normal = translator.translate_detailed(recased, beam_size=3, n_best=2)
    shouted = translator.translate_detailed(inputs, beam_size=3, n_best=2)
    for plain, upper in zip(normal, shouted):
        assert upper.text == plain.text.upper() and upper.score == pytest.approx(plain.score)
        assert [c.text for c in upper.n_best] == [c.text.upper() for c in plain.n_best]
    assert any(result.text for result in normal)
    unrestored = translator.translate(["A B C"], beam_size=3, restore_case=False)
    assert unrestored == Translator.from_pretrained(tiny_model_dir, device="cpu").translate(["A B C"], beam_size=3)


def test_cli_restores_case_unless_told_to_keep_it(tiny_model_dir, tmp_path, capsys):
    import shutil

    from translator.cli import main as translate_main

    directory = tmp_path / "cased"
    shutil.copytree(tiny_model_dir, directory)
    CaseRestorer.from_lines(["x a b c", "x h g d"]).save(directory)
    write_manifest(directory)
    source = tmp_path / "input.txt"
    source.write_text("A B C\nH G D\n", encoding="utf-8")
    translator = Translator.from_pretrained(directory, device="cpu")
    for flags, expected in (
        ([], translator.translate(["A B C", "H G D"], beam_size=2)),
        (["--keep-case"], translator.translate(["A B C", "H G D"], beam_size=2, restore_case=False)),
    ):
        assert translate_main([str(directory), "--input", str(source), "--beam-size", "2", "--no-progress", *flags]) == 0
        assert capsys.readouterr().out.split("\n")[:-1] == expected
    assert expected != translator.translate(["A B C", "H G D"], beam_size=2)  # the flag made a difference
