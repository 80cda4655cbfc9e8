"""The token-level seam: what crosses between text and search.

The string API (``Translator.translate``, ``translate_detailed``, ``translate_paragraphs``) and the
service's batching queue both work in three steps, the protocol :class:`BatchTranslator`:

1. ``prepare(texts)``: each text normalized, masked, case-restored and tokenized once, as a :class:`PreparedText`;
2. ``translate_ids(batch, options)``: one real batch of source ids searched as it is (the caller chose it,
   under one padded-token budget, :func:`padded_tokens`), giving a :class:`TokenTranslation` per source;
3. ``finish(prepared, result)``: pieces back to a :class:`Translation` with its n-best list and alignment,
   protected spans and the input's casing put back.

(As in CTranslate2, whose ``Translator.translate_batch`` takes tokens and an options object.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

from translator.confidence.calibration import Confidence
from translator.glossary.entries import Glossary
from translator.glossary.matching import TermConstraint
from translator.search.hypotheses import Hypothesis, StepHook
from translator.search.options import SearchOptions
from translator.text.casing import Style
from translator.text.protect import Masked


@dataclass
class Alignment:
    """Attention of one translation: weights[i][j] is target piece i's weight on source piece j."""

    source_pieces: list[str]
    target_pieces: list[str]
    weights: list[list[float]]


@dataclass
class Candidate:
    """One of the n-best outputs for a sentence."""

    text: str
    score: float


@dataclass
class Translation:
    """The best translation of one input, with its score, n-best list and optional attention.

    A text translated sentence by sentence (``Translator.translate_paragraphs``) that held several
    sentences has no alignment of its own: ``sentences`` holds each sentence's translation, with
    ``source`` set to the sentence. ``confidence`` (:mod:`translator.confidence`) is None for a model
    without a calibration file and for a blank text; a text of several sentences has their weighted mean.
    """

    text: str
    score: float
    n_best: list[Candidate] = field(default_factory=list)
    alignment: Alignment | None = None
    sentences: list["Translation"] | None = None
    source: str | None = None
    confidence: Confidence | None = None


@dataclass(frozen=True)
class PreparedText:
    """One input made ready for search: ``ids`` are its source pieces (EOS not included). A ``blank`` text
    (empty or whitespace) translates to ``""`` without search. ``style`` (the input's casing, see
    :mod:`translator.text.casing`) and ``masked`` (its protected spans, see :mod:`translator.text.protect`)
    tell ``finish`` what to put back. ``terms`` are the glossary terms found in it, which search must write
    (:mod:`translator.glossary`)."""

    ids: list[int]
    blank: bool = False
    style: Style | None = None
    masked: Masked | None = None
    terms: tuple[TermConstraint, ...] = ()


@dataclass
class TokenTranslation:
    """What search found for one source: ``options.n_best`` hypotheses (pieces, score, attention), best first.
    ``attention_asked``: whether the caller asked for attention (search may keep it for its own use, e.g. to put
    names back, without handing it on as an alignment)."""

    hypotheses: list[Hypothesis]
    attention_asked: bool = True


class BatchTranslator(Protocol):
    """A translator at the level of token ids: what the service's queue drives (and its tests fake)."""

    default_search: SearchOptions

    def prepare(self, texts: Sequence[str], restore_case: bool = True,
                glossary: Glossary | None = None) -> list[PreparedText]:
        """Each text ready for :meth:`translate_ids`, tokenized once, with the ``glossary`` terms it holds."""
        ...

    def translate_ids(self, batch: Sequence[Sequence[int]], options: SearchOptions,
                      step_hook: StepHook | None = None,
                      terms: Sequence[Sequence[TermConstraint]] | None = None) -> list[TokenTranslation | None]:
        """Search one batch of source ids as it is (each with its own glossary ``terms``, if given); None for a
        source the step hook abandoned."""
        ...

    def finish(self, prepared: PreparedText, result: TokenTranslation | None = None) -> Translation:
        """The Translation of ``prepared`` from its search result (none needed for a blank text)."""
        ...


def padded_tokens(longest: int, sentences: int) -> int:
    """Source positions a batch of ``sentences`` takes when its longest has ``longest`` pieces: every row is
    padded to the longest, EOS included. The one budget batches are cut by, in the library and the service."""
    return (longest + 1) * sentences
