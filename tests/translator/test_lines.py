"""One sentence per line: lines end at \n (or \r\n) only, so output lines match input lines."""

from __future__ import annotations

import subprocess
import sys

import pytest

from training.data.clean import read_parallel
from translator.cli import main as translate_main
from translator.text.lines import read_lines, split_lines

# Three lines; the first holds a lone carriage return, the second U+2028 (LINE SEPARATOR), the
# third U+0085 and a form feed -- each a line break to str.splitlines.
TRICKY = "a b\rc d\r\ne\u2028f g\nh\x85a\x0cb\n"


def test_split_lines_breaks_at_newline_only():
    assert split_lines(TRICKY) == ["a b\rc d", "e\u2028f g", "h\x85a\x0cb"]
    assert split_lines("x\n\ny") == ["x", "", "y"]
    assert split_lines("") == []


def test_read_lines_names_the_file_and_line_of_invalid_utf8(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\nnot \xff ok\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 2: not valid UTF-8"):
        read_lines(path)


def test_parallel_files_with_tricky_characters_stay_aligned(tmp_path):
    src, ref = tmp_path / "test.src", tmp_path / "test.ref"
    src.write_text(TRICKY, encoding="utf-8", newline="")
    ref.write_text("one\ntwo\nthree\n", encoding="utf-8")
    sources, references = read_parallel(src, ref)
    assert len(sources) == len(references) == 3


def test_three_tricky_input_lines_give_three_output_lines_from_a_file(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "input.txt"
    source.write_bytes(TRICKY.encode("utf-8"))
    assert translate_main([str(tiny_model_dir), "--input", str(source), "--beam-size", "2", "--no-progress"]) == 0
    assert capsys.readouterr().out.count("\n") == 3


def test_three_tricky_input_lines_give_three_output_lines_from_stdin(tiny_model_dir):
    result = subprocess.run([sys.executable, "-m", "translator.cli", str(tiny_model_dir), "--beam-size", "1"],
                            input=TRICKY.encode("utf-8"), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.count(b"\n") == 3
