"""EPUB e-books: every XHTML document of the package (chapters and the navigation) and the NCX table of
contents translated as HTML pages; every other member (styles, images, fonts, the package file) is
written back byte for byte.

The documents are found from ``META-INF/container.xml`` and the package file's manifest, by media type.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote

from translator.documents.archive import Archive
from translator.documents.content import Content, TextFile
from translator.documents.safety import DocumentError, check_entities

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_TRANSLATED = {"application/xhtml+xml", "application/x-dtbncx+xml"}


def read_epub(archive: Archive) -> Content:
    """Each XHTML document and the NCX of the book as one segment."""
    rootfile = archive.xml("META-INF/container.xml").find(f"{_CONTAINER}rootfiles/{_CONTAINER}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise DocumentError(f"{archive.filename}: META-INF/container.xml names no package file; is it damaged?")
    package_path = rootfile.get("full-path")
    package = archive.xml(package_path)
    folder = posixpath.dirname(package_path)
    names = []
    for item in package.iter(f"{_OPF}item"):
        name = posixpath.normpath(posixpath.join(folder, unquote(item.get("href", ""))))
        if item.get("media-type") in _TRANSLATED and name in archive.names and name not in names:
            names.append(name)
    files = []
    for name in names:
        data = archive.read(name)
        check_entities(data, f"{archive.filename}: {name}")
        files.append(TextFile.decode(data, f"{archive.filename}: {name}"))

    def write(translated: list[str]) -> bytes:
        for name, file, text in zip(names, files, translated, strict=True):
            archive.replace(name, file.encode(text))
        return archive.write()

    return Content([file.text for file in files], write)
