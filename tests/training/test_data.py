"""Reading, cleaning, filtering and batching parallel text."""

from __future__ import annotations

import pytest

from training.data.batching import make_batch, token_batches
from training.data.clean import clean_pairs, filter_by_length, read_parallel
from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID


def test_unequal_line_counts_are_reported_with_both_files(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\n")
    (tmp_path / "a.en").write_text("one\n")
    with pytest.raises(ValueError, match=r"a\.de has 2 lines but .*a\.en has 1"):
        read_parallel(tmp_path / "a.de", tmp_path / "a.en")


def test_invalid_utf8_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "a.de").write_bytes(b"gut\nschlecht \xe4\n")
    (tmp_path / "a.en").write_text("good\nbad\n")
    with pytest.raises(ValueError, match=r"a\.de, line 2: not valid UTF-8"):
        read_parallel(tmp_path / "a.de", tmp_path / "a.en")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="nope.de does not exist"):
        read_parallel(tmp_path / "nope.de", tmp_path / "nope.en")


def test_cleaning_drops_empty_sides_and_normalises_whitespace():
    src = ["ein  Hund ", "", "Katze", "   "]
    tgt = ["a dog", "nothing", "", "x"]
    kept_src, kept_tgt, report = clean_pairs(src, tgt)
    assert (kept_src, kept_tgt) == (["ein Hund"], ["a dog"])
    assert report.total == 4 and report.kept == 1 and report.dropped["empty"] == 3
    assert "dropped 3 empty" in report.summary()


def test_length_filter_drops_long_and_unbalanced_pairs_and_counts_why():
    src = [[5] * 3, [5] * 50, [5] * 2, [5] * 4]
    tgt = [[6] * 4, [6] * 5, [6] * 9, [6] * 4]
    _, _, report = clean_pairs(["x"] * 4, ["y"] * 4)
    kept_src, kept_tgt = filter_by_length(src, tgt, max_length=20, max_ratio=3.0, report=report)
    assert kept_src == [[5] * 3, [5] * 4]
    assert report.dropped["too long"] == 1 and report.dropped["length ratio"] == 1 and report.kept == 2


def test_batches_cover_every_pair_once_within_the_token_budget():
    lengths = [3, 17, 5, 9, 2, 12, 7, 7, 30, 4] * 5
    src = [[7] * n for n in lengths]
    tgt = [[8] * (n + 1) for n in lengths]
    batches = token_batches(src, tgt, batch_tokens=64, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(len(src)))
    for batch in batches:
        longest = max(max(len(src[i]), len(tgt[i])) + 1 for i in batch)
        assert longest * len(batch) <= 64 or len(batch) == 1
        # bucketing: lengths in one batch are close
        assert max(len(tgt[i]) for i in batch) - min(len(tgt[i]) for i in batch) <= 5
    assert token_batches(src, tgt, 64, seed=3) == batches  # one seed, one order
    assert token_batches(src, tgt, 64, seed=4) != batches


def test_make_batch_shifts_targets_and_pads():
    batch = make_batch([[5, 6], [7]], [[8, 9, 10], [11]])
    assert batch.src.tolist() == [[5, 6, EOS_ID], [7, EOS_ID, PAD_ID]]
    assert batch.src_lengths.tolist() == [3, 2]
    assert batch.tgt_in.tolist() == [[BOS_ID, 8, 9, 10], [BOS_ID, 11, PAD_ID, PAD_ID]]
    assert batch.tgt_out.tolist() == [[8, 9, 10, EOS_ID], [11, EOS_ID, PAD_ID, PAD_ID]]
    assert batch.target_tokens == 6
