"""The prepared-data cache: same pairs as tokenizing in memory, reused when nothing changed,
rebuilt when something did, never trusted when damaged or half-written."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import training.data.cache as cache_module
from tests.training.conftest import tiny_overrides
from training.data.batching import TokenPairs
from training.data.cache import CacheSettings, build_cache, cache_directory, cache_key, read_meta
from training.cli import train_main
from training.config import load_config
from training.data.clean import clean_pairs, filter_by_length, read_parallel
from training.loop.trainer import train
from translator.text.tokenizer import train_tokenizer


def settings_for(corpus, tokenizer, max_length=100, workers=2):
    return CacheSettings(corpus["train_src"], corpus["train_tgt"], tokenizer.model_proto, tokenizer.model_proto,
                         max_length, 3.0, workers)


@pytest.fixture
def corpus_tokenizer(corpus):
    src, tgt = read_parallel(corpus["train_src"], corpus["train_tgt"])
    return train_tokenizer(src + tgt, 40, "bpe")


def test_cache_holds_exactly_the_pairs_that_in_memory_tokenization_keeps(corpus, corpus_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "CHUNK_PAIRS", 70)  # many chunks, finishing out of order
    with open(corpus["train_src"], "a") as src, open(corpus["train_tgt"], "a") as tgt:
        src.write("   \n" + "a " * 30 + "\n")  # one empty pair, one too long for max_length 20
        tgt.write("b\n" + "b a\n")
    settings = settings_for(corpus, corpus_tokenizer, max_length=20)
    directory = cache_directory(tmp_path / "c", cache_key(settings))
    meta = build_cache(settings, directory, progress=False)
    src, tgt = read_parallel(corpus["train_src"], corpus["train_tgt"])
    src, tgt, report = clean_pairs(src, tgt)
    src_ids, tgt_ids = filter_by_length(corpus_tokenizer.encode(src), corpus_tokenizer.encode(tgt), 20, 3.0, report)
    pairs = TokenPairs(directory, read_meta(directory, cache_key(settings)))
    assert len(pairs) == len(src_ids) == meta["pairs"]
    for i in range(len(pairs)):
        src_row = pairs.src_ids[pairs.src_offsets[i] : pairs.src_offsets[i + 1]].tolist()
        tgt_row = pairs.tgt_ids[pairs.tgt_offsets[i] : pairs.tgt_offsets[i + 1]].tolist()
        assert (src_row, tgt_row) == (src_ids[i], tgt_ids[i]), i
    assert meta["report"] == {"total": report.total, "kept": report.kept, "dropped": dict(report.dropped)}
    assert meta["report"]["dropped"] == {"empty": 1, "too long": 1}


def test_a_failed_build_leaves_nothing_a_later_run_would_trust(corpus, corpus_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "CHUNK_PAIRS", 100)
    calls = []

    def full_disk(*args):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(*args)

    original = cache_module._append
    monkeypatch.setattr(cache_module, "_append", full_disk)
    settings = settings_for(corpus, corpus_tokenizer)
    directory = cache_directory(tmp_path / "c", cache_key(settings))
    with pytest.raises(OSError, match="No space left"):
        build_cache(settings, directory, progress=False)
    assert list((tmp_path / "c").iterdir()) == []


def test_a_build_killed_mid_write_is_cleaned_up_by_the_next_one(corpus, corpus_tokenizer, tmp_path):
    settings = settings_for(corpus, corpus_tokenizer)
    directory = cache_directory(tmp_path / "c", cache_key(settings))
    (tmp_path / "c").mkdir()
    abandoned = tmp_path / "c" / f".building-{directory.name}-999999999"  # no such process
    abandoned.mkdir()
    (abandoned / "src.ids").write_bytes(b"\0" * 10)
    build_cache(settings, directory, progress=False)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [directory.name]


def test_invalid_utf8_deep_in_the_corpus_names_file_and_line(corpus, corpus_tokenizer, tmp_path):
    lines = corpus["train_src"].read_bytes().split(b"\n")
    lines[432] = b"kaputt \xff"
    corpus["train_src"].write_bytes(b"\n".join(lines))
    settings = settings_for(corpus, corpus_tokenizer)
    with pytest.raises(ValueError, match=r"train\.src, line 433: not valid UTF-8"):
        build_cache(settings, cache_directory(tmp_path / "c", cache_key(settings)), progress=False)
    assert not any((tmp_path / "c").iterdir())


def run(corpus, output_dir, resume=False, cache_dir=None, **options):
    overrides = tiny_overrides(corpus, output_dir, attention_plots="0", **options)
    if cache_dir:
        overrides["data.cache_dir"] = cache_dir
    return train(load_config(None, overrides), resume=resume)


def prepare_record(run_dir):
    """The record of the run's only corpus in its prepare.json."""
    (record,) = json.loads((run_dir / "prepare.json").read_text())["corpora"]
    return record


def test_resume_and_new_runs_on_the_same_data_reuse_the_cache(corpus, tmp_path):
    shared = tmp_path / "shared-cache"
    run(corpus, tmp_path / "a", max_steps="5", cache_dir=str(shared))
    first = prepare_record(tmp_path / "a")
    assert not first["reused"] and first["pairs_kept"] == 600
    run(corpus, tmp_path / "a", resume=True, max_steps="10", cache_dir=str(shared))
    run(corpus, tmp_path / "b", max_steps="5", cache_dir=str(shared))
    for name in ("a", "b"):
        assert prepare_record(tmp_path / name)["reused"]
        assert prepare_record(tmp_path / name)["cache"] == first["cache"]
    assert len(list(shared.glob("pairs-*"))) == 1


def test_changed_training_data_is_prepared_again_and_the_stale_cache_removed(corpus, tmp_path):
    run(corpus, tmp_path / "run", max_steps="5")
    before = prepare_record(tmp_path / "run")["cache"]
    with open(corpus["train_src"], "a") as src, open(corpus["train_tgt"], "a") as tgt:
        src.write("a b c\n")
        tgt.write("c b a\n")
    run(corpus, tmp_path / "run", resume=True, max_steps="10")
    after = prepare_record(tmp_path / "run")
    assert not after["reused"] and after["cache"] != before and after["pairs_kept"] == 601
    assert [p.name for p in (tmp_path / "run" / "cache").glob("pairs-*")] == [after["cache"].rsplit("/", 1)[-1]]


def test_a_restored_or_touched_corpus_keeps_its_cache_but_changed_bytes_of_the_same_size_do_not(corpus, tmp_path):
    run(corpus, tmp_path / "run", max_steps="5")
    before = prepare_record(tmp_path / "run")["cache"]
    for side in ("train_src", "train_tgt"):  # restored from a backup: new inode, other mtime, same bytes
        content = corpus[side].read_bytes()
        corpus[side].unlink()
        corpus[side].write_bytes(content)
        os.utime(corpus[side], ns=(10**18, 10**18))
    run(corpus, tmp_path / "run", resume=True, max_steps="10")
    assert prepare_record(tmp_path / "run")["reused"]
    assert prepare_record(tmp_path / "run")["cache"] == before
    content = corpus["train_src"].read_bytes()
    corpus["train_src"].write_bytes(content.replace(b"a", b"e", 1))
    run(corpus, tmp_path / "run", resume=True, max_steps="15")
    after = prepare_record(tmp_path / "run")
    assert not after["reused"] and after["cache"] != before


def test_runs_with_other_settings_sharing_a_cache_dir_keep_each_others_caches(corpus, tmp_path):
    shared = str(tmp_path / "shared-cache")
    run(corpus, tmp_path / "small", max_steps="5", cache_dir=shared)
    other = tiny_overrides(corpus, tmp_path / "other", attention_plots="0", max_steps="5")
    train(load_config(None, {**other, "data.max_length": "60", "data.cache_dir": shared}))
    assert not prepare_record(tmp_path / "other")["reused"]
    run(corpus, tmp_path / "small", resume=True, max_steps="10", cache_dir=shared)
    assert prepare_record(tmp_path / "small")["reused"]
    assert len(list((tmp_path / "shared-cache").glob("pairs-*"))) == 2


def test_a_damaged_cache_is_refused_naming_the_file(corpus, tmp_path, capsys):
    run(corpus, tmp_path / "run", max_steps="5")
    directory = tmp_path / "run" / "cache"
    (ids,) = directory.glob("pairs-*/tgt.ids")
    ids.write_bytes(ids.read_bytes()[:-6])
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "run", max_steps="10").items()]
    assert train_main(flags + ["--resume"]) == 2
    error = capsys.readouterr().err
    assert f"{ids}:" in error and "damaged" in error and "delete" in error
    (meta,) = directory.glob("pairs-*/meta.json")
    meta.write_text("{not json")
    assert train_main(flags + ["--resume"]) == 2
    assert f"{meta}: unreadable data cache" in capsys.readouterr().err


def test_the_cleaning_report_is_printed_and_recorded(corpus, tmp_path, capsys):
    with open(corpus["train_src"], "a") as src, open(corpus["train_tgt"], "a") as tgt:
        src.write("\n")
        tgt.write("x\n")
    run(corpus, tmp_path / "run", max_steps="2")
    printed = capsys.readouterr()
    assert "data: kept 600 of 601 pairs; dropped 1 empty" in printed.out
    assert prepare_record(tmp_path / "run")["report"] == {"total": 601, "kept": 600, "dropped": {"empty": 1}}
    assert "preparing: 100%" in printed.err and "601/601" in printed.err  # the bar knows its total


def test_a_resumed_run_on_changed_files_shows_the_preparation_total(corpus, tmp_path, capsys):
    run(corpus, tmp_path / "run", max_steps="2")
    with open(corpus["train_src"], "a") as src, open(corpus["train_tgt"], "a") as tgt:
        src.write("a b c\n")
        tgt.write("c b a\n")
    capsys.readouterr()
    run(corpus, tmp_path / "run", resume=True, max_steps="4")
    assert "601/601" in capsys.readouterr().err


def test_misaligned_training_files_are_refused_before_tokenizer_training(corpus, tmp_path, capsys):
    corpus["train_tgt"].write_text("a\n" * 599)
    flags = [f"--{k}={v}" for k, v in tiny_overrides(corpus, tmp_path / "run").items()]
    assert train_main(flags) == 2
    assert "train.src has 600 lines but" in capsys.readouterr().err
    assert not (tmp_path / "run" / "source.spm").exists()


def test_offsets_are_cumulative_lengths(corpus, corpus_tokenizer, tmp_path):
    settings = settings_for(corpus, corpus_tokenizer)
    directory = cache_directory(tmp_path / "c", cache_key(settings))
    build_cache(settings, directory, progress=False)
    pairs = TokenPairs(directory, read_meta(directory, cache_key(settings)))
    assert np.array_equal(np.diff(pairs.src_offsets), pairs.src_lengths)
    assert np.array_equal(np.diff(pairs.tgt_offsets), pairs.tgt_lengths)
