"""``translator-translate --input DOC --output DOC``: a document through a real (tiny) model, with a progress bar;
errors name the file."""

from __future__ import annotations

import io

import pytest

from tests.conftest import symbol_sentences
from tests.translator.document_fixtures import MAKERS, make_docx
from translator.documents import read_document
from translator.cli import main as translate_main


def symbol_docx() -> bytes:
    """A document in the tiny model's language: paragraphs of symbols, some with a bold run, and a table."""
    import docx

    document = docx.Document()
    for number, sentence in enumerate(symbol_sentences(6, seed=3, min_len=4)):
        words = sentence.split()
        paragraph = document.add_paragraph(" ".join(words[:2]) + " ")
        paragraph.add_run(" ".join(words[2:4])).bold = number % 2 == 0
        paragraph.add_run(" " + " ".join(words[4:]) + ".")
    document.add_table(rows=1, cols=2).cell(0, 0).text = "a b c"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_document_round_trips_through_the_cli_with_a_progress_bar(tiny_model_dir, tmp_path, capsys):
    import docx

    source, target = tmp_path / "report.docx", tmp_path / "report.yy.docx"
    source.write_bytes(symbol_docx())
    assert translate_main([str(tiny_model_dir), "--input", str(source), "--output", str(target),
                           "--beam-size", "1", "--max-output-length", "12"]) == 0
    assert "sent" in capsys.readouterr().err  # tqdm's bar counts sentences
    before, after = docx.Document(source), docx.Document(target)
    assert len(after.paragraphs) == len(before.paragraphs) and len(after.tables) == 1
    for old, new in zip(before.paragraphs, after.paragraphs):
        assert any(run.bold for run in new.runs) == any(run.bold for run in old.runs)


@pytest.mark.parametrize("extension", sorted(MAKERS))
def test_every_format_round_trips_through_the_cli(tiny_model_dir, tmp_path, extension):
    source, target = tmp_path / f"brief{extension}", tmp_path / f"brief.yy{extension}"
    source.write_bytes(MAKERS[extension]())
    assert translate_main([str(tiny_model_dir), "--input", str(source), "--output", str(target), "--no-progress",
                           "--beam-size", "1", "--max-output-length", "12"]) == 0
    original, translated = read_document(source.read_bytes(), source.name), read_document(target.read_bytes(),
                                                                                           target.name)
    assert len(translated.segments) == len(original.segments)
    assert translated.segments != original.segments  # the tiny model wrote its own symbols


@pytest.mark.parametrize("arguments, message", [
    (["--input", "{tmp}/letter.docx", "--output", "{tmp}/letter.en.odt"],
     "must have the extension of --input"),
    (["--input", "{tmp}/missing.docx", "--output", "{tmp}/out.docx"], "missing.docx does not exist"),
    (["--input", "{tmp}/letter.docx/inner.docx", "--output", "{tmp}/out.docx"], "cannot read"),
    (["--input", "{tmp}/folder.docx", "--output", "{tmp}/out.docx"], "folder.docx is a directory, expected a document"),
    (["--input", "{tmp}/letter.pdf", "--output", "{tmp}/out.pdf"], "letter.pdf: .pdf files are not supported"),
    (["--input", "{tmp}/fake.docx", "--output", "{tmp}/out.docx"], "fake.docx is not a zip archive"),
    (["--input", "{tmp}/letter.docx", "--output", "{tmp}/out.docx", "--n-best", "2"], "cannot be combined"),
    (["--output", "{tmp}/out.docx"], "--output needs --input"),
])
def test_document_errors_name_the_file(tiny_model_dir, tmp_path, capsys, arguments, message):
    (tmp_path / "letter.docx").write_bytes(make_docx())
    (tmp_path / "letter.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "fake.docx").write_text("Hallo")
    (tmp_path / "folder.docx").mkdir()
    assert translate_main([str(tiny_model_dir)] + [a.format(tmp=tmp_path) for a in arguments]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.docx").exists()


def test_an_unwritable_output_is_an_error_that_names_it(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "letter.docx").write_bytes(make_docx())
    output = tmp_path / "no-such-folder" / "letter.yy.docx"
    assert translate_main([str(tiny_model_dir), "--input", str(tmp_path / "letter.docx"), "--output", str(output),
                           "--no-progress", "--beam-size", "1", "--max-output-length", "4"]) == 2
    assert f"cannot write {output}" in capsys.readouterr().err
