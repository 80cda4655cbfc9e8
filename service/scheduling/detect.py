"""Language detection for ``source_lang: "auto"`` and ``/detect``, limited to the languages the server knows.

Detection uses ``lingua-language-detector`` (n-gram models of 1–5 characters, accurate on short
texts such as captions) restricted to the languages of the loaded models: telling German from
English and French is far easier than picking among 75 languages, and a language no model
translates is never an answer. Accuracy on the Multi30k validation sentences is measured by
``benchmarks/detect_accuracy.py``. Languages lingua does not know (such as the test suite's
made-up codes) cannot be detected; when the server covers a single language, that is the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder


@dataclass(frozen=True)
class Detection:
    """One candidate language of a text; ``confidence`` is between 0 and 1."""

    language: str
    confidence: float


def lingua_language(code: str) -> Language | None:
    """lingua's Language for an ISO 639-1 code such as ``de``, or None when lingua does not know it."""
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
    except ValueError:
        return None


def language_name(code: str) -> str:
    """The English name of a language code (``de`` -> ``German``); the code itself when unknown."""
    language = lingua_language(code)
    return language.name.title() if language is not None else code


class LanguageDetector:
    """Detects which of ``languages`` (ISO 639-1 codes) a text is written in."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.languages = sorted(set(languages))
        known = [language for language in map(lingua_language, self.languages) if language is not None]
        # lingua needs two languages to choose between; it loads each language's models on first use.
        self._lingua = LanguageDetectorBuilder.from_languages(*known).build() if len(known) >= 2 else None
        self._only = self.languages[0] if len(self.languages) == 1 else None

    def detect(self, text: str) -> list[Detection]:
        """Candidate languages of ``text``, most likely first; empty when nothing can be told.

        Text without letters (digits, punctuation, whitespace) gives no candidates.
        """
        if not any(character.isalpha() for character in text):
            return []
        if self._only is not None:
            return [Detection(self._only, 1.0)]
        if self._lingua is None:
            return []
        values = self._lingua.compute_language_confidence_values(text)
        return [Detection(v.language.iso_code_639_1.name.lower(), v.value) for v in values if v.value > 0]


@lru_cache(maxsize=4)
def detector_for(languages: frozenset[str]) -> LanguageDetector:
    """A detector for exactly ``languages``, shared by every request while the loaded models stay the same."""
    return LanguageDetector(languages)
