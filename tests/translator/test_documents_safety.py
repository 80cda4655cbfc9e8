"""Hostile and broken files are refused before any parser expands them, each with a message that names the file."""

from __future__ import annotations

import zipfile

import pytest

from tests.translator.document_fixtures import make_docx, make_epub, make_odt, make_srt, zip_of
from translator.documents import (DocumentError, DocumentTooLarge, Limits, UnsupportedFormat, read_document,
                                  supported_formats)
from translator.documents.archive import Archive

CONTENT_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                 b'wordprocessingml.document.main+xml"/></Types>')
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
          b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
          b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
          b'<w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>')
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
            b'<w:t>&secret;</w:t></w:r></w:p></w:body></w:document>')


def docx_with(document: bytes, **extra: bytes) -> bytes:
    return zip_of({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": document, **extra})


def test_a_zip_bomb_member_is_refused_from_the_directory_without_unpacking_it():
    bomb = docx_with(b"<x/>", **{"word/media/big.bin": b"\0" * (8 * 1024 * 1024)})
    with pytest.raises(DocumentTooLarge, match=r"bomb.docx: member word/media/big.bin unpacks \d+ times"):
        read_document(bomb, "bomb.docx")


def test_an_archive_over_the_unpacked_size_limit_is_refused():
    data = docx_with(b"<x/>", **{f"word/media/{n}.bin": bytes(range(256)) * 64 for n in range(4)})
    with pytest.raises(DocumentTooLarge, match="unpacks to .* over the limit"):
        read_document(data, "big.docx", Limits(max_unpacked_bytes=50_000))


def test_an_archive_with_too_many_members_is_refused():
    data = docx_with(b"<x/>", **{f"word/{n}.xml": b"<x/>" for n in range(20)})
    with pytest.raises(DocumentTooLarge, match="holds 22 files, over the limit of 10"):
        read_document(data, "many.docx", Limits(max_members=10))


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(DocumentTooLarge, match="film.srt is .* over the limit"):
        read_document(make_srt(), "film.srt", Limits(max_file_bytes=100))


@pytest.mark.parametrize("name", ["../evil.xml", "/etc/evil.xml", "word/../../evil.xml", "C:\\evil.xml",
                                  "word\\..\\..\\evil.xml"])
def test_member_names_that_climb_out_are_refused(name):
    with pytest.raises(DocumentError, match="unsafe path"):
        read_document(docx_with(b"<x/>", **{name: b"x"}), "trap.docx")


@pytest.mark.parametrize("document", [LAUGHS, EXTERNAL])
def test_xml_entities_and_external_references_are_refused(document):
    with pytest.raises(DocumentError, match="declares XML entities or external references"):
        read_document(docx_with(document), "laughs.docx")


def test_an_epub_chapter_with_entities_is_refused():
    members = {info.filename: data for info, data in _members(make_epub())}
    members["EPUB/kapitel1.xhtml"] = LAUGHS
    with pytest.raises(DocumentError, match="book.epub: EPUB/kapitel1.xhtml declares XML entities"):
        read_document(zip_of(members), "book.epub")


def _members(data: bytes):
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def test_a_damaged_member_is_a_document_error():
    data = bytearray(make_docx())
    start = data.find(b"word/document.xml") + len("word/document.xml")
    data[start + 10:start + 200] = bytes(190)  # inside the compressed document part
    with pytest.raises(DocumentError, match="damaged.docx"):
        read_document(bytes(data), "damaged.docx")


def test_archive_members_keep_their_order_and_compression():
    archive = Archive(make_epub(), "book.epub", Limits())
    archive.replace("EPUB/toc.ncx", b"<ncx/>")
    written = Archive(archive.write(), "again.epub", Limits())
    assert written.names == archive.names and written.names[0] == "mimetype"
    assert [i.compress_type for i in written.infos] == [i.compress_type for i in archive.infos]
    assert written.read("EPUB/toc.ncx") == b"<ncx/>"


@pytest.mark.parametrize("data, name, message", [
    (make_docx(), "report.odt", r"report.odt is named .odt but is a Word document \(.docx\)"),
    (make_odt(), "report.docx", r"report.docx is named .docx but is a OpenDocument text \(.odt\)"),
    (b"%PDF-1.7\n...", "report.docx", "report.docx is named .docx but is a PDF file"),
    (b"Hallo Welt", "report.pptx", "report.pptx is not a zip archive"),
    (zip_of({"a.txt": b"x"}), "report.epub", "report.epub is named .epub but is a zip archive"),
    (zip_of({"[Content_Types].xml": CONTENT_TYPES.replace(b"wordprocessingml.document", b"spreadsheetml.sheet")}),
     "sheet.docx", "sheet.docx is named .docx but is an Excel workbook"),
    (b"\x00\x01\x02binary", "notes.txt", "notes.txt is a binary file"),
    (b"Hallo Welt", "film.srt", "film.srt is not SubRip"),
    (b"x", "report.pdf", r"report.pdf: .pdf files are not supported"),
    (b"x", "README", "files without an extension are not supported"),
])
def test_unknown_and_mislabelled_formats_are_refused_with_the_list_of_formats(data, name, message):
    with pytest.raises(UnsupportedFormat, match=message) as error:
        read_document(data, name)
    if "named" in message or "supported" in message:
        assert supported_formats() in str(error.value)


def test_text_that_is_not_utf8_is_refused_with_the_fix():
    with pytest.raises(DocumentError, match="notes.txt is not UTF-8 text .* save it as UTF-8"):
        read_document("Grüße".encode("latin-1"), "notes.txt")
