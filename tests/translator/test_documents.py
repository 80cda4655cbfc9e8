"""Documents round trip: every format comes back with the same structure, the styles on the corresponding words,
and what is not language left as it was; all of a document goes to the translator in one call.

The fake translator (``document_fakes.reverse_words``) upper-cases each sentence's words in reverse order and
links each target word to its source word, so ``Ein <b>großer Hund</b> läuft.`` must come back as
``LÄUFT. <b>HUND GROSSER</b> EIN``: the bold follows the words, not their positions.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from tests.translator.document_fakes import reverse_words
from tests.translator.document_fixtures import (make_docx, make_epub, make_html, make_markdown, make_odp, make_odt,
                                                make_pptx, make_srt, make_txt)
from translator.documents import translate_document
from translator.documents.odf import TEXT

XLINK = "{http://www.w3.org/1999/xlink}"


class Counting:
    """``reverse_words`` that counts its calls and the texts it was given."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]):
        self.calls.append(list(texts))
        return reverse_words(texts)


def translate(data: bytes, filename: str) -> bytes:
    return translate_document(data, filename, reverse_words, language="de")


def test_docx_keeps_paragraphs_tables_lists_headers_and_the_styles_on_their_words():
    import docx

    source = docx.Document(io.BytesIO(make_docx()))
    calls = Counting()
    result = docx.Document(io.BytesIO(translate_document(make_docx(), "letter.docx", calls, language="de")))
    assert len(calls.calls) == 1  # every paragraph, header and footer in one call
    assert len(result.paragraphs) == len(source.paragraphs) and len(result.tables) == len(source.tables)
    assert [p.style.name for p in result.paragraphs] == [p.style.name for p in source.paragraphs]
    assert result.paragraphs[0].text == "HUNDE ÜBER BERICHT EIN"
    runs = result.paragraphs[1].runs
    assert [r.text for r in runs if r.bold] == ["HUND GROSSER"]
    [italic] = [r for r in runs if r.italic]
    assert italic.text == "KATZE KLEINE" and str(italic.font.color.rgb) == "C00000"
    assert result.paragraphs[1].text.startswith("WIESE. DIE ÜBER SCHNELL LÄUFT HUND GROSSER EIN")
    [link] = result.paragraphs[2].hyperlinks
    assert link.address == "https://example.com/hunde" and link.text == "SEITE UNSERER"
    assert [p.text for p in result.paragraphs if p.style.name == "List Bullet"] == [
        "BRAUN. IST HUND ERSTE DER", "SCHWARZ. IST HUND ZWEITE DER"]
    assert [[cell.text for cell in row.cells] for row in result.tables[0].rows] == [["NAME", "ALTER"], ["BELLO", "7"]]
    code = [r for r in result.paragraphs[-1].runs if r.font.name == "Courier New"]
    assert [r.text for r in code] == ["make test"]  # code is not translated, and keeps its place in the sentence
    assert result.paragraphs[-1].text == "ORDNER. IM make test SIE STARTEN"
    section = result.sections[0]
    assert section.header.paragraphs[0].text == "HUNDE ÜBER BERICHT DER"
    assert section.footer.paragraphs[0].text == "EINS SEITE"


def test_docx_members_that_hold_no_text_go_back_byte_for_byte():
    original, translated = zipfile.ZipFile(io.BytesIO(make_docx())), zipfile.ZipFile(io.BytesIO(translate(
        make_docx(), "letter.docx")))
    assert translated.namelist() == original.namelist()
    changed = [n for n in original.namelist() if original.read(n) != translated.read(n)]
    assert sorted(changed) == ["word/document.xml", "word/footer1.xml", "word/header1.xml"]


def test_pptx_keeps_slides_shapes_tables_and_notes():
    import pptx

    source = pptx.Presentation(io.BytesIO(make_pptx()))
    result = pptx.Presentation(io.BytesIO(translate(make_pptx(), "talk.pptx")))
    assert len(result.slides) == len(source.slides)
    for before, after in zip(source.slides, result.slides):
        assert [(s.shape_type, s.left, s.top, s.width, s.height) for s in after.shapes] == \
            [(s.shape_type, s.left, s.top, s.width, s.height) for s in before.shapes]
    first, second = result.slides
    assert first.shapes.title.text == "PARK IM HUNDE"
    body = first.placeholders[1].text_frame.paragraphs
    assert len(body) == 2 and body[0].text == "BALL. DEM MIT SPIELT HUND DER"
    assert [run.text for run in body[1].runs if run.font.bold] == ["HUND GROSSER"]
    assert first.notes_slide.notes_text_frame.text == "HUNDE. ÜBER REDNER DER SPRICHT HIER"
    table = next(shape for shape in second.shapes if shape.has_table).table
    assert [[table.cell(r, c).text for c in range(2)] for r in range(2)] == [["TIER", "FARBE"], ["HUND", "BRAUN"]]


def _odf_content(data: bytes, member: str = "content.xml") -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read(member))


def test_odt_keeps_paragraphs_spans_links_footnotes_lists_tables_and_page_headers():
    source, data = _odf_content(make_odt()), translate(make_odt(), "report.odt")
    result = _odf_content(data)
    for tag in ("p", "h", "span", "a", "note", "list-item"):
        assert len(result.findall(f".//{TEXT}{tag}")) == len(source.findall(f".//{TEXT}{tag}")), tag
    assert result.find(f".//{TEXT}h").text == "HUNDE ÜBER BERICHT EIN"
    [span] = result.iter(f"{TEXT}span")
    assert span.text == "HUND GROSSER" and span.get(f"{TEXT}style-name") == "Bold"
    [link] = result.iter(f"{TEXT}a")
    assert link.get(f"{XLINK}href") == "https://example.com/hunde" and link.text == "SEITE. UNSERER"
    [note] = result.iter(f"{TEXT}note")
    assert note.getparent().tag == f"{TEXT}p" and note.getprevious() is link  # the note follows the linked words
    assert "".join(note.find(f"{TEXT}note-body").itertext()) == "KATZEN. ÜBER FUSSNOTE EINE IST DAS"
    cells = ["".join(cell.itertext()) for cell in result.iter("{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
                                                               "table-cell")]
    assert cells == ["NAME", "ALTER", "BELLO", "7"]
    styles = _odf_content(data, "styles.xml")
    assert ["".join(p.itertext()) for p in styles.iter(f"{TEXT}p")] == ["HUNDE ÜBER BERICHT DER", "EINS SEITE"]


def test_odp_keeps_pages_frames_spans_and_notes():
    source, result = _odf_content(make_odp()), _odf_content(translate(make_odp(), "talk.odp"))
    draw = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
    assert len(result.findall(f".//{draw}page")) == len(source.findall(f".//{draw}page")) == 2
    assert [f.attrib for f in result.iter(f"{draw}frame")] == [f.attrib for f in source.iter(f"{draw}frame")]
    [span] = result.iter(f"{TEXT}span")
    assert span.text == "HUND GROSSER"
    texts = ["".join(p.itertext()) for p in result.iter(f"{TEXT}p")]
    assert texts[0] == "PARK IM HUNDE" and texts.count("REDNER. DER SPRICHT HIER") == 2


def test_epub_translates_chapters_and_navigation_and_keeps_everything_else():
    from ebooklib import epub

    data = translate(make_epub(), "book.epub")
    original, translated = zipfile.ZipFile(io.BytesIO(make_epub())), zipfile.ZipFile(io.BytesIO(data))
    assert translated.namelist() == original.namelist() and translated.namelist()[0] == "mimetype"
    assert translated.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
    changed = {n for n in original.namelist() if original.read(n) != translated.read(n)}
    assert changed == {"EPUB/kapitel1.xhtml", "EPUB/kapitel2.xhtml", "EPUB/nav.xhtml", "EPUB/toc.ncx"}
    chapter = translated.read("EPUB/kapitel1.xhtml").decode()
    assert "<b>HUND GROSSER</b>" in chapter and "<h1>HUND DER</h1>" in chapter
    path = io.BytesIO(data)
    book = epub.read_epub(path)
    assert len(list(book.get_items_of_type(9))) == 3  # ebooklib.ITEM_DOCUMENT: both chapters and the navigation


def test_srt_keeps_numbers_and_timings_rebreaks_lines_and_keeps_dialogue_lines_and_dashes():
    import srt

    source = list(srt.parse(make_srt().decode()))
    result = list(srt.parse(translate(make_srt(), "film.srt").decode()))
    assert [(s.index, s.start, s.end) for s in result] == [(s.index, s.start, s.end) for s in source]
    assert result[0].content == "WIESE. GRÜNE DIE ÜBER\nSCHNELL LÄUFT HUND DER"  # one sentence, two lines again
    assert result[1].content == "- KATZE? DIE IST WO\n- SCHLÄFT. SIE"  # each speaker keeps the dash
    assert result[2].content == "LAUT. BELLT <i>HUND GROSSER</i> EIN"


def test_markdown_keeps_syntax_links_code_and_tables():
    result = translate(make_markdown(), "readme.md").decode()
    assert result.startswith("# HUNDE ÜBER BERICHT EIN\n\n")
    assert "**HUND GROSSER**" in result and "*KATZE KLEINE*" in result
    assert "](https://example.com/hunde)" in result
    assert "- ORDNER. IM `make test` SIE STARTEN\n" in result
    assert "| TIER | ALTER |\n|------|-------|\n| HUND | 7 |\n" in result
    assert result.endswith('```python\nprint("Hund")\n```\n')


def test_markdown_segments_are_the_texts_and_nothing_else():
    from translator.documents import read_document

    text = "# Titel\n\n> Ein Zitat\n> über zwei Zeilen.\n\n| a | b |\n|---|---|\n|  |  |\n\n    code\n\n[x]: https://x.de\n"
    assert read_document(text.encode(), "a.md").segments == ["Titel", "Ein Zitat über zwei Zeilen.", "a", "b"]


def test_html_keeps_every_tag_and_leaves_scripts_alone():
    result = translate(make_html(), "page.html").decode()
    assert "<p>WIESE. DIE ÜBER SCHNELL LÄUFT <b>HUND GROSSER</b> EIN</p>" in result
    assert '<script>var hund = "Hund";</script>' in result and "<title>HUNDE</title>" in result


def test_plain_text_keeps_its_lines_and_leaves_numbers_alone():
    calls = Counting()
    result = translate_document(make_txt(), "notes.txt", calls, language="de")
    assert result.decode() == "SCHNELL. LÄUFT HUND DER\nSCHLÄFT. KATZE DIE\n\n42\n"
    assert "42" not in calls.calls[0]  # not language: never sent


def test_text_files_keep_their_byte_order_mark_and_line_breaks():
    data = "\ufeffDer Hund.\r\nDie Katze.\r\n".encode("utf-8")
    assert translate(data, "notes.txt") == "\ufeffHUND. DER\r\nKATZE. DIE\r\n".encode("utf-8")


@pytest.mark.parametrize("maker, name", [(make_docx, "a.docx"), (make_pptx, "a.pptx"), (make_odt, "a.odt"),
                                         (make_odp, "a.odp"), (make_epub, "a.epub")])
def test_an_identity_translation_changes_no_text(maker, name):
    from translator.translate import Translation

    original = maker()
    same = translate_document(original, name, lambda texts: [Translation(text, 0.0) for text in texts])
    before, after = zipfile.ZipFile(io.BytesIO(original)), zipfile.ZipFile(io.BytesIO(same))
    for member in before.namelist():
        if member.endswith((".xml", ".xhtml", ".ncx")):
            assert _text_of(before.read(member)) == _text_of(after.read(member)), member


def _text_of(xml: bytes) -> list[str]:
    return [text for text in etree.fromstring(xml).itertext() if text.strip()]


def test_repeated_texts_are_translated_once():
    calls = Counting()
    translate_document("Der Hund.\nDer Hund.\nDie Katze.\n".encode(), "notes.txt", calls, language="de")
    assert calls.calls == [["Der Hund.", "Die Katze."]]


def test_headings_and_cells_get_no_full_stop_that_the_source_did_not_have():
    from translator.translate import Translation

    def with_period(texts):
        return [Translation(text.upper().rstrip(".") + ".", 0.0) for text in texts]

    result = translate_document("# Hunde\n\nDer Hund läuft\n\nDer Hund läuft.\n".encode(), "a.md", with_period)
    assert result.decode() == "# HUNDE\n\nDER HUND LÄUFT\n\nDER HUND LÄUFT.\n"


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
WORD_FIELDS = (
    f'<w:p xmlns:w="{W}" xmlns:v="urn:schemas-microsoft-com:vml"><w:pPr><w:jc w:val="center"/></w:pPr>'
    '<w:bookmarkStart w:id="0" w:name="mark"/><w:r><w:t xml:space="preserve">Der Hund</w:t></w:r>'
    '<w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:footnoteReference w:id="1"/></w:r>'
    '<w:proofErr w:type="spellStart"/><w:r><w:t xml:space="preserve"> läuft auf Seite </w:t></w:r>'
    '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
    '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>3</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/>'
    '</w:r><w:del w:id="5" w:author="A"><w:r><w:delText>alt</w:delText></w:r></w:del>'
    '<w:r><w:t xml:space="preserve"> und </w:t></w:r><w:r><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r>'
    '<w:t>Die Katze schläft.</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r>'
    '<w:r><w:t xml:space="preserve"> bellt.</w:t></w:r><w:bookmarkEnd w:id="0"/></w:p>')
FOOTNOTES = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{W}"><w:footnote w:id="1">'
             '<w:p><w:r><w:t>Eine Fußnote über Hunde.</w:t></w:r></w:p></w:footnote></w:footnotes>')


def docx_with_fields_notes_and_a_text_box() -> bytes:
    """make_docx with a paragraph of bookmarks, a footnote reference, a PAGE field, a deletion and a text box,
    and a footnotes part."""
    members = {info.filename: data for info, data in _zip_members(make_docx())}
    body = members["word/document.xml"].decode()
    members["word/document.xml"] = body.replace("<w:sectPr", WORD_FIELDS.replace(
        f' xmlns:w="{W}" xmlns:v="urn:schemas-microsoft-com:vml"', "") + "<w:sectPr", 1).encode()
    members["word/footnotes.xml"] = FOOTNOTES.encode()
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'wordprocessingml.footnotes+xml"/></Types>'))
    from tests.translator.document_fixtures import zip_of
    return zip_of(members)


def _zip_members(data: bytes):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def test_word_fields_notes_bookmarks_deletions_and_text_boxes_keep_their_place():
    import docx

    data = translate(docx_with_fields_notes_and_a_text_box(), "fields.docx")
    docx.Document(io.BytesIO(data))  # still a Word document
    members = dict((info.filename, content) for info, content in _zip_members(data))
    footnotes = etree.fromstring(members["word/footnotes.xml"])
    assert "".join(footnotes.itertext()) == "HUNDE. ÜBER FUSSNOTE EINE"
    body = etree.fromstring(members["word/document.xml"])
    [paragraph] = [p for p in body.iter(f"{{{W}}}p") if p.find(f"{{{W}}}bookmarkStart") is not None]
    children = [etree.QName(child).localname for child in paragraph]
    assert children[0] == "pPr" and children.count("bookmarkStart") == children.count("bookmarkEnd") == 1
    for name in ("footnoteReference", "fldChar", "instrText", "delText", "txbxContent"):
        assert len(paragraph.findall(f".//{{{W}}}{name}")) == len(etree.fromstring(WORD_FIELDS).findall(
            f".//{{{W}}}{name}")), name
    assert paragraph.find(f".//{{{W}}}instrText").text == " PAGE "
    # A complex field stays whole and in order (its result untranslated), whatever the words around it do.
    fields = [(e.get(f"{{{W}}}fldCharType"), e.getparent().getnext()) for e in paragraph.iter(f"{{{W}}}fldChar")]
    assert [kind for kind, _ in fields] == ["begin", "separate", "end"]
    assert fields[1][1].findtext(f"{{{W}}}t") == "3"
    [box] = paragraph.iter(f"{{{W}}}txbxContent")
    assert "".join(box.itertext()) == "SCHLÄFT. KATZE DIE"
    # The footnote reference still follows the words its "Hund" became.
    texts = [(etree.QName(e).localname, e.text) for e in paragraph.iter(f"{{{W}}}t", f"{{{W}}}footnoteReference")
             if not any(a.tag == f"{{{W}}}txbxContent" for a in e.iterancestors())]
    reference = [name for name, _ in texts].index("footnoteReference")
    assert texts[reference - 1][1].endswith("HUND")
