"""A fake translate function for document tests: each sentence's words upper-cased in reverse order, with an
attention that links every target word to the source word it came from."""

from __future__ import annotations

from translator.text.segment import split_sentences
from translator.translate import Alignment, Translation

WORD = "\u2581"


def reverse_words(texts: list[str], language: str = "de") -> list[Translation]:
    """Translate like :meth:`Translator.translate_paragraphs` with attention, but by reversing and upper-casing
    the words of each sentence: ``Ein großer Hund.`` → ``HUND. GROSSER EIN``."""
    results = []
    for text in texts:
        split = split_sentences(text, language)
        sentences = [_sentence(sentence) for sentence in split.sentences]
        joined = split.join([sentence.text for sentence in sentences])
        if len(sentences) == 1:
            results.append(Translation(joined, 0.0, alignment=sentences[0].alignment))
        else:
            results.append(Translation(joined, 0.0, sentences=sentences or None))
    return results


def _sentence(source: str) -> Translation:
    words = source.split()
    target = [word.upper() for word in reversed(words)]
    size = len(words) + 1
    weights = [[1.0 if s == len(words) - 1 - t else 0.0 for s in range(size)] for t in range(len(target))]
    weights.append([0.0] * len(words) + [1.0])
    alignment = Alignment([WORD + w for w in words] + ["</s>"], [WORD + w for w in target] + ["</s>"], weights)
    return Translation(" ".join(target), 0.0, alignment=alignment, source=source)
