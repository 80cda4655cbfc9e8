"""Zip containers (docx, pptx, odt, odp, epub): members read after the checks, some replaced, all written back.

Members that are not translated go back byte for byte, in their order and with their compression, so
that a reader sees the same package with new text: ODF and EPUB need their ``mimetype`` member first
and stored, and they keep it there.
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib

from lxml import etree

from translator.documents.safety import (DocumentError, Limits, check_member_name, check_sizes, parse_xml,
                                         serialize_xml)


class Archive:
    """The members of a zip archive, checked against :class:`Limits` before any is unpacked."""

    def __init__(self, data: bytes, filename: str, limits: Limits) -> None:
        self.filename = filename
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, ValueError, EOFError) as error:
            raise DocumentError(f"{filename} is a damaged zip archive ({error})") from None
        for info in infos:
            check_member_name(info.filename, filename)
            if info.flag_bits & 0x1:
                raise DocumentError(f"{filename} is encrypted ({info.filename}); remove the password first")
        if len({info.filename for info in infos}) != len(infos):
            raise DocumentError(f"{filename} names a member twice; refusing the archive")
        check_sizes([(i.filename, i.file_size, i.compress_size) for i in infos], len(data), filename, limits)
        self.infos = infos
        self.names = [info.filename for info in infos]
        self._replaced: dict[str, bytes] = {}

    def read(self, name: str) -> bytes:
        """A member's bytes (its replacement, if it has one)."""
        if name in self._replaced:
            return self._replaced[name]
        try:
            return self._zip.read(name)
        except KeyError:
            raise DocumentError(f"{self.filename} has no member {name}; is the file damaged?") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, OSError, ValueError, EOFError,
                NotImplementedError) as error:
            raise DocumentError(f"{self.filename}: member {name} cannot be unpacked ({error})") from None

    def xml(self, name: str) -> etree._Element:
        """A member parsed as XML, after the entity checks."""
        return parse_xml(self.read(name), f"{self.filename}: {name}")

    def replace(self, name: str, data: bytes | etree._Element) -> None:
        """Give ``name`` new content (bytes, or an XML element to serialize)."""
        self._replaced[name] = data if isinstance(data, bytes) else serialize_xml(data)

    def write(self) -> bytes:
        """The archive with the replaced members, every member in its place and with its compression."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in self.infos:
                copy = zipfile.ZipInfo(info.filename, info.date_time)
                copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
                target.writestr(copy, self.read(info.filename))
        return out.getvalue()
