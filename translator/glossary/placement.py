"""Where a glossary term goes in a translation: the words the model wrote for the term's source words.

A first search translates freely (with attention). For each term the output does not already hold, the word of
the output that is the model's own translation of it is the word start ``j`` with the best
``log p(term's first piece at j) + log(attention on the term's source around j)``: the model's probabilities,
from one teacher-forced pass over the output (:func:`piece_log_probs`), say where the term fits the sentence
(not in place of the article before it), and attention says which of those places translates the term (the
window takes in the piece before ``j``, as attention sometimes peaks one piece early or late); the whole word
around that piece is replaced by the term's pieces (capitalised where the replaced word was, at the start). The
output up to the last replaced term becomes a forced prefix for a second search, which continues from there, so
what follows the term fits it (*A waitress ... her*, not *... his*). A term whose source could not be located
(or that no word attends to) goes at the end of the prefix.
"""

from __future__ import annotations

import re
from typing import Sequence

import torch

from translator.glossary.matching import TermConstraint
from translator.search.hypotheses import occurrences
from translator.search.protocol import DecodingModel
from translator.text.tokenizer import BOS_ID, PAD_ID, Tokenizer

WORD_START = "\u2581"


def written(target: str, text: str) -> bool:
    """Whether ``target`` stands in ``text`` as whole words, case-insensitively."""
    return re.search(r"(?<!\w)" + re.escape(target) + r"(?!\w)", text, re.IGNORECASE) is not None


def missing_terms(token_ids: Sequence[int], terms: Sequence[TermConstraint],
                  tokenizer: Tokenizer) -> list[TermConstraint]:
    """The terms the output ``token_ids`` does not hold."""
    text = tokenizer.decode([list(token_ids)])[0]
    return [term for term in terms if not written(term.target, text)]


@torch.inference_mode()
def piece_log_probs(model: DecodingModel, src_ids: torch.Tensor, src_lengths: torch.Tensor,
                    outputs: Sequence[Sequence[int]], watched: Sequence[Sequence[int]]) -> torch.Tensor:
    """(sentences, longest output + 1, most watched) log-probabilities of each sentence's ``watched`` pieces at
    every position of its output, by one teacher-forced pass (a row per sentence, no beam)."""
    device = src_ids.device
    memory, state = model.encode(src_ids, src_lengths)
    steps = max(len(output) for output in outputs) + 1
    forced = torch.full((len(outputs), steps), PAD_ID, dtype=torch.long)
    for row, output in enumerate(outputs):
        forced[row, : len(output)] = torch.tensor(list(output), dtype=torch.long)
    watch = torch.full((len(outputs), max(1, max(len(w) for w in watched))), PAD_ID, dtype=torch.long)
    for row, pieces in enumerate(watched):
        watch[row, : len(pieces)] = torch.tensor(list(pieces), dtype=torch.long)
    forced, watch = forced.to(device), watch.to(device)
    prev_ids = torch.full((len(outputs),), BOS_ID, dtype=torch.long, device=device)
    collected = []
    for step in range(steps):
        logits, state, _ = model.step(prev_ids, state, memory)
        collected.append(torch.log_softmax(logits.float(), dim=-1).gather(1, watch))
        prev_ids = forced[:, step]
    return torch.stack(collected, dim=1).cpu()


def through_terms(token_ids: Sequence[int], keep: int, terms: Sequence[TermConstraint]) -> int:
    """``keep`` moved on to the end of the last place where one of ``terms`` stands in ``token_ids`` (as its own
    pieces), so that a search forced to start with ``token_ids[:result]`` keeps the terms the output already had."""
    for term in terms:
        starts = [start for start in occurrences(token_ids, term.target_ids) if start >= keep]
        if starts:
            keep = max(keep, starts[-1] + len(term.target_ids))
    return keep


def place_terms(token_ids: Sequence[int], attention: torch.Tensor | None, missing: Sequence[TermConstraint],
                tokenizer: Tokenizer, log_probs: torch.Tensor | None = None,
                written_terms: Sequence[TermConstraint] = ()) -> tuple[list[int], int] | None:
    """The output ``token_ids`` with the ``missing`` terms put in place (module docstring), and how many of its
    pieces (up to the end of the last term placed) the second search must keep; None when nothing is missing.

    ``attention`` is the output's (output_len, src_len) attention (EOS step included), or None; ``log_probs``
    (output_len + 1, len(missing)) the log-probability of each missing term's first piece at each position
    (:func:`piece_log_probs`), or None to go by attention alone. A word of the output that is one of the
    ``written_terms`` (the sentence's terms the output has) is never replaced by another term.
    """
    if not missing:
        return None
    text = tokenizer.decode([list(token_ids)])[0]
    pieces = tokenizer.id_to_piece(token_ids)
    starts = [i for i, piece in enumerate(pieces) if piece.startswith(WORD_START)] + [len(pieces)]
    # A word ends where the next begins, or at punctuation written against it ("cake" "." ends before ".").
    ends = [i for i, piece in enumerate(pieces) if piece.startswith(WORD_START) or not piece[:1].isalnum()]
    ends.append(len(pieces))
    replacements: dict[int, tuple[int, TermConstraint]] = {}  # word start -> (word end, term)
    taken = {start for start in starts[:-1] if _term_at(token_ids, start, written_terms)}
    appended: list[TermConstraint] = []
    for number, term in enumerate(missing):
        fit = None if log_probs is None else log_probs[: len(pieces), number]
        where = _peak(attention, term.source_positions, len(pieces), starts[:-1], fit, taken)
        if where is None:
            appended.append(term)
            continue
        start = max([s for s in starts if s <= where], default=0)
        end = min(e for e in ends if e > start)
        if start in replacements:
            appended.append(term)
            continue
        replacements[start] = (end, term)
    ids: list[int] = []
    cursor = 0
    for start in sorted(replacements):
        end, term = replacements[start]
        ids += list(token_ids[cursor:start]) + _term_ids(term, tokenizer, capitalise=start == 0 and text[:1].isupper())
        cursor = end
    for term in appended:
        ids += list(term.target_ids)
    keep = len(ids)
    ids += list(token_ids[cursor:])
    return ids, keep


def _term_at(token_ids: Sequence[int], start: int, terms: Sequence[TermConstraint]) -> bool:
    """Whether one of ``terms`` is written in ``token_ids`` from ``start`` on."""
    return any(start in occurrences(token_ids, term.target_ids) for term in terms)


def _peak(attention: torch.Tensor | None, positions: Sequence[int], output_len: int, starts: Sequence[int],
          fit: torch.Tensor | None, taken: set[int] = frozenset()) -> int | None:
    """The word start (not EOS) of the output word that translates the source ``positions`` (module docstring),
    not one of ``taken``; None without attention or positions, or when every word is taken."""
    if attention is None or not positions or output_len == 0 or not starts:
        return None
    columns = [p for p in positions if p < attention.size(1)]
    if not columns:
        return None
    mass = attention[:output_len, columns].float().sum(dim=1)  # (output_len,)
    bounds = list(starts) + [output_len]
    scores = []
    for start, end in zip(bounds, bounds[1:]):
        near = float(mass[max(0, start - 1): max(end, start + 1)].max())
        score = torch.log(torch.tensor(near + 1e-3)) + (float(fit[start]) if fit is not None else 0.0)
        scores.append(torch.tensor(float("-inf")) if start in taken else score)
    best = int(torch.stack(scores).argmax())
    return None if bounds[best] in taken else bounds[best]


def _term_ids(term: TermConstraint, tokenizer: Tokenizer, capitalise: bool) -> list[int]:
    if capitalise and term.target[:1].islower():
        return tokenizer.encode([term.target[:1].upper() + term.target[1:]])[0]
    return list(term.target_ids)
