"""What a document must pass before any parser reads it, and the errors it gets when it does not.

A document is untrusted input: a zip archive may unpack to gigabytes (a zip bomb) or name members
``../../etc/passwd``; an XML part may declare entities that expand a kilobyte into gigabytes (the
"billion laughs") or read local files (external entities). Every archive is checked from its
directory before a member is unpacked (zipfile never returns more than a member's declared size, so
the declared sizes bound the work), and every XML part is checked by defusedxml (expat, refusing
entity declarations and external references) before lxml parses it with entities and the network
off. Every refusal is a :class:`DocumentError` whose message names the file and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import defusedxml
import defusedxml.ElementTree
from lxml import etree

MiB = 1024 * 1024


class DocumentError(ValueError):
    """A document that cannot be translated as it is; the message says why and what to do."""


class UnsupportedFormat(DocumentError):
    """The file is not one of the supported formats, or its content is not what its name says."""


class DocumentTooLarge(DocumentError):
    """The file, or what it unpacks to, is over a size limit."""


@dataclass(frozen=True)
class Limits:
    """Bounds on one document; the defaults take any ordinary office file, e-book or web page.

    ``max_ratio`` is unpacked size over packed size, checked for every member and for the whole
    archive once they unpack to more than ``ratio_floor_bytes`` (tiny parts compress very well).
    """

    max_file_bytes: int = 64 * MiB
    max_unpacked_bytes: int = 256 * MiB
    max_members: int = 10_000
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MiB


def check_file_size(size: int, filename: str, limits: Limits) -> None:
    """Refuse a file over ``limits.max_file_bytes``."""
    if size > limits.max_file_bytes:
        raise DocumentTooLarge(f"{filename} is {size / MiB:.1f} MiB, over the limit of "
                               f"{limits.max_file_bytes / MiB:.0f} MiB")


def check_member_name(name: str, filename: str) -> None:
    """Refuse a member name that is absolute, climbs out with ``..``, or hides a drive or a control character."""
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")
            or any(ord(char) < 32 for char in name)):
        raise DocumentError(f"{filename} holds a member with an unsafe path ({name!r}); refusing the archive")


def check_sizes(sizes: list[tuple[str, int, int]], archive_size: int, filename: str, limits: Limits) -> None:
    """Check an archive's directory: ``sizes`` holds each member's (name, unpacked, packed) size as declared."""
    if len(sizes) > limits.max_members:
        raise DocumentTooLarge(f"{filename} holds {len(sizes)} files, over the limit of {limits.max_members}")
    total = sum(unpacked for _, unpacked, _ in sizes)
    if total > limits.max_unpacked_bytes:
        raise DocumentTooLarge(f"{filename} unpacks to {total / MiB:.0f} MiB, over the limit of "
                               f"{limits.max_unpacked_bytes / MiB:.0f} MiB (a zip bomb?)")
    for name, unpacked, packed in sizes:
        if unpacked > limits.ratio_floor_bytes and unpacked > limits.max_ratio * max(packed, 1):
            raise DocumentTooLarge(f"{filename}: member {name} unpacks {unpacked / max(packed, 1):.0f} times its "
                                   f"packed size, over the limit of {limits.max_ratio:g} (a zip bomb?)")
    if total > limits.ratio_floor_bytes and total > limits.max_ratio * max(archive_size, 1):
        raise DocumentTooLarge(f"{filename} unpacks {total / max(archive_size, 1):.0f} times its size, over the "
                               f"limit of {limits.max_ratio:g} (a zip bomb?)")


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_blank_text=False)


def check_entities(data: bytes, where: str) -> None:
    """Refuse XML that declares entities or refers to external ones; malformed XML passes (the parser that
    reads it next refuses it, or it is only matched with regular expressions and never expanded)."""
    try:
        defusedxml.ElementTree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as error:
        raise DocumentError(f"{where} declares XML entities or external references ({type(error).__name__}); "
                            "refusing it") from None
    except defusedxml.ElementTree.ParseError:
        pass


def parse_xml(data: bytes, where: str) -> etree._Element:
    """Parse an XML part to edit it, after :func:`check_entities`; ``where`` names it in errors."""
    check_entities(data, where)
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise DocumentError(f"{where} is not well-formed XML ({error}); is the file damaged?") from None


def serialize_xml(root: etree._Element) -> bytes:
    """An edited XML part as bytes: UTF-8 with the XML declaration (and its ``standalone``) it was read with."""
    tree = root.getroottree()
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=tree.docinfo.standalone)
