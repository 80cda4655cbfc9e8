"""The Translator: input order, empty inputs, options, dtype and quantization, and its CLI."""

from __future__ import annotations

import io

import pytest
import torch

from tests.conftest import symbol_sentences
from translator.cli import main as translate_main
from translator.translate import Translator, _length_sorted_batches


@pytest.fixture(scope="module")
def translator(tiny_model_dir):
    return Translator.from_pretrained(tiny_model_dir, device="auto")


def test_results_come_back_in_input_order_whatever_the_batching(translator):
    texts = symbol_sentences(30, seed=5, max_len=12)
    one_by_one = [translator.translate([t], beam_size=3)[0] for t in texts]
    assert translator.translate(texts, beam_size=3, max_batch_sentences=7) == one_by_one
    assert translator.translate(texts, beam_size=3, max_batch_tokens=20) == one_by_one


def test_batches_hold_similar_lengths_within_both_budgets():
    source_ids = [[1] * n for n in [5, 1, 9, 3, 7, 2, 8]]
    batches = _length_sorted_batches(list(range(7)), source_ids, max_sentences=3, max_tokens=20)
    assert sorted(i for b in batches for i in b) == list(range(7))
    for batch in batches:
        assert len(batch) <= 3
        assert max(len(source_ids[i]) + 1 for i in batch) * len(batch) <= 20 or len(batch) == 1
    assert batches[0] == [2, 6]  # the longest sentences together


def test_empty_and_whitespace_texts_get_empty_translations(translator):
    results = translator.translate_detailed(["", "  \t ", "a b c"], beam_size=2, n_best=2)
    assert [r.text for r in results[:2]] == ["", ""]
    assert results[0].score == 0.0
    assert len(results[2].n_best) == 2


def test_detailed_results_carry_n_best_scores_and_alignment(translator):
    [result] = translator.translate_detailed(["a b c d"], beam_size=4, n_best=3, return_attention=True)
    assert [c.score for c in result.n_best] == sorted((c.score for c in result.n_best), reverse=True)
    assert result.n_best[0].text == result.text and result.n_best[0].score == result.score
    alignment = result.alignment
    assert alignment.source_pieces[-1] == "</s>"
    assert len(alignment.weights) == len(alignment.target_pieces)
    assert all(len(row) == len(alignment.source_pieces) for row in alignment.weights)
    assert all(abs(sum(row) - 1) < 1e-4 for row in alignment.weights)


def test_a_single_string_is_rejected(translator):
    with pytest.raises(TypeError, match="list of strings"):
        translator.translate("a b c")


def test_bad_search_options_raise_value_errors(translator):
    with pytest.raises(ValueError, match="n_best"):
        translator.translate(["a"], beam_size=2, n_best=5)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_dtype_runs_the_same_search(tiny_model_dir, dtype):
    low = Translator.from_pretrained(tiny_model_dir, device="cpu", dtype=dtype)
    assert next(low.model.parameters()).dtype == getattr(torch, dtype)
    results = low.translate_detailed(symbol_sentences(5, seed=1), beam_size=3)
    assert all(isinstance(r.text, str) and r.score <= 0 for r in results)


def test_int8_quantization_keeps_the_translations_of_the_float_model(tiny_model_dir, translator):
    quantized = Translator.from_pretrained(tiny_model_dir, device="cpu", quantize=True)
    texts = symbol_sentences(20, seed=8)
    agreement = sum(a == b for a, b in zip(quantized.translate(texts, beam_size=1), translator.translate(texts, beam_size=1)))
    assert agreement >= 15


def test_cli_translates_a_file_line_by_line(tiny_model_dir, translator, tmp_path, capsys):
    source = tmp_path / "input.txt"
    texts = ["a b c", "", "h g f e"]
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert translate_main([str(tiny_model_dir), "--input", str(source), "--beam-size", "2", "--no-progress"]) == 0
    assert capsys.readouterr().out.split("\n")[:-1] == translator.translate(texts, beam_size=2)


def test_cli_reads_stdin_and_writes_n_best_with_scores(tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"a b\nc d\n")))
    assert translate_main([str(tiny_model_dir), "--beam-size", "3", "--n-best", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(len(line.split("\t")) == 4 for line in lines)


def test_cli_reports_a_missing_model_directory(tmp_path, capsys):
    assert translate_main([str(tmp_path / "absent"), "--input", "/dev/null"]) == 2
    assert "absent does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name, message", [("absent.txt", "absent.txt does not exist"),
                                           ("file.txt/inner.txt", "cannot read"),
                                           (".", "is a directory, expected a text file")])
def test_cli_reports_an_input_it_cannot_read(tiny_model_dir, tmp_path, capsys, name, message):
    (tmp_path / "file.txt").write_text("a b\n")
    assert translate_main([str(tiny_model_dir), "--input", str(tmp_path / name)]) == 2
    assert message in capsys.readouterr().err


def test_cli_reports_a_broken_model_directory(tmp_path, capsys):
    (tmp_path / "broken").mkdir()
    assert translate_main([str(tmp_path / "broken"), "--input", "/dev/null"]) == 2
    assert "config.json is missing" in capsys.readouterr().err


def test_cli_names_the_line_of_invalid_utf8(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "bad.txt"
    source.write_bytes(b"a b\nc \xff d\n")
    assert translate_main([str(tiny_model_dir), "--input", str(source)]) == 2
    assert "line 2" in capsys.readouterr().err
