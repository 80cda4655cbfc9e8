"""Glossary entries: ``source term -> target term``, or a term kept as it is; parsed and checked once.

A glossary comes as a mapping (``{"Vertrag": "contract", "Acme Cloud": null}``), a list of entries
(``[{"source": "Vertrag", "target": "contract"}, {"source": "Acme Cloud", "keep": true}]``) or a TSV file
(``source<TAB>target``; a line with no target, or the same text on both sides, keeps the term as is). Every
check raises :class:`GlossaryError` naming the entry (or file and line) at fault.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

MAX_ENTRIES = 1000
"""Entries in one glossary: beyond, matching every sentence against it costs more than it is worth."""
MAX_TERM_CHARS = 100
"""Characters in one term (source or target)."""


class GlossaryError(ValueError):
    """A glossary that cannot be used; the message names the entry, or the file and line, at fault."""


@dataclass(frozen=True)
class GlossaryEntry:
    """One term: ``target`` is what ``source`` must translate to (the source itself for a keep-as-is entry)."""

    source: str
    target: str

    @property
    def keep(self) -> bool:
        """Whether the term passes through as written."""
        return self.source == self.target


@dataclass(frozen=True)
class Glossary:
    """Checked entries, in the order given; sources differ (case-insensitively)."""

    entries: tuple[GlossaryEntry, ...]

    def __len__(self) -> int:
        return len(self.entries)

    def as_mapping(self) -> dict[str, str | None]:
        """The ``{"source": "target"}`` form (None for a keep-as-is entry), as the API shows it."""
        return {entry.source: None if entry.keep else entry.target for entry in self.entries}


def _clean(term: Any, what: str, where: str) -> str:
    if not isinstance(term, str):
        raise GlossaryError(f"{where}: the {what} term must be a string, got {type(term).__name__}")
    try:
        term.encode("utf-8")
    except UnicodeEncodeError as error:
        raise GlossaryError(f"{where}: the {what} term holds an unpaired surrogate at character {error.start}; "
                            "send valid Unicode") from None
    term = " ".join(unicodedata.normalize("NFC", term).split())
    if not term:
        raise GlossaryError(f"{where}: the {what} term is empty")
    if len(term) > MAX_TERM_CHARS:
        raise GlossaryError(f"{where}: the {what} term has {len(term)} characters, more than the limit of "
                            f"{MAX_TERM_CHARS}")
    return term


def build_glossary(pairs: Iterable[tuple[Any, Any, str]]) -> Glossary:
    """A glossary from ``(source, target or None, where)`` triples; ``where`` names the entry in messages.

    Raises:
        GlossaryError: an empty or overlong term, more than :data:`MAX_ENTRIES` entries, or one source given two
            different targets.
    """
    entries: list[GlossaryEntry] = []
    seen: dict[str, tuple[GlossaryEntry, str]] = {}
    for source, target, where in pairs:
        if len(entries) >= MAX_ENTRIES:
            raise GlossaryError(f"the glossary has more than {MAX_ENTRIES} entries, the limit; split it or drop "
                                "entries that never occur")
        source = _clean(source, "source", where)
        target = source if target is None or (isinstance(target, str) and not target.strip()) \
            else _clean(target, "target", where)
        entry = GlossaryEntry(source, target)
        key = source.casefold()
        if key in seen:
            earlier, earlier_where = seen[key]
            if earlier.target != entry.target:
                raise GlossaryError(f"{where}: {source!r} is given two targets, {earlier.target!r} ({earlier_where}) "
                                    f"and {entry.target!r}; keep one")
            continue
        seen[key] = (entry, where)
        entries.append(entry)
    return Glossary(tuple(entries))


def parse_glossary(value: Any) -> Glossary:
    """A glossary from its JSON form: a mapping ``{source: target}`` (``null`` or ``""`` keeps the term), or a list
    of ``{"source": ..., "target": ...}`` / ``{"source": ..., "keep": true}`` objects.

    Raises:
        GlossaryError: not one of those forms, or an entry that fails a check of :func:`build_glossary`.
    """
    if isinstance(value, Glossary):
        return value
    if isinstance(value, Mapping):
        return build_glossary((source, target, f"entry {source!r}") for source, target in value.items())
    if isinstance(value, list):
        return build_glossary(_list_entry(item, number) for number, item in enumerate(value, 1))
    raise GlossaryError("a glossary is an object {\"source term\": \"target term\"} or a list of "
                        "{\"source\": ..., \"target\": ...} entries")


def _list_entry(item: Any, number: int) -> tuple[Any, Any, str]:
    where = f"entry {number}"
    if not isinstance(item, Mapping) or "source" not in item:
        raise GlossaryError(f"{where}: an entry is an object with \"source\" and \"target\" (or \"keep\": true)")
    unknown = sorted(set(item) - {"source", "target", "keep"})
    if unknown:
        raise GlossaryError(f"{where}: unknown field(s) {unknown}; an entry has source, target and keep")
    keep = item.get("keep", False)
    if not isinstance(keep, bool):
        raise GlossaryError(f"{where}: keep must be true or false")
    if keep and item.get("target") not in (None, "", item["source"]):
        raise GlossaryError(f"{where}: an entry kept as is has no other target")
    if not keep and item.get("target") is None:
        raise GlossaryError(f"{where}: give a target, or \"keep\": true to keep the term as is")
    return item["source"], None if keep else item["target"], where


def parse_glossary_tsv(text: str, name: str = "<glossary>") -> Glossary:
    """A glossary from TSV lines ``source<TAB>target``; an empty target (or none) keeps the term; blank lines and
    lines starting with ``#`` are skipped. Messages name ``name`` and the line.

    Raises:
        GlossaryError: a line with more than two fields, or a failed check of :func:`build_glossary`.
    """
    def triples() -> Iterable[tuple[Any, Any, str]]:
        for number, line in enumerate(text.splitlines(), 1):
            if (not line.strip() and "\t" not in line) or line.lstrip().startswith("#"):
                continue  # (a line holding only a tab is an entry with an empty source: an error, not blank)
            fields = line.split("\t")
            if len(fields) > 2:
                raise GlossaryError(f"{name}, line {number}: expected 'source<TAB>target', found {len(fields)} fields")
            yield fields[0], fields[1] if len(fields) == 2 else None, f"{name}, line {number}"

    return build_glossary(triples())


def read_glossary_tsv(path: str | Path) -> Glossary:
    """:func:`parse_glossary_tsv` of a UTF-8 file.

    Raises:
        GlossaryError: the file cannot be read or decoded, or a line fails a check.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise GlossaryError(f"cannot read glossary {path}: {error}") from None
    return parse_glossary_tsv(text, str(path))
