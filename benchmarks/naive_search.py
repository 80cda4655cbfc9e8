"""The naive baseline: one sentence at a time, one hypothesis at a time, Python lists for the beam.

This is how the PyTorch seq2seq tutorial (and many a first beam search) decodes: encode one
sentence, then at every step run each live hypothesis through ``model.step`` on its own (batch of
one), collect ``beam_size`` candidates from each in a Python list, sort the list and keep the
best. It uses the same model, length penalty and output cap as the library's batched search,
so the benchmark's "x naive" column measures the search, not the model. It calls the plain
``Seq2Seq.step``, as the tutorial's decoder would: the library's precomputed embedding products
(``translator/model/inference.py``) are part of what the comparison measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from translator.model.seq2seq import Seq2Seq
from translator.search.options import DEFAULT_SEARCH
from translator.text.tokenizer import BOS_ID, EOS_ID


@dataclass
class _Hypothesis:
    token_ids: list[int]  # generated pieces, EOS included once finished
    log_prob: float  # sum of the pieces' log-probabilities
    state: tuple[torch.Tensor, ...]  # decoder state after the last piece, (layers, 1, hidden)


def _normalised(hypothesis: _Hypothesis, alpha: float) -> float:
    """Score divided by the GNMT length penalty, as in translator.search.hypotheses.length_normaliser."""
    return hypothesis.log_prob / (((5.0 + len(hypothesis.token_ids)) / 6.0) ** alpha if alpha else 1.0)


@torch.no_grad()
def naive_translate_ids(
    model: Seq2Seq,
    source_ids: list[int],
    beam_size: int,
    length_penalty: float = DEFAULT_SEARCH.length_penalty,
    max_output_length: int = DEFAULT_SEARCH.max_output_length,
    max_output_ratio: float = DEFAULT_SEARCH.max_output_ratio,
) -> list[int]:
    """Best output pieces (no BOS/EOS) for one tokenized sentence; ``beam_size`` 1 is greedy."""
    sequence = source_ids + [EOS_ID]
    src = torch.tensor([sequence])  # (1, src_len)
    memory, state = model.encode(src, torch.tensor([len(sequence)]))
    limit = min(max_output_length, max(1, math.ceil(len(sequence) * max_output_ratio)))
    live = [_Hypothesis([], 0.0, state)]
    finished: list[_Hypothesis] = []
    for _ in range(limit):
        candidates = []
        for hypothesis in live:  # one model call per hypothesis: the Python loop over beams
            previous = hypothesis.token_ids[-1] if hypothesis.token_ids else BOS_ID
            logits, new_state, _ = model.step(torch.tensor([previous]), hypothesis.state, memory)
            log_probs = torch.log_softmax(logits[0].float(), dim=-1)  # (vocab,)
            top_log_probs, top_ids = log_probs.topk(beam_size)
            for log_prob, piece in zip(top_log_probs.tolist(), top_ids.tolist()):
                candidates.append(
                    _Hypothesis(hypothesis.token_ids + [piece], hypothesis.log_prob + log_prob, new_state)
                )
        candidates.sort(key=lambda h: _normalised(h, length_penalty), reverse=True)
        live = []
        for candidate in candidates[: beam_size - len(finished)]:
            (finished if candidate.token_ids[-1] == EOS_ID else live).append(candidate)
        if not live:
            break
    best = max(finished + live, key=lambda h: _normalised(h, length_penalty))
    return best.token_ids[:-1] if best.token_ids and best.token_ids[-1] == EOS_ID else best.token_ids


def naive_translate(translator, texts: list[str], beam_size: int,
                    length_penalty: float = DEFAULT_SEARCH.length_penalty) -> list[str]:
    """Translate ``texts`` one by one with :func:`naive_translate_ids` and a ``Translator``'s model."""
    model = translator.model
    outputs = []
    for source_ids in translator.source_tokenizer.encode([text.strip() for text in texts]):
        outputs.append(naive_translate_ids(model, source_ids, beam_size, length_penalty))
    return translator.target_tokenizer.decode(outputs)
