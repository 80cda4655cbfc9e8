"""Small documents of every supported format, made here with the formats' own libraries (python-docx,
python-pptx, odfpy, ebooklib; made once per process): German text with bold, italic, coloured and linked words, lists, tables,
headers, footers, notes and slides. The document tests and ``benchmarks/documents.py`` translate them."""

from __future__ import annotations

import functools
import io
import zipfile

BOLD_SENTENCE = ("Ein ", "großer Hund", " läuft schnell über die Wiese.")


@functools.cache
def make_docx() -> bytes:
    """A letter: heading, a paragraph with bold, italic red and linked words, a list, a table, a header, a
    footer, a footnote-like note paragraph and a code run."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import RGBColor

    document = docx.Document()
    document.add_heading("Ein Bericht über Hunde", 1)
    paragraph = document.add_paragraph(BOLD_SENTENCE[0])
    paragraph.add_run(BOLD_SENTENCE[1]).bold = True
    paragraph.add_run(BOLD_SENTENCE[2] + " Die ")
    cat = paragraph.add_run("kleine Katze")
    cat.italic = True
    cat.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    paragraph.add_run(" schläft im Haus.")
    linked = document.add_paragraph("Mehr steht auf ")
    hyperlink = OxmlElement("w:hyperlink")
    hyperlink.set(qn("r:id"), document.part.relate_to("https://example.com/hunde", docx.opc.constants.RELATIONSHIP_TYPE.HYPERLINK, is_external=True))
    run = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    properties.append(underline)
    run.append(properties)
    text = OxmlElement("w:t")
    text.text = "unserer Seite"
    run.append(text)
    hyperlink.append(run)
    linked._p.append(hyperlink)
    linked.add_run(" im Netz.")
    for item in ("Der erste Hund ist braun.", "Der zweite Hund ist schwarz."):
        document.add_paragraph(item, style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (row, column), value in {(0, 0): "Name", (0, 1): "Alter", (1, 0): "Bello", (1, 1): "7"}.items():
        table.cell(row, column).text = value
    code = document.add_paragraph("Starten Sie ")
    command = code.add_run("make test")
    command.font.name = "Courier New"
    code.add_run(" im Ordner.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Der Bericht über Hunde"
    section.footer.paragraphs[0].text = "Seite eins"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@functools.cache
def make_pptx() -> bytes:
    """Two slides (title and bullets; a table) with a bold word and speaker notes."""
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Hunde im Park"
    body = slide.placeholders[1].text_frame
    body.text = "Der Hund spielt mit dem Ball."
    paragraph = body.add_paragraph()
    paragraph.add_run().text = "Ein "
    bold = paragraph.add_run()
    bold.text = "großer Hund"
    bold.font.bold = True
    paragraph.add_run().text = " läuft schnell."
    slide.notes_slide.notes_text_frame.text = "Hier spricht der Redner über Hunde."
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Eine Tabelle"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1.5)).table
    for (row, column), value in {(0, 0): "Tier", (0, 1): "Farbe", (1, 0): "Hund", (1, 1): "braun"}.items():
        table.cell(row, column).text = value
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


@functools.cache
def make_odt() -> bytes:
    """A text document: heading, a paragraph with a bold span and a link, a list, a table, a footnote, and a
    page header and footer."""
    from odf.opendocument import OpenDocumentText
    from odf.style import (Footer, Header, MasterPage, PageLayout, PageLayoutProperties, Style,
                           TextProperties)
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import A, H, List, ListItem, Note, NoteBody, NoteCitation, P, Span

    document = OpenDocumentText()
    bold = Style(name="Bold", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    layout = PageLayout(name="Layout")
    layout.addElement(PageLayoutProperties(pagewidth="21cm", pageheight="29.7cm", margin="2cm"))
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="Standard", pagelayoutname=layout)
    header, footer = Header(), Footer()
    header.addElement(P(text="Der Bericht über Hunde"))
    footer.addElement(P(text="Seite eins"))
    master.addElement(header)
    master.addElement(footer)
    document.masterstyles.addElement(master)
    document.text.addElement(H(outlinelevel=1, text="Ein Bericht über Hunde"))
    paragraph = P(text=BOLD_SENTENCE[0])
    paragraph.addElement(Span(stylename=bold, text=BOLD_SENTENCE[1]))
    paragraph.addText(BOLD_SENTENCE[2] + " Mehr steht auf ")
    paragraph.addElement(A(href="https://example.com/hunde", text="unserer Seite"))
    paragraph.addText(".")
    note = Note(id="ftn1", noteclass="footnote")
    note.addElement(NoteCitation(text="1"))
    body = NoteBody()
    body.addElement(P(text="Das ist eine Fußnote über Katzen."))
    note.addElement(body)
    paragraph.addElement(note)
    paragraph.addText(" Die Katze schläft.")
    document.text.addElement(paragraph)
    items = List()
    for text in ("Der erste Hund ist braun.", "Der zweite Hund ist schwarz."):
        item = ListItem()
        item.addElement(P(text=text))
        items.addElement(item)
    document.text.addElement(items)
    table = Table(name="Tiere")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for cells in (("Name", "Alter"), ("Bello", "7")):
        row = TableRow()
        for value in cells:
            cell = TableCell()
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    document.text.addElement(table)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


@functools.cache
def make_odp() -> bytes:
    """Two slides with titles and text frames, one bold word, and speaker notes."""
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import (DrawingPageProperties, GraphicProperties, MasterPage, PageLayout, PageLayoutProperties,
                           Style, TextProperties)
    from odf.text import P, Span

    document = OpenDocumentPresentation()
    layout = PageLayout(name="Layout")
    layout.addElement(PageLayoutProperties(pagewidth="28cm", pageheight="21cm", printorientation="landscape"))
    document.automaticstyles.addElement(layout)
    page_style = Style(name="Page", family="drawing-page")
    page_style.addElement(DrawingPageProperties())
    document.automaticstyles.addElement(page_style)
    bold = Style(name="Bold", family="text")
    bold.addElement(TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    box_style = Style(name="Box", family="graphic")  # text frames without LibreOffice's default blue fill
    box_style.addElement(GraphicProperties(fill="none", stroke="none"))
    document.automaticstyles.addElement(box_style)
    master = MasterPage(name="Master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for number, (title, text) in enumerate((("Hunde im Park", "Der Hund spielt mit dem Ball."),
                                            ("Katzen im Haus", "Die Katze schläft auf dem Sofa."))):
        page = Page(name=f"page{number + 1}", masterpagename=master, stylename=page_style)
        for y, content, size in (("1cm", title, "3cm"), ("5cm", text, "10cm")):
            frame = Frame(width="24cm", height=size, x="2cm", y=y, stylename=box_style)
            box = TextBox()
            paragraph = P(text=content)
            if number == 0 and y == "5cm":
                paragraph.addText(" Ein ")
                paragraph.addElement(Span(stylename=bold, text="großer Hund"))
                paragraph.addText(" läuft.")
            box.addElement(paragraph)
            frame.addElement(box)
            page.addElement(frame)
        notes = Notes()
        frame = Frame(width="20cm", height="5cm", x="2cm", y="15cm", stylename=box_style)
        box = TextBox()
        box.addElement(P(text="Hier spricht der Redner."))
        frame.addElement(box)
        notes.addElement(frame)
        page.addElement(notes)
        document.presentation.addElement(page)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


@functools.cache
def make_epub() -> bytes:
    """An e-book of two chapters with a bold word, and its navigation."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("urn:uuid:0f6e2b0a-3c1d-4b7e-9a55-2d1c0e7f8a90")
    book.set_title("Hunde und Katzen")
    book.set_language("de")
    chapters = []
    for number, (title, body) in enumerate((
            ("Der Hund", "<p>Ein <b>großer Hund</b> läuft schnell über die Wiese.</p><p>Er spielt gern.</p>"),
            ("Die Katze", "<p>Die Katze schläft im Haus.</p>"))):
        chapter = epub.EpubHtml(title=title, file_name=f"kapitel{number + 1}.xhtml", lang="de")
        chapter.content = f"<h1>{title}</h1>{body}"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def make_srt() -> bytes:
    """Three subtitles: two lines of one sentence, a dialogue, and one with italics."""
    return ("1\n00:00:01,000 --> 00:00:03,500\nDer Hund läuft schnell\nüber die grüne Wiese.\n\n"
            "2\n00:00:04,000 --> 00:00:06,000\n- Wo ist die Katze?\n- Sie schläft.\n\n"
            "3\n00:00:06,500 --> 00:00:09,250\nEin <i>großer Hund</i> bellt laut.\n\n").encode()


def make_markdown() -> bytes:
    """Headings, a paragraph over two lines with bold, italic, a link and code, a list, a table, a code block."""
    return ("# Ein Bericht über Hunde\n\n"
            "Ein **großer Hund** läuft schnell über die Wiese.\nDie *kleine Katze* schläft "
            "auf [unserer Seite](https://example.com/hunde).\n\n"
            "- Der erste Hund ist braun.\n- Starten Sie `make test` im Ordner.\n\n"
            "| Tier | Alter |\n|------|-------|\n| Hund | 7 |\n\n"
            "```python\nprint(\"Hund\")\n```\n").encode()


def make_html() -> bytes:
    """A page with a title, a heading, a paragraph with inline tags, a list and a script."""
    return ("<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>Hunde</title></head>\n<body>"
            "<h1>Ein Bericht über Hunde</h1>\n<p>Ein <b>großer Hund</b> läuft schnell über die Wiese.</p>\n"
            "<ul><li>Der erste Hund ist braun.</li><li>Die Katze schläft.</li></ul>\n"
            "<script>var hund = \"Hund\";</script>\n</body></html>\n").encode()


def make_txt() -> bytes:
    """Two paragraphs and a number."""
    return "Der Hund läuft schnell.\nDie Katze schläft.\n\n42\n".encode()


MAKERS = {".docx": make_docx, ".pptx": make_pptx, ".odt": make_odt, ".odp": make_odp, ".epub": make_epub,
          ".srt": make_srt, ".md": make_markdown, ".html": make_html, ".txt": make_txt}


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of ``members`` (name: content), in that order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
