"""Streaming over a corpus: line counts, aligned chunks and the bounded sentencepiece sample."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from training.data.corpus import check_aligned, count_lines, decode_lines, line_chunks, sample_pairs
from training.data.clean import read_lines
from translator.text.lines import split_lines


def write_pairs(tmp_path, count, trailing_newline=True):
    src, tgt = tmp_path / "c.src", tmp_path / "c.tgt"
    end = "\n" if trailing_newline else ""
    src.write_text("\n".join(f"s {i}" for i in range(count)) + end)
    tgt.write_text("\n".join(f"t {i}" for i in range(count)) + end)
    return src, tgt


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_line_counts_and_chunks_agree_with_reading_the_whole_file(tmp_path, trailing_newline):
    src, tgt = write_pairs(tmp_path, 1000, trailing_newline)
    assert count_lines(src) == len(read_lines(src)) == check_aligned(src, tgt) == 1000
    chunks = list(line_chunks(src, tgt, 300))
    assert [first for first, _, _ in chunks] == [1, 301, 601, 901]
    assert [line for first, blob, _ in chunks for line in decode_lines(blob, src, first)] == read_lines(src)


def test_chunks_split_lines_exactly_as_the_translator_does(tmp_path):
    text = "a\r\r\nb\u2028c\rd\n\ne\x85f\r\n"
    (tmp_path / "x").write_bytes(text.encode())
    ((_, blob, _),) = list(line_chunks(tmp_path / "x", tmp_path / "x", 100))
    assert decode_lines(blob, tmp_path / "x", 1) == split_lines(text)
    assert count_lines(tmp_path / "x") == len(split_lines(text))


def test_preparation_modules_do_not_import_torch():
    # spawned preparation workers re-import the main module (training/__main__ -> training.cli)
    code = ("import sys, training.cli, training.data.cache, training.data.corpus, training.data.clean; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_misaligned_files_are_reported_with_both_counts(tmp_path):
    src, tgt = write_pairs(tmp_path, 10)
    tgt.write_text(tgt.read_text() + "extra\n")
    with pytest.raises(ValueError, match=r"c\.src has 10 lines but .*c\.tgt has 11"):
        check_aligned(src, tgt)
    with pytest.raises(ValueError, match=r"c\.src has 10 lines but .*c\.tgt has 11"):
        list(line_chunks(src, tgt, 4))


def test_a_corpus_within_the_sample_size_is_the_sample_in_order(tmp_path):
    src, tgt = write_pairs(tmp_path, 50)
    sample_src, sample_tgt = sample_pairs(src, tgt, 50, seed=1)
    assert sample_src == read_lines(src) and sample_tgt == read_lines(tgt)


def test_a_larger_corpus_gives_a_bounded_aligned_uniform_seeded_sample(tmp_path):
    src, tgt = write_pairs(tmp_path, 5000)
    sample_src, sample_tgt = sample_pairs(src, tgt, 200, seed=7)
    assert len(sample_src) == 200 and len(set(sample_src)) == 200
    assert [s.split()[1] for s in sample_src] == [t.split()[1] for t in sample_tgt]
    assert sample_pairs(src, tgt, 200, seed=7) == (sample_src, sample_tgt)
    assert sample_pairs(src, tgt, 200, seed=8)[0] != sample_src
    tenths = Counter()
    for seed in range(100):
        tenths.update(int(s.split()[1]) // 500 for s in sample_pairs(src, tgt, 200, seed=seed)[0])
    assert all(1700 < tenths[t] < 2300 for t in range(10)), tenths  # 2000 expected per tenth
