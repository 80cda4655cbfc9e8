"""Glossaries: terms the user fixes (``entries``), found in source text (``matching``) and turned into target
pieces that search must produce (``translator.search.constraints``). Imports only ``translator``."""

from translator.glossary.entries import (
    MAX_ENTRIES, MAX_TERM_CHARS, Glossary, GlossaryEntry, GlossaryError, parse_glossary, read_glossary_tsv,
)

__all__ = ["MAX_ENTRIES", "MAX_TERM_CHARS", "Glossary", "GlossaryEntry", "GlossaryError", "parse_glossary",
           "read_glossary_tsv"]
