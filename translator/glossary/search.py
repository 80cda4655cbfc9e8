"""Search that writes a source's glossary terms: how :meth:`translator.translate.Translator.translate_ids` searches a
batch in which some sources have terms (:attr:`translator.seam.PreparedText.terms`).

"align", the default: a free search with attention; for each sentence whose best output lacks a term,
:mod:`translator.glossary.placement` puts the term where the output attends to the source term, and a second
search is forced to start with that output up to its last term and continues freely. "replace" keeps the free
output with the terms put in, without the second search; "trigger" forces a term's pieces as soon as search
starts writing its first one (:class:`~translator.search.constraints.Constraints`). The last two are kept for
``benchmarks/glossary.py``'s comparison.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Sequence

import torch

from translator.glossary.matching import TermConstraint
from translator.glossary.placement import missing_terms, piece_log_probs, place_terms, through_terms
from translator.search.beam import beam_rows, search
from translator.search.constraints import Constraints, ForcedPrefixes
from translator.search.hypotheses import Hypothesis, SearchResult, StepHook, hook_on
from translator.search.options import SearchOptions
from translator.search.protocol import DecodingModel
from translator.text.tokenizer import Tokenizer

GLOSSARY_METHODS = ("align", "trigger", "replace")
"""How search puts glossary terms in; "align" is the library's."""


def search_with_terms(model: DecodingModel, src: torch.Tensor, lengths: torch.Tensor, options: SearchOptions,
                      terms: Sequence[Sequence[TermConstraint]], tokenizer: Tokenizer, *, attention: bool,
                      step_hook: StepHook | None = None, method: str = "align") -> SearchResult:
    """Search ``src`` (padded source ids with EOS, one row per source) so that each output writes its ``terms``.

    ``tokenizer`` is the target's; ``attention``: keep each hypothesis's attention in the result.
    """
    if method not in GLOSSARY_METHODS:
        raise ValueError(f"unknown glossary method {method!r}; one of {', '.join(GLOSSARY_METHODS)}")
    if method == "trigger":
        forcing = Constraints(terms, src.size(1), beam_rows(options), src.device)
        return search(model, src, lengths, options, attention, step_hook, forcing)
    first = search(model, src, lengths, options.updated(return_attention=True), True, step_hook)
    missing = [missing_terms(hypotheses[0].token_ids, found, tokenizer) if hypotheses and found else []
               for hypotheses, found in zip(first.hypotheses, terms)]
    placing = [index for index, one in enumerate(missing) if one]
    fits = {}
    if placing:
        rows = torch.tensor(placing, device=src.device)
        fit = piece_log_probs(model, src[rows], lengths[rows.to(lengths.device)],
                              [first.hypotheses[index][0].token_ids for index in placing],
                              [[term.target_ids[0] for term in missing[index]] for index in placing])
        fits = {index: fit[row] for row, index in enumerate(placing)}
    prefixes: list[list[int]] = []
    replaced: dict[int, Hypothesis] = {}  # the free output with the terms put in, for each sentence re-searched
    for index, hypotheses in enumerate(first.hypotheses):
        placed = None
        if index in fits:
            best = hypotheses[0]
            present = [term for term in terms[index] if term not in missing[index]]
            placed = place_terms(best.token_ids, best.attention, missing[index], tokenizer, fits[index], present)
        if placed is not None:
            # (the free search's trace stays: confidence then judges the output the terms were put into)
            with_terms = dataclasses.replace(hypotheses[0], token_ids=placed[0], attention=None)
            if method == "replace":
                hypotheses[0], placed = with_terms, None
            else:
                replaced[index] = with_terms
        # The second search keeps the output up to the last term, the ones it already had included.
        prefixes.append([] if placed is None else placed[0][: through_terms(placed[0], placed[1], terms[index])])
        if not attention:
            for hypothesis in hypotheses:
                hypothesis.attention = None
    again = [index for index, prefix in enumerate(prefixes) if prefix]
    if again:
        rows = torch.tensor(again)
        forcing = ForcedPrefixes([prefixes[index] for index in again], beam_rows(options), src.device,
                                 word_continuations(tokenizer))
        second = search(model, src[rows.to(src.device)], lengths[rows.to(lengths.device)], options, attention,
                        hook_on(step_hook, rows), forcing)
        for index, hypotheses in zip(again, second.hypotheses):
            first.hypotheses[index] = hypotheses
            if not hypotheses or missing_terms(hypotheses[0].token_ids, terms[index], tokenizer):
                # A term the continuation dropped again (one written twice in the source, say): every term
                # stays written, in the free output with the terms put in.
                first.hypotheses[index] = [replaced[index], *hypotheses[1:]]
    return first


_CONTINUATIONS: weakref.WeakKeyDictionary[Tokenizer, torch.Tensor] = weakref.WeakKeyDictionary()


def word_continuations(tokenizer: Tokenizer) -> torch.Tensor:
    """(vocab,) bool: the target pieces that continue a word (no word mark, starting with a letter or digit);
    made once per tokenizer."""
    if tokenizer not in _CONTINUATIONS:
        pieces = tokenizer.id_to_piece(range(tokenizer.vocab_size))
        _CONTINUATIONS[tokenizer] = torch.tensor([piece[:1].isalnum() for piece in pieces])
    return _CONTINUATIONS[tokenizer]
