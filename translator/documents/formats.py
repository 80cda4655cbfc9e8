"""The supported formats, how each is told by its content (not only its name), and which module reads it."""

from __future__ import annotations

from pathlib import PurePath

from translator.documents import epub, markdown, odf, ooxml, plain, subtitles, webpage
from translator.documents.archive import Archive
from translator.documents.content import Content, TextFile
from translator.documents.safety import Limits, UnsupportedFormat, check_file_size

FORMATS = {
    ".txt": "plain text", ".md": "Markdown", ".html": "HTML page", ".htm": "HTML page",
    ".srt": "SubRip subtitles", ".docx": "Word document", ".pptx": "PowerPoint presentation",
    ".odt": "OpenDocument text", ".odp": "OpenDocument presentation", ".epub": "EPUB e-book",
}
ARCHIVES = {".docx", ".pptx", ".odt", ".odp", ".epub"}
_MIMETYPES = {"application/vnd.oasis.opendocument.text": ".odt",
              "application/vnd.oasis.opendocument.presentation": ".odp", "application/epub+zip": ".epub"}
_SIGNATURES = [(b"%PDF", "a PDF file"), (b"\xd0\xcf\x11\xe0", "an old binary Office file (.doc, .ppt, .xls)"),
               (b"{\\rtf", "an RTF file"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
               (b"GIF8", "a GIF image"), (b"\x1f\x8b", "a gzip file"), (b"7z\xbc\xaf", "a 7-Zip archive")]


def supported_formats() -> str:
    """The supported extensions, for error messages: ``.docx, .epub, ...``."""
    return ", ".join(sorted(FORMATS))


def read_document(data: bytes, filename: str, limits: Limits = Limits()) -> Content:
    """Read a document for translation: its format from its extension, confirmed by its content.

    Raises:
        UnsupportedFormat: an extension not in :data:`FORMATS`, or content of another format.
        DocumentTooLarge, DocumentError: see :mod:`translator.documents.safety`.
    """
    extension = PurePath(filename).suffix.lower()
    if extension not in FORMATS:
        raise UnsupportedFormat(f"{filename}: {extension or 'files without an extension'} "
                                f"{'files are' if extension else 'are'} not supported; supported formats: "
                                f"{supported_formats()}")
    check_file_size(len(data), filename, limits)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        archive = Archive(data, filename, limits)
        found = archive_format(archive)
        if found != extension:
            raise UnsupportedFormat(f"{filename} is named {extension} but is {_describe(found)}; supported formats: "
                                    f"{supported_formats()}")
        return _ARCHIVE_READERS[extension](archive)
    for signature, description in _SIGNATURES:
        if data.startswith(signature):
            raise UnsupportedFormat(f"{filename} is named {extension} but is {description}; supported formats: "
                                    f"{supported_formats()}")
    if extension in ARCHIVES:
        raise UnsupportedFormat(f"{filename} is not a zip archive, so it is not a {FORMATS[extension]} "
                                f"({extension} files are zip archives); is it damaged or misnamed?")
    return _TEXT_READERS[extension](TextFile.decode(data, filename), filename)


def archive_format(archive: Archive) -> str:
    """The extension that the archive's content says it is (the ODF/EPUB ``mimetype`` member, the OOXML
    main part's content type), or a description of what else it is."""
    if "mimetype" in archive.names:
        mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
        return _MIMETYPES.get(mimetype, f"a zip archive of type {mimetype[:80]!r}")
    if "[Content_Types].xml" in archive.names:
        types = {element.get("ContentType", "") for element in archive.xml("[Content_Types].xml")}
        if any(".main+xml" in kind and ("wordprocessingml" in kind or "ms-word" in kind) for kind in types):
            return ".docx"
        if any(".main+xml" in kind and ("presentationml" in kind or "ms-powerpoint" in kind) for kind in types):
            return ".pptx"
        if any("spreadsheetml" in kind or "ms-excel" in kind for kind in types):
            return "an Excel workbook"
        return "an Office archive of another kind"
    return "a zip archive"


def _describe(found: str) -> str:
    return f"a {FORMATS[found]} ({found})" if found in FORMATS else str(found)


_ARCHIVE_READERS = {".docx": ooxml.read_docx, ".pptx": ooxml.read_pptx, ".odt": odf.read_odf, ".odp": odf.read_odf,
                    ".epub": epub.read_epub}
_TEXT_READERS = {".txt": plain.read_plain, ".md": markdown.read_markdown, ".html": webpage.read_webpage,
                 ".htm": webpage.read_webpage, ".srt": subtitles.read_subtitles}
