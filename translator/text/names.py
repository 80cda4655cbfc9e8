"""Proper names kept: a rare name the model garbled is put back as the source wrote it, where attention says.

A model copies a name it has seen often (*Tom*, *Berlin*), but spells a rare one out of subword pieces and
often gets them wrong (*Ahmed* → *Ahdd*, *Pedro* → *Prroro*). After search, each capitalised source word that
is spelt with two or more source pieces (rare: a word the source vocabulary holds whole, *Ist* at the start of a
sentence, *Parliament* or *Libyen*, is one the model translates), is not an ordinary word with a capital (below),
and is missing from the output is looked up in the attention: the output word that attends to its pieces most is
replaced by it when that word

1. is capitalised and is not itself a word of the source,
2. is spelt with two or more target pieces too (a word the target vocabulary holds whole, *October* or *West*,
   is a translation, not a garbled copy: without this rule *October* became *Oktober*), and
3. shares enough letters with the source word (:data:`SIMILAR`, difflib's ratio), so a translation that merely
   attends to the name (*Oslo* → *Australien*) is left alone.

Before search, in a language that capitalises only names and sentence starts (German, whose nouns all have a
capital, :data:`CAPITALISES_NOUNS`, is below), a rare name is kept out of the model's hands altogether: it stands in
the source as a placeholder, as a number or a URL does (:mod:`translator.text.protect`), and is put back as
written. :func:`name_spans` says which words: each written with a capital and the rest in lower case, spelt with
two or more source pieces, inside a sentence (at a sentence's start only when the casing table's usual spelling
has the capital: *Ahmed*, not *Is*, which the training sources write in lower case inside sentences), and not in
a headline, where more than two thirds of the words start with a capital, nor in a sentence with more than
:data:`MAX_MASKED` of them. Without it a model drops a name it cannot spell (*The train to Ahmed leaves at 10:30*
→ *Le train à travers les feuilles...*).

A word the source vocabulary holds whole in lower case is an ordinary word that a title or a heading wrote with a
capital (*Frequently Asked Questions*, *Terms and Conditions*: each word one piece in lower case), not a name,
however many pieces its capitalised spelling takes (:func:`ordinary_word`): it is neither masked nor put back.
Without this rule en-de wrote *Asked Questions* and *Zahlungen und Conditions*, the words carried through
untranslated, and put *Methods* back over *Zahlungsmethoden*. No name of ``benchmarks/names.py`` has a lower-case
spelling of one piece in any shipped model's vocabulary (*ahmed*, *zürich*, *franklin*: two to five).

In German a capital marks every noun, so there a capitalised word of two or more pieces is a name only when the
target language also usually writes that exact spelling with a capital, and not ten times less often than the
source does (*Zürich*, *Jürgen*: the training data's list,
:attr:`translator.text.casing.CaseRestorer.target_capitalised`; not *Regierung*, nor *Sieg*, which English news
quotes now and then), with the same sentence-start rule (*Lassen Sie…* is no name, though English has one).
Without it, *Er wohnt in Zürich.* came out as *He lives in a leather.* No headline rule there: German headlines
are cased as sentences are.

Measured with ``benchmarks/names.py`` (names kept, and BLEU on Tatoeba val and newstest2012, which must not
fall): see *Proper names* in docs/translating.md.
"""

from __future__ import annotations

import difflib
import re
from typing import Callable, Collection, Mapping, Sequence

WORD_START = "\u2581"
SIMILAR = 0.5
MAX_MASKED = 3
"""A sentence with more rare names than this keeps them all in the model's hands (they are still put back when
garbled): a model given many placeholders at once scrambles them, and the words around them (en-de, a list of
footballers with their goals: *…David Villa Sergio Ramos und prim, 81 beide Andres Iniesta mit, . 62 . Cesc .*).
On all of newstest2012, beam 5, without → with this cap: en-de 11.22 → 11.36 BLEU (11.39 with no masking), de-en
13.57 → 13.57, fr-en 16.83 → 16.81, en-fr 16.78 → 16.75 (chrF +0.06, +0.01, −0.38, −0.20: docs/translating.md);
no Tatoeba val or Multi30k test2016 sentence has more."""
_NAME = re.compile(r"[^\W\d_][^\W\d_'’-]{2,}")
_OPENERS = "\"'“”„«»‘’‚‹›([{¿¡-–— \t\n"
_SENTENCE_END = ".!?:;…"

CAPITALISES_NOUNS = frozenset({"de", "lb"})
"""Languages whose nouns all start with a capital (German, Luxembourgish): a capital does not mark a name there,
so :func:`name_spans` needs the target language's capitalised words for their sources."""


def _words(pieces: Sequence[str]) -> list[tuple[str, list[int]]]:
    """The words the pieces spell, each with the indices of its pieces (a word starts at a word mark or at a piece
    that is not a letter or digit, as punctuation is split from words)."""
    words: list[tuple[str, list[int]]] = []
    for index, piece in enumerate(pieces):
        body = piece.replace(WORD_START, "")
        if not body or piece == "</s>":
            continue
        starts = piece.startswith(WORD_START) or not words or not body[:1].isalnum() \
            or not words[-1][0][-1:].isalnum()
        if starts:
            words.append((body, [index]))
        else:
            words[-1] = (words[-1][0] + body, words[-1][1] + [index])
    return words


def name_candidates(source_pieces: Sequence[str]) -> bool:
    """Whether the source has a word :func:`restore_names` could put back (capitalised, two or more pieces): search
    keeps attention, whose cost grows with the square of the output length, only for batches that have one."""
    return any(_candidate(name, columns) for name, columns in _words(source_pieces))


def _candidate(word: str, columns: Sequence[int]) -> bool:
    """A capitalised word of two or more source pieces (module docstring)."""
    return len(columns) >= 2 and word[:1].isupper() and _NAME.fullmatch(word) is not None


def ordinary_word(word: str, piece_count: Callable[[str], int]) -> bool:
    """Whether the source vocabulary holds ``word`` whole in lower case: an ordinary word that a title or heading
    wrote with a capital, not a name (``piece_count(word)``: how many source pieces spell ``word``)."""
    return piece_count(word.lower()) == 1


def _written(word: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text) is not None


def restore_names(output: str, source_pieces: Sequence[str], target_pieces: Sequence[str], weights,
                  translated: Collection[int] = (), piece_count: Callable[[str], int] | None = None) -> str:
    """``output`` (the detokenized translation of ``target_pieces``) with the garbled copies of the source's
    names replaced by the names (module docstring); ``weights[t][s]`` is target piece t's attention on source
    piece s (nested lists, or a tensor: read only when a name is missing from the output). A word with a piece
    among ``translated`` (source piece indices: a glossary's terms) has its translation and is not a name: without
    this, *Democracy* at a sentence's start undid the glossary's *Demokratie*. With ``piece_count`` (how many source
    pieces spell a word), an :func:`ordinary_word` is not a name either."""
    source_words = _words(source_pieces)
    translated = frozenset(translated)
    missing = [(name, columns) for name, columns in source_words
               if _candidate(name, columns) and not _written(name, output) and translated.isdisjoint(columns)
               and (piece_count is None or not ordinary_word(name, piece_count))]
    if not missing:
        return output
    weights = weights.tolist() if hasattr(weights, "tolist") else weights
    target_words = _words(target_pieces)
    source_set = {word for word, _ in source_words}
    for name, columns in missing:
        mass = [sum(weights[t][s] for t in rows if t < len(weights) for s in columns if s < len(weights[t]))
                for _, rows in target_words]
        if not mass:
            continue
        best = max(range(len(target_words)), key=mass.__getitem__)
        candidate, rows = target_words[best]
        if (not candidate[:1].isupper() or candidate in source_set or len(rows) < 2
                or difflib.SequenceMatcher(None, name.lower(), candidate.lower()).ratio() < SIMILAR
                or not _written(candidate, output)):
            continue
        output = re.sub(r"(?<!\w)" + re.escape(candidate) + r"(?!\w)", name, output, count=1)
    return output


def name_spans(text: str, piece_count: Callable[[str], int], usual_spelling: Mapping[str, str],
               capitalised_in_target: Collection[str] | None = None) -> list[tuple[int, int]]:
    """(start, end) of the rare proper names of ``text`` (module docstring), in order. ``piece_count(word)``: how
    many source pieces spell ``word``; ``usual_spelling``: the casing table's most frequent spellings, keyed by
    lower case (:attr:`translator.text.casing.CaseRestorer.lower`; empty without one: no sentence's first word is
    a name). For a source language of :data:`CAPITALISES_NOUNS`, ``capitalised_in_target`` is the list of words
    the target language capitalises (:attr:`~translator.text.casing.CaseRestorer.target_capitalised`): only those
    can be names; an empty list finds none."""
    words = list(_NAME.finditer(text))  # runs of three or more letters
    capitalised = [match for match in words if match.group()[0].isupper()]
    later = len(words) - 1
    if (capitalised_in_target is None and later >= 4
            and 3 * sum(1 for match in capitalised if match is not words[0]) > 2 * later):
        return []  # a headline: more than two thirds of the words have a capital
    spans = []
    for match in capitalised:
        word = match.group()
        if not word[1:].islower():
            continue
        if capitalised_in_target is not None and word not in capitalised_in_target:
            continue
        if _starts_sentence(text, match.start()) and usual_spelling.get(word.lower()) != word:
            continue
        # Last, as the tokenizer is the slowest test: rare as written, and not an ordinary word with a capital.
        if piece_count(word) >= 2 and not ordinary_word(word, piece_count):
            spans.append(match.span())
    return spans if len(spans) <= MAX_MASKED else []


def _starts_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` is the first of a sentence (only quotes, brackets or dashes before it)."""
    before = text[:start].rstrip(_OPENERS)
    return not before or before[-1] in _SENTENCE_END
