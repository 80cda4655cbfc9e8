"""Finding glossary terms in a source sentence, and what each found term asks of search.

Matching is by whole words, case-insensitive and accent-insensitive (``Verträge`` folds to ``vertrage``), and
inflection-aware by suffix stripping: two words match when they are equal once folded, or when stripping a
common inflectional suffix (German -e -en -n -er -ern -es -s -ens, French/English -s -es -x, English 's) from the
text's word leaves the term's word (a stem of at least 3 letters for -s/-es, 4 for the others), or stripping one
from both leaves the same stem of at least 5 letters. So *Vertrag* matches *Vertrags*, *Verträge* and
*Verträgen*, the term *Verträge* matches *Vertrag*, and *contract* matches *contracts*; but the term *sicher*
does not match *sich* (a 4-letter stem is only taken from the text's side). What stripping cannot see is not matched:
irregular forms (*mouse/mice*, *œil/yeux*), stem changes beyond umlauts (*gehen/ging*), and compounds
(*Mietvertrag* does not contain the term *Vertrag*). The target side is not inflected: search writes the target
term as the glossary gives it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from translator.glossary.entries import Glossary, GlossaryEntry, GlossaryError
from translator.text.tokenizer import UNK_ID, Tokenizer

WORD = re.compile(r"\w+(?:'\w+)?")
WORD_START = "\u2581"
SHORT_SUFFIXES = ("es", "s")
LONG_SUFFIXES = ("ern", "ens", "en", "er", "e", "n", "x", "'s")


@dataclass(frozen=True)
class TermMatch:
    """A glossary entry found in a text: the character spans of its occurrences (the first first)."""

    entry: GlossaryEntry
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class TermConstraint:
    """What search must do for one term of one sentence: write ``target_ids`` once; ``source_positions`` are the
    source pieces of the term (where attention looks when the term is due), empty when they could not be located."""

    target_ids: tuple[int, ...]
    source_positions: tuple[int, ...]
    target: str = ""


def fold(word: str) -> str:
    """Lower case without accents: ``Verträge`` -> ``vertrage``."""
    decomposed = unicodedata.normalize("NFD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).replace("ß", "ss")


@lru_cache(maxsize=65536)
def word_forms(word: str, shortest: int = 0) -> frozenset[str]:
    """The folded word and the stems left by stripping one inflectional suffix (module docstring); stems of at
    least ``shortest`` letters (and at least 3 for -s/-es, 4 for the other suffixes)."""
    folded = fold(word)
    forms = {folded}
    for suffixes, least in ((SHORT_SUFFIXES, 3), (LONG_SUFFIXES, 4)):
        for suffix in suffixes:
            if folded.endswith(suffix) and len(folded) - len(suffix) >= max(least, shortest):
                forms.add(folded[: -len(suffix)])
    return frozenset(forms)


def words_match(text_word: str, term_word: str) -> bool:
    """Whether a word of the text is a form of a word of a term (module docstring)."""
    term = fold(term_word)
    text_forms = word_forms(text_word)
    return term in text_forms or not word_forms(text_word, 5).isdisjoint(word_forms(term_word, 5) - {term})


@lru_cache(maxsize=64)
def _index(glossary: Glossary) -> dict[str, list[tuple[int, GlossaryEntry, tuple[str, ...]]]]:
    """The glossary's entries (with their place in it and their words) by every form their first word may be met
    in: its folded self, and its stems of at least 5 letters (see :func:`words_match`), so a text word looks up its
    candidates instead of trying every entry."""
    index: dict[str, list[tuple[int, GlossaryEntry, tuple[str, ...]]]] = {}
    for order, entry in enumerate(glossary.entries):
        term = tuple(WORD.findall(entry.source))
        if not term:
            continue
        for form in word_forms(term[0], 5) | {fold(term[0])}:
            index.setdefault(form, []).append((order, entry, term))
    return index


def find_terms(text: str, glossary: Glossary) -> list[TermMatch]:
    """The entries of ``glossary`` that occur in ``text``, in order of first occurrence. Where matches overlap, the
    longer term wins (*Acme Cloud Server* over *Acme Cloud*), then the one written as in the text (*Hunde* takes
    the entry *Hunde*, not *Hund*), then the earlier entry of the glossary; an entry matched once per occurrence."""
    words = [(match.group(0), match.start(), match.end()) for match in WORD.finditer(text)]
    index = _index(glossary)
    found: list[tuple[int, int, int, int, GlossaryEntry]] = []  # (start, end, inexact words, order, entry)
    for start, (word, _, _) in enumerate(words):
        candidates = {order: (entry, term) for form in word_forms(word) | word_forms(word, 5)
                      for order, entry, term in index.get(form, ())}
        for order, (entry, term) in candidates.items():
            if start + len(term) <= len(words) and all(words_match(words[start + i][0], term[i])
                                                       for i in range(len(term))):
                inexact = sum(fold(words[start + i][0]) != fold(term[i]) for i in range(len(term)))
                found.append((words[start][1], words[start + len(term) - 1][2], inexact, order, entry))
    # Where matches overlap: the longer one; then the one whose words are written as in the text (Hunde: the entry
    # hunde, not hund); then the glossary's own order. Never the order of a set, which changes between processes.
    taken: list[tuple[int, int, GlossaryEntry]] = []
    for start, end, _, _, entry in sorted(found, key=lambda item: (-(item[1] - item[0]), item[0], item[2], item[3])):
        if all(end <= other_start or start >= other_end for other_start, other_end, _ in taken):
            taken.append((start, end, entry))
    by_entry: dict[GlossaryEntry, list[tuple[int, int]]] = {}
    for start, end, entry in sorted(taken, key=lambda item: item[0]):
        by_entry.setdefault(entry, []).append((start, end))
    return [TermMatch(entry, tuple(spans)) for entry, spans in by_entry.items()]


def piece_offsets(text: str, pieces: list[str]) -> list[tuple[int, int] | None] | None:
    """The character span in ``text`` of each sentencepiece piece (None for a bare word mark); None when the pieces
    do not spell ``text`` up to spaces (sentencepiece normalised a character)."""
    offsets: list[tuple[int, int] | None] = []
    position = 0
    for piece in pieces:
        body = piece.replace(WORD_START, "")
        if not body:
            offsets.append(None)
            continue
        while position < len(text) and text[position].isspace():
            position += 1
        if text[position:position + len(body)] != body:
            return None
        offsets.append((position, position + len(body)))
        position += len(body)
    return offsets


def term_constraints(text: str, source_pieces: list[str], glossary: Glossary,
                     target_tokenizer: Tokenizer) -> tuple[TermConstraint, ...]:
    """The constraints of the glossary terms in ``text`` (the text as tokenized into ``source_pieces``).

    Raises:
        GlossaryError: a matched target term has characters the target vocabulary cannot write.
    """
    matches = find_terms(text, glossary)
    if not matches:
        return ()
    offsets = piece_offsets(text, source_pieces)
    constraints = []
    for match in matches:
        target_ids = _target_ids(target_tokenizer, match.entry.target)
        positions = () if offsets is None else tuple(
            index for index, span in enumerate(offsets)
            if span is not None and any(span[0] < end and start < span[1] for start, end in match.spans)
        )
        constraints.append(TermConstraint(target_ids, positions, match.entry.target))
    return tuple(constraints)


def _target_ids(tokenizer: Tokenizer, target: str) -> tuple[int, ...]:
    ids = tuple(tokenizer.encode([target])[0])
    if not ids or UNK_ID in ids:
        raise GlossaryError(f"the target term {target!r} has characters this model cannot write; "
                            "spell it with the characters of the target language")
    return ids
