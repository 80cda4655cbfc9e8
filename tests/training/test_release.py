"""translator-release: ships verified files with a new manifest, swaps atomically, cleans up after a killed run."""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from service.scheduling.registry import model_directories
from service.settings import ServiceSettings
from tests.conftest import symbol_sentences
from tests.training.conftest import write_config, write_set
from training.cli import evaluate_main
from training.release import ship as release_module
from training.release.named_sets import NamedSet
from training.release.ship import main as release_main
from training.release.ship import release
from translator.store.checkpoint import CheckpointError, load_checkpoint, write_manifest


@pytest.fixture
def test_set(tmp_path):
    sentences = symbol_sentences(6, seed=3)
    src, ref = tmp_path / "test.src", tmp_path / "test.ref"
    src.write_text("".join(s + "\n" for s in sentences))
    ref.write_text("".join(" ".join(reversed(s.split())) + "\n" for s in sentences))
    return src, ref


@pytest.fixture
def run_checkpoint(tmp_path, tiny_model_dir):
    """A run's checkpoint: optimiser state and a data file added later (e.g. casing), under its manifest."""
    directory = tmp_path / "run" / "best"
    shutil.copytree(tiny_model_dir, directory)
    (directory / "training_state.pt").write_bytes(b"optimiser state")
    (directory / "casing.tsv").write_text("ein\tEin\n")
    write_manifest(directory)
    return directory


def ship(checkpoint, destination, test_set):
    return release(checkpoint, destination, [NamedSet("tiny", *test_set)], beam_sizes=(1,))["tiny"]


def test_release_ships_every_verified_file_but_the_optimiser_state_under_a_new_manifest(
        tmp_path, run_checkpoint, test_set):
    destination = tmp_path / "models" / "xx-yy"
    scores = ship(run_checkpoint, destination, test_set)
    manifest = json.loads((destination / "manifest.json").read_text())
    assert set(manifest["files"]) == {"casing.tsv", "config.json", "metadata.json", "model.safetensors",
                                      "source.spm", "target.spm"}
    shipped = load_checkpoint(destination)
    assert shipped.metadata["test"]["tiny"]["greedy"]["bleu"] == scores["greedy"]["bleu"]
    assert shipped.version != load_checkpoint(run_checkpoint).version  # metadata.json gained the scores
    assert sorted(p.name for p in destination.parent.iterdir()) == ["xx-yy"]


def test_release_over_a_shipped_model_swaps_it_and_removes_a_killed_releases_leftovers(
        tmp_path, run_checkpoint, test_set):
    destination = tmp_path / "models" / "xx-yy"
    ship(run_checkpoint, destination, test_set)
    leftover = destination.parent / ".xx-yy.staging-k2j4x9"
    shutil.copytree(run_checkpoint, leftover)  # a release killed mid-copy
    (leftover / "model.safetensors").write_bytes(b"half")
    assert model_directories(ServiceSettings(_env_file=None, models_root=destination.parent)) == [destination]
    ship(run_checkpoint, destination, test_set)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["xx-yy"]
    load_checkpoint(destination)


def test_a_release_that_fails_midway_leaves_the_shipped_model_as_it_was(
        tmp_path, run_checkpoint, test_set, monkeypatch):
    destination = tmp_path / "models" / "xx-yy"
    ship(run_checkpoint, destination, test_set)
    before = {p.name: p.read_bytes() for p in destination.iterdir()}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if interrupted while scoring

    monkeypatch.setattr(release_module, "evaluate", killed)
    with pytest.raises(KeyboardInterrupt):
        ship(run_checkpoint, destination, test_set)
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == before
    assert sorted(p.name for p in destination.parent.iterdir()) == ["xx-yy"]


def test_release_refuses_a_tampered_checkpoint_naming_the_file(tmp_path, run_checkpoint, test_set, capsys):
    (run_checkpoint / "target.spm").write_bytes((run_checkpoint / "target.spm").read_bytes() + b"\0")
    destination = tmp_path / "models" / "xx-yy"
    assert release_main([str(run_checkpoint), str(destination), "--test-name", "tiny", "--src", str(test_set[0]),
                         "--ref", str(test_set[1]), "--beam-sizes", "1"]) == 2
    error = capsys.readouterr().err
    assert "target.spm does not match its sha256" in error and error.count("\n") == 1
    assert not destination.exists()
    with pytest.raises(CheckpointError):
        load_checkpoint(run_checkpoint)


def test_a_killed_release_process_leaves_the_shipped_model_and_the_next_release_cleans_up(
        tmp_path, run_checkpoint, test_set):
    destination = tmp_path / "models" / "xx-yy"
    ship(run_checkpoint, destination, test_set)
    before = {p.name: p.read_bytes() for p in destination.iterdir()}
    long_src, long_ref = tmp_path / "long.src", tmp_path / "long.ref"  # scoring takes a while: time to kill
    long_src.write_text(test_set[0].read_text() * 200)
    long_ref.write_text(test_set[1].read_text() * 200)
    process = subprocess.Popen([sys.executable, "-m", "training.release.ship", str(run_checkpoint), str(destination),
                                "--test-name", "tiny", "--src", str(long_src), "--ref", str(long_ref),
                                "--beam-sizes", "1", "2", "3", "4", "5"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any((p / "manifest.json").exists() for p in destination.parent.glob(".xx-yy.staging-*")):
                break  # staged and being scored
            time.sleep(0.05)
        assert process.poll() is None, "the release finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert [p.name for p in destination.parent.glob(".xx-yy.staging-*")]  # killed mid-release
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == before
    assert model_directories(ServiceSettings(_env_file=None, models_root=destination.parent)) == [destination]
    ship(run_checkpoint, destination, test_set)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["xx-yy"]


def test_release_states_the_domain_with_measured_out_of_domain_examples_and_adds_a_casing_table(
        tmp_path, run_checkpoint, test_set, capsys):
    training_sources = tmp_path / "train.src"
    training_sources.write_text("x a b\nx h g\n")
    destination = tmp_path / "models" / "xx-yy"
    assert release_main([str(run_checkpoint), str(destination), "--test-name", "t", "--src", str(test_set[0]),
                         "--ref", str(test_set[1]), "--beam-sizes", "1", "--domain", "symbol strings",
                         "--out-of-domain", "a b c d e f g h", "--out-of-domain", "h h h",
                         "--casing-from", str(training_sources)]) == 0
    checkpoint = load_checkpoint(destination)  # casing.json is under the new manifest
    assert checkpoint.case_restorer is not None
    domain = checkpoint.metadata["domain"]
    assert domain["description"] == "symbol strings"
    from translator.translate import Translator
    expected = Translator.from_pretrained(destination, device="cpu").translate(["a b c d e f g h", "h h h"], beam_size=5)
    assert domain["out_of_domain_examples"] == [
        {"source": "a b c d e f g h", "translation": expected[0]}, {"source": "h h h", "translation": expected[1]},
    ]


def test_release_adds_the_names_of_a_configs_targets_to_the_casing_table(tmp_path, run_checkpoint, test_set, capsys):
    # The targets write "Zürich" and "Ann" as often as the sources: names; "Sieg" ten times less often: a noun.
    sources, targets = tmp_path / "train.de", tmp_path / "train.en"
    sources.write_text("er wohnt in Zürich\nwir trafen Ann\nein Sieg\n" + "der Sieg\n" * 10)
    targets.write_text("he lives in Zürich\nwe met Ann today\nthe Sieg river\n" + "a victory\n" * 10)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"data": {"src_lang": "de", "tgt_lang": "en", "corpora": [
        {"name": "one", "src": str(sources), "tgt": str(targets)}], "valid_src": str(sources), "valid_tgt": str(targets)}}))
    destination = tmp_path / "models" / "xx-yy"
    scored = ["--test-name", "t", "--src", str(test_set[0]), "--ref", str(test_set[1]), "--beam-sizes", "1"]
    adding = [str(run_checkpoint), str(destination), *scored, "--target-casing-from", str(config)]
    assert release_main(adding) == 2  # the tiny checkpoint has no casing table to add to
    assert "has none: give --casing-from too" in capsys.readouterr().err
    assert not destination.exists()
    assert release_main(adding[:-1] + [str(tmp_path / "nowhere"), "--casing-from", str(sources)]) == 2
    assert "--target-casing-from" in capsys.readouterr().err and not destination.exists()
    assert release_main(adding + ["--casing-from", str(sources)]) == 0
    restorer = load_checkpoint(destination).case_restorer
    assert restorer.target_capitalised == {"Zürich", "Ann"} and restorer.lower["sieg"] == "Sieg"
    again = tmp_path / "models" / "xx-yy-again"
    targets.write_text("they flew to Oslo\n")
    assert release_main([str(destination), str(again), *scored, "--target-casing-from", str(config)]) == 0
    # the checkpoint's own table, with the new list
    assert load_checkpoint(again).case_restorer == dataclasses.replace(restorer, target_capitalised={"Oslo"})


def test_release_records_the_beam_size_a_model_is_meant_for(tmp_path, run_checkpoint, test_set, capsys):
    destination = tmp_path / "models" / "xx-yy-fast"
    common = [str(run_checkpoint), str(destination), "--test-name", "t", "--src", str(test_set[0]),
              "--ref", str(test_set[1]), "--beam-sizes", "1"]
    assert release_main(common + ["--default-beam-size", "0"]) == 2
    assert "--default-beam-size: beam_size must be >= 1, got 0" in capsys.readouterr().err
    assert not destination.exists()
    assert release_main(common[:-1] + ["0"]) == 2  # --beam-sizes 0: refused before anything is copied
    assert "--beam-sizes/--length-penalty: beam_size must be >= 1, got 0" in capsys.readouterr().err
    assert not destination.exists()
    assert release_main(common + ["--default-beam-size", "1", "--out-of-domain", "a b c d e f g h"]) == 0
    from translator.translate import Translator
    translator = Translator.from_pretrained(destination, device="cpu")
    assert translator.metadata["default_search"] == {"beam_size": 1}
    assert translator.default_search.beam_size == 1
    example = translator.metadata["domain"]["out_of_domain_examples"][0]
    assert example["translation"] == translator.translate(["a b c d e f g h"], beam_size=1)[0]


def test_release_records_every_named_sets_scores_with_the_command_that_reproduces_each(
        tmp_path, run_checkpoint, test_set, capsys):
    sentences = symbol_sentences(4, seed=7)
    write_set(tmp_path / "other" / "set", sentences, sentences)  # set.xx, set.yy: the model's languages
    config_set = write_set(tmp_path / "config-set", sentences[:3], sentences[:3])
    config = write_config(tmp_path / "config.yaml", [("from-config", *config_set, 1.0)])
    destination = tmp_path / "models" / "xx-yy"
    assert release_main([str(run_checkpoint), str(destination), "--test-name", "tiny", "--src", str(test_set[0]),
                         "--ref", str(test_set[1]), "--set", "other", str(tmp_path / "other" / "set"),
                         "--sets-from", str(config), "--beam-sizes", "1", "2",
                         "--out-of-domain", "h h h"]) == 0
    printed = capsys.readouterr().out

    metadata = load_checkpoint(destination).metadata
    assert list(metadata["test"]) == ["tiny", "from-config", "other"]
    assert metadata["domain"]["out_of_domain_examples"][0]["source"] == "h h h"
    for name, sentence_count in (("tiny", 6), ("from-config", 3), ("other", 4)):
        assert list(metadata["test"][name]) == ["greedy", "beam2"]
        for search, score in metadata["test"][name].items():
            assert score["sentences"] == sentence_count
            assert f"{name:<11}  {search:<7} BLEU {score['bleu']:6.2f}  chrF {score['chrf']:6.2f}" in printed
            assert evaluate_main(score["command"].split()[1:]) == 0  # the recorded command gives the same score
            assert capsys.readouterr().out.splitlines()[-1] == f"BLEU {score['bleu']:.2f}  chrF {score['chrf']:.2f}"
    assert metadata["test"]["other"]["greedy"]["command"].startswith(
        f"translator-evaluate {destination} --src {tmp_path / 'other' / 'set.xx'} --ref {tmp_path / 'other' / 'set.yy'} "
        "--beam-size 1")

    re_released = tmp_path / "models" / "xx-yy-again"  # released from the shipped model, with one more set
    assert release_main([str(destination), str(re_released), "--set", "more", str(tmp_path / "other" / "set"),
                         "--beam-sizes", "1"]) == 0
    again = load_checkpoint(re_released).metadata["test"]
    assert list(again) == ["tiny", "from-config", "other", "more"]
    assert again["tiny"] == metadata["test"]["tiny"]


def test_release_refuses_an_incomplete_single_set_before_copying_anything(tmp_path, run_checkpoint, test_set, capsys):
    destination = tmp_path / "models" / "xx-yy"
    assert release_main([str(run_checkpoint), str(destination), "--src", str(test_set[0]),
                         "--ref", str(test_set[1])]) == 2
    assert capsys.readouterr().err == \
        "translator-release: error: a single test set needs all of --test-name, --src and --ref\n"
    assert not destination.parent.exists()
