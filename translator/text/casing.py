"""Input in any casing: restore the usual casing of all-lower-case and ALL-UPPER-CASE text.

A model trained on normally cased sentences sees lower-cased or upper-cased input as a string of
rare pieces (on the shipped de-en model, test2016 upper-cased scores 0.02 BLEU). Instead of
teaching every model a second and third spelling of every word, the :class:`CaseRestorer` puts
such input back into the casing the model knows before it is translated: each word becomes its
most frequent spelling in the model's training text (``Mann`` for ``mann`` and ``MANN``, ``straße``
for ``STRASSE``), and the first letter of the sentence is capitalised. This is the frequency
truecaser of statistical MT (Moses' ``truecase.perl``), applied only when a sentence has no cased
letters of the other kind, so normally cased input is passed through unchanged and translates
exactly as before. An upper-case input gets an upper-case translation, since headlines and
shouted text should stay so.

The table is built from the training sources (:meth:`CaseRestorer.from_lines`) and stored as
``casing.json`` in the checkpoint directory. For a source language that writes every noun with a capital
(German), it also lists the words the *target* language usually writes with a capital
(:attr:`CaseRestorer.target_capitalised`): there, a capital alone does not mark a name, and this list says which
capitalised source words are names (:func:`translator.text.names.name_spans`).

Sacremoses' truecaser was not used: it works on its own tokenization (the text comes back re-spaced) and
has no key for upper-case spellings, which ``ß`` (upper ``SS``) needs.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from translator.store.atomic import write_text_atomic

WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # letters, with inner apostrophes (l'homme)
CASING_FILE = "casing.json"
FORMAT_VERSION = 1
Style = Literal["lower", "upper"]


def casing_style(text: str, min_letters: int = 2) -> Style | None:
    """``"lower"`` or ``"upper"`` when every cased letter of ``text`` is of that case, else None.

    Text with fewer than ``min_letters`` cased letters (a number, "a", "I") is left alone.
    """
    has_lower = has_upper = False
    letters = 0
    for char in text:
        if char.islower():
            has_lower = True
        elif char.isupper():
            has_upper = True
        else:
            continue
        letters += 1
        if has_lower and has_upper:
            return None
    if letters < min_letters:
        return None
    return "lower" if has_lower else "upper"


def _first_letter(text: str) -> int | None:
    """Index of ``text``'s first letter when only spaces and punctuation (quotes, brackets, ``¿``) come before it;
    None when a digit, a placeholder or a symbol comes first, or there is no letter."""
    for index, char in enumerate(text):
        if char.isalpha():
            return index
        if not (char.isspace() or unicodedata.category(char).startswith("P")):
            return None
    return None


def capitalise_like(output: str, source: str) -> str:
    """``output`` with its first letter in capitals when ``source``'s first letter is a capital and the output's
    first word is all lower case: a sentence, heading or capitalised word comes back capitalised, as Google's and
    DeepL's translations do (the models write *horses are animals.* for *Pferde sind Tiere.* now and then, and
    FreeDict's word list teaches them lower-case single words). *iPhone* stays, and so does an output whose source
    starts with a digit or a placeholder (*3 Hunde* gives *3 dogs*)."""
    source_at, output_at = _first_letter(source), _first_letter(output)
    if source_at is None or output_at is None or not source[source_at].isupper():
        return output
    word = WORD.match(output, output_at)
    if word is None or not word.group().islower():
        return output
    return output[:output_at] + output[output_at].upper() + output[output_at + 1:]


COPIED = 0.1
"""A name is copied into a translation and a noun is translated, so a capitalised spelling the translations use
less than this share as often as the sources is a noun, not a name: in de-en's training data *Sieg* is written
123 times in the German and once in the English, *Techniker* 15 and 1, *Zürich* 7 and 1, *Merkel* 19 and 21."""


def target_capitalised(source_lines: Iterable[str], target_lines: Iterable[str]) -> frozenset[str]:
    """The words written with a capital and then lower case (*Zürich*) that are the usual spelling of a word of
    ``target_lines`` (counted as :meth:`CaseRestorer.from_lines` counts) and that the targets write at least
    :data:`COPIED` times as often as the sources."""
    target_lines = list(target_lines)
    usual = CaseRestorer.from_lines(target_lines).lower.values()
    names = {word for word in usual if word[:1].isupper() and word[1:].islower()}

    def counts(lines: Iterable[str]) -> Counter[str]:
        return Counter(word for line in lines for word in WORD.findall(line) if word in names)

    in_targets, in_sources = counts(target_lines), counts(source_lines)
    return frozenset(word for word in names if in_targets[word] >= COPIED * in_sources[word])


@dataclass
class CaseRestorer:
    """Most frequent spellings of words, keyed by their lower-case and upper-case forms.

    Only entries that differ from the fallback are stored: ``lower[k]`` when the usual spelling
    of lower-case ``k`` is not ``k`` itself; ``upper[k]`` when the usual spelling of upper-case
    ``k`` is not what ``lower`` gives for ``k.lower()`` (``STRASSE``: ``straße``, not ``strasse``).
    ``target_capitalised``: the target side's names, as :func:`target_capitalised` finds them; empty unless the
    table was built with target lines.
    """

    lower: dict[str, str]
    upper: dict[str, str]
    target_capitalised: frozenset[str] = frozenset()

    @classmethod
    def from_lines(cls, lines: Iterable[str], target_lines: Iterable[str] | None = None) -> "CaseRestorer":
        """Count spellings in (normally cased) sentences. A sentence's first word only counts
        for words never seen elsewhere, since its capital comes from its position. With ``target_lines``
        (the translations of a source language whose nouns all have a capital), also list
        :attr:`target_capitalised` (:func:`target_capitalised`)."""
        if target_lines is not None:
            lines = list(lines)  # read twice
        inner: dict[str, Counter[str]] = defaultdict(Counter)
        initial: dict[str, Counter[str]] = defaultdict(Counter)
        for line in lines:
            for position, match in enumerate(WORD.finditer(line)):
                word = match.group()
                (initial if position == 0 else inner)[word.lower()][word] += 1
        lower: dict[str, str] = {}
        upper_counts: dict[str, Counter[str]] = defaultdict(Counter)
        for key in inner.keys() | initial.keys():
            counts = inner.get(key) or initial[key]
            best = counts.most_common(1)[0][0]
            if best != key:
                lower[key] = best
            for spelling, count in counts.items():
                upper_counts[spelling.upper()][spelling] += count
        upper = {}
        for key, counts in upper_counts.items():
            best = counts.most_common(1)[0][0]
            if best != lower.get(key.lower(), key.lower()):
                upper[key] = best
        names = frozenset() if target_lines is None else target_capitalised(lines, target_lines)
        return cls(lower, upper, names)

    def spelling(self, word: str, style: Style) -> str:
        """The usual spelling of one all-lower or all-upper ``word``."""
        if style == "lower":
            return self.lower.get(word, word)
        if word in self.upper:
            return self.upper[word]
        return self.lower.get(word.lower(), word.lower())

    def restore(self, text: str) -> tuple[str, Style | None]:
        """``text`` in normal casing and the style it came in; normally cased text is unchanged.

        >>> CaseRestorer({"mann": "Mann"}, {"MANN": "Mann"}).restore("EIN MANN LACHT.")
        ('Ein Mann lacht.', 'upper')
        """
        style = casing_style(text)
        if style is None:
            return text, None
        restored = WORD.sub(lambda match: self.spelling(match.group(), style), text)
        for position, char in enumerate(restored):
            if char.isalpha():
                restored = restored[:position] + char.upper() + restored[position + 1:]
                break
        return restored, style

    @staticmethod
    def apply_style(translation: str, style: Style | None) -> str:
        """Give a translation the input's style: upper-case for upper-case input, else unchanged."""
        return translation.upper() if style == "upper" else translation

    def save(self, directory: str | Path) -> Path:
        """Write ``casing.json`` into ``directory`` (atomically: a kill leaves the old file or the new)."""
        path = Path(directory) / CASING_FILE
        payload: dict = {"format_version": FORMAT_VERSION, "lower": self.lower, "upper": self.upper}
        if self.target_capitalised:  # absent otherwise, so tables without it keep their bytes and hashes
            payload["target_capitalised"] = sorted(self.target_capitalised)
        write_text_atomic(path, json.dumps(payload, ensure_ascii=False, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "CaseRestorer | None":
        """The directory's table, or None when it has no ``casing.json`` (unverified: checkpoints
        are loaded through :func:`translator.store.checkpoint.load_checkpoint`, which checks the manifest)."""
        path = Path(directory) / CASING_FILE
        return cls.parse(path.read_bytes(), path) if path.exists() else None

    @classmethod
    def parse(cls, raw: bytes, path: str | Path) -> "CaseRestorer":
        """A table from the bytes of ``casing.json``.

        Raises:
            ValueError: naming ``path``, when it is not a casing table of this format.
        """
        try:
            payload = json.loads(raw.decode("utf-8"))
            if payload.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"format_version {payload.get('format_version')!r}, expected {FORMAT_VERSION}")
            lower, upper = payload["lower"], payload["upper"]
            if not all(isinstance(k, str) and isinstance(v, str) for table in (lower, upper) for k, v in table.items()):
                raise ValueError("entries must map strings to strings")
            names = payload.get("target_capitalised", [])
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                raise ValueError("target_capitalised must be a list of strings")
        except (ValueError, KeyError, AttributeError, TypeError) as error:
            raise ValueError(f"{path} is not a valid casing table: {error}") from None
        return cls(lower, upper, frozenset(names))
