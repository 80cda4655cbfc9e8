"""Glossaries: terms the user fixes (``entries``), found in source text (``matching``), put where the output
attends to them (``placement``) and written by a search forced to keep them (``search``). Imports only
``translator``."""

from translator.glossary.entries import (
    MAX_ENTRIES, MAX_TERM_CHARS, Glossary, GlossaryEntry, GlossaryError, parse_glossary, read_glossary_tsv,
)

__all__ = ["MAX_ENTRIES", "MAX_TERM_CHARS", "Glossary", "GlossaryEntry", "GlossaryError", "parse_glossary",
           "read_glossary_tsv"]
