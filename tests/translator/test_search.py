"""Properties of batched greedy and beam search on tiny untrained models."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.conftest import tiny_model
from translator.search.beam import beam_search
from translator.search.greedy import greedy_search
from translator.search.hypotheses import length_normaliser
from translator.search.options import SearchOptions
from translator.text.tokenizer import BOS_ID, EOS_ID, PAD_ID

VOCAB = 14


def padded_batch(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in sequences])
    src = torch.full((len(sequences), int(lengths.max())), PAD_ID, dtype=torch.long)
    for row, seq in enumerate(sequences):
        src[row, : len(seq)] = torch.tensor(seq)
    return src, lengths


SOURCES = [[5, 6, 7, 8, 9, 3], [4, 3], [10, 11, 12, 3], [6, 6, 6, 6, 6, 6, 6, 6, 3], [13, 5, 3]]


def as_pairs(result):
    return [[(h.token_ids, round(h.score, 4)) for h in hyps] for hyps in result.hypotheses]


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_size_one_equals_greedy(rnn_type, alpha):
    model = tiny_model(VOCAB, rnn_type, seed=3)
    src, lengths = padded_batch(SOURCES)
    options = SearchOptions(beam_size=1, length_penalty=alpha, max_output_length=12, max_output_ratio=None)
    greedy = greedy_search(model, src, lengths, options)
    beam = beam_search(model, src, lengths, options)
    assert as_pairs(greedy) == as_pairs(beam)
    assert any(h[0].token_ids for h in greedy.hypotheses)  # the comparison is not between empty outputs


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("beam_size", [1, 4])
def test_batch_gives_the_same_output_as_each_sentence_alone(rnn_type, beam_size):
    model = tiny_model(VOCAB, rnn_type, seed=4).double()
    options = SearchOptions(beam_size=beam_size, n_best=beam_size, max_output_length=10)
    search = greedy_search if beam_size == 1 else beam_search
    src, lengths = padded_batch(SOURCES)
    batched = as_pairs(search(model, src, lengths, options))
    alone = [as_pairs(search(model, *padded_batch([seq]), options))[0] for seq in SOURCES]
    assert batched == alone


def teacher_forced_log_prob(model, source: list[int], output: list[int]) -> float:
    src, lengths = padded_batch([source])
    tgt_in = torch.tensor([[BOS_ID] + output[:-1]])
    with torch.no_grad():
        log_probs = torch.log_softmax(model(src, lengths, tgt_in).float(), dim=-1)[0]
    return float(log_probs[torch.arange(len(output)), torch.tensor(output)].sum())


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_scores_equal_teacher_forced_log_probability(rnn_type, alpha):
    model = tiny_model(VOCAB, rnn_type, seed=5)
    options = SearchOptions(beam_size=4, n_best=3, length_penalty=alpha, max_output_length=10)
    src, lengths = padded_batch(SOURCES)
    for source, hyps in zip(SOURCES, beam_search(model, src, lengths, options).hypotheses):
        assert len(hyps) == 3
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        for hyp in hyps:
            output = hyp.token_ids + ([EOS_ID] if hyp.ended_with_eos else [])
            expected = teacher_forced_log_prob(model, source, output)
            expected /= float(length_normaliser(torch.tensor(len(output)), alpha))
            assert hyp.score == pytest.approx(expected, abs=1e-4)


def exhaustive_best(model, source: list[int], vocab: int, limit: int, alpha: float) -> tuple[list[int], float]:
    """Score every output up to ``limit`` pieces: EOS-terminated ones and unfinished ones at the cap."""
    candidates = []
    for length in range(limit):
        for prefix in itertools.product([t for t in range(vocab) if t != EOS_ID], repeat=length):
            candidates.append(list(prefix) + [EOS_ID])
    candidates += [list(p) for p in itertools.product([t for t in range(vocab) if t != EOS_ID], repeat=limit)]
    scored = []
    for output in candidates:
        score = teacher_forced_log_prob(model, source, output)
        scored.append((score / float(length_normaliser(torch.tensor(len(output)), alpha)), output))
    best_score, best = max(scored)
    return (best[:-1] if best[-1] == EOS_ID else best), best_score


def test_wide_beam_finds_the_exhaustive_optimum():
    vocab, limit, source = 6, 3, [4, 5, 4, EOS_ID]
    greedy_missed = 0
    for seed in range(6):
        model = tiny_model(vocab, "gru", seed=seed, tie_target_embeddings=False)
        with torch.no_grad():  # peaky distributions, and EOS made less likely than the rest
            model.decoder.output_projection.weight.mul_(6)
            model.decoder.output_projection.bias[EOS_ID] -= 2.0
        for alpha in (0.0, 1.0):
            options = SearchOptions(beam_size=vocab**limit, length_penalty=alpha, max_output_length=limit,
                                    max_output_ratio=None)
            best = beam_search(model, *padded_batch([source]), options).hypotheses[0][0]
            expected_tokens, expected_score = exhaustive_best(model, source, vocab, limit, alpha)
            assert best.token_ids == expected_tokens
            assert best.score == pytest.approx(expected_score, abs=1e-5)
            greedy = greedy_search(model, *padded_batch([source]), options).hypotheses[0][0]
            greedy_missed += greedy.token_ids != expected_tokens
    assert greedy_missed > 0  # the cases include ones where only a wide search finds the optimum


def test_output_caps_are_respected():
    model = tiny_model(VOCAB, "gru", seed=6)
    with torch.no_grad():  # never emit EOS, so only the caps stop the search
        model.decoder.output_projection.bias[EOS_ID] = -1e4
    src, lengths = padded_batch(SOURCES)
    for search in (greedy_search, beam_search):
        absolute = search(model, src, lengths, SearchOptions(beam_size=3, max_output_length=4, max_output_ratio=None))
        assert all(len(h[0].token_ids) == 4 and not h[0].ended_with_eos for h in absolute.hypotheses)
        ratio = search(model, src, lengths, SearchOptions(beam_size=3, max_output_length=100, max_output_ratio=1.5))
        expected = [min(100, -(-3 * len(s) // 2)) for s in SOURCES]
        assert [len(h[0].token_ids) for h in ratio.hypotheses] == expected


def test_attention_is_a_distribution_over_real_source_positions():
    model = tiny_model(VOCAB, "lstm", seed=7)
    src, lengths = padded_batch(SOURCES)
    for search in (greedy_search, beam_search):
        result = search(model, src, lengths, SearchOptions(beam_size=2, max_output_length=6), return_attention=True)
        for source, hyps in zip(SOURCES, result.hypotheses):
            attention = hyps[0].attention
            steps = len(hyps[0].token_ids) + int(hyps[0].ended_with_eos)
            assert attention.shape == (steps, src.size(1))
            assert torch.allclose(attention.sum(dim=1), torch.ones(steps), atol=1e-5)
            assert torch.all(attention[:, len(source):] == 0)


def test_invalid_options_are_rejected_with_a_message():
    with pytest.raises(ValueError, match="n_best"):
        SearchOptions(beam_size=2, n_best=3)
    with pytest.raises(ValueError, match="beam_size"):
        SearchOptions(beam_size=0)
    with pytest.raises(ValueError, match="max_output_length"):
        SearchOptions(max_output_length=0)


@pytest.mark.parametrize("size", [50, 7931, 8000, 4097])
def test_blockwise_top_k_equals_torch_top_k(size):
    from translator.search.kernels import top_k

    values = torch.randn(37, size, generator=torch.Generator().manual_seed(size))
    values[3] = float("-inf")  # a row with nothing but ties
    expected_values, expected_indices = values.topk(6, dim=-1)
    top_values, top_indices = top_k(values, 6)
    assert torch.equal(top_values, expected_values)
    assert torch.equal(values.gather(1, top_indices), expected_values)
    assert torch.equal(top_indices[[0, 1, 2, 4]], expected_indices[[0, 1, 2, 4]])


@pytest.mark.parametrize("size", [50, 7931, 8000, 4096])
def test_blockwise_max_equals_torch_max(size):
    from translator.search.kernels import fast_max

    values = torch.randn(37, size, generator=torch.Generator().manual_seed(size))
    values[:, -(size % 64 or 64) // 2:] = float("-inf")  # padding columns, as InferenceModel's logits have
    values[5, 2] = values[5].max() + 1  # the best in the first block
    values[6, max(size - 65, 0)] = values[6].max() + 1  # ... near the end
    expected_values, expected_indices = values.max(dim=-1)
    best_values, best_indices = fast_max(values)
    assert torch.equal(best_values, expected_values)
    assert torch.equal(best_indices, expected_indices)
