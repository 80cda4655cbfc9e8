"""A trained model prepared for decoding: the same encode/step calls, less work per step.

At every decoding step the previous piece's embedding enters two matrix products: the first
RNN layer's input gates and the deep-output layer. Their embedding parts depend only on which
piece it is, so :class:`InferenceModel` computes them once per vocabulary entry, as tables
(vocab, gates) and (vocab, output_size), and a step gathers one row of each instead of
multiplying. On the shipped de-en model that removes 0.92 of the 9.2 MFLOP of matrix products
a step does per row (2 x 256 x 1536 of the GRU's input gates, 2 x 256 x 256 of the deep output).

The recurrent cells are written out with the same operations, in the same order, as torch's
CPU GRU and LSTM cells, so the results match :meth:`Seq2Seq.step` up to float rounding of the
reordered sums. The tables are copies: build the ``InferenceModel`` after the weights are final.
"""

from __future__ import annotations

import torch
from torch import nn

from dataclasses import dataclass

from translator.model.decoder import DecoderState, EncoderMemory, select_state
from translator.model.seq2seq import Seq2Seq

# Above this, tables would cost more memory than the products they replace are worth.
MAX_TABLE_BYTES = 256 * 2**20
OUTPUT_ALIGNMENT = 64


@dataclass
class InferenceMemory:
    """The model's :class:`EncoderMemory` plus this model's own per-sentence cache."""

    encoder: EncoderMemory
    # (batch, src_len, gates + output_size): the encoder outputs times the weights that only
    # ever multiply the attention context; made at the first beam-search step, else None.
    value_products: torch.Tensor | None = None

    def index_select(self, sentences: torch.Tensor) -> "InferenceMemory":
        """Sentences ``sentences`` of the memory and of the cache."""
        products = None if self.value_products is None else self.value_products.index_select(0, sentences)
        return InferenceMemory(self.encoder.index_select(sentences), products)


class InferenceModel:
    """``encode`` and ``step`` of a :class:`Seq2Seq` in eval mode, with embedding products precomputed.

    Args:
        model: a trained model; not changed, and it must not be trained while this is in use.
    """

    def __init__(self, model: Seq2Seq) -> None:
        decoder = model.decoder
        self.model = model
        self.config = model.config
        self.attention = decoder.attention
        self.rnn_type = decoder.rnn_type
        self.output_size = decoder.pre_output.out_features
        with torch.no_grad():
            embeddings = decoder.embedding.weight.detach()  # (vocab, emb)
            emb = embeddings.size(1)
            rnn = decoder.rnn
            # Layer 0's input is [embedding; context]: its embedding columns (and b_ih) go into a table.
            weight_ih = rnn.weight_ih_l0.detach()
            self.input_table = torch.addmm(rnn.bias_ih_l0.detach(), embeddings, weight_ih[:, :emb].t())
            self.context_weight = weight_ih[:, emb:].t().contiguous()  # (memory, gates)
            self.layers = [  # per layer: (W_ih^T or None for layer 0, b_ih, W_hh^T, b_hh)
                (
                    None if layer == 0 else getattr(rnn, f"weight_ih_l{layer}").detach().t().contiguous(),
                    getattr(rnn, f"bias_ih_l{layer}").detach(),
                    getattr(rnn, f"weight_hh_l{layer}").detach().t().contiguous(),
                    getattr(rnn, f"bias_hh_l{layer}").detach(),
                )
                for layer in range(decoder.layers)
            ]
            # The deep output layer sees [rnn output; context; embedding].
            pre_weight = decoder.pre_output.weight.detach()
            self.pre_output_table = torch.addmm(
                decoder.pre_output.bias.detach(), embeddings, pre_weight[:, -emb:].t()
            )  # (vocab, output_size)
            self.pre_output_weight = pre_weight[:, :-emb].t().contiguous()  # (hidden + memory, output_size)
            hidden = decoder.hidden_size
            self.pre_output_hidden_weight = self.pre_output_weight[:hidden]  # (hidden, output_size), a view
            # The context c = sum_s w_s h_s enters the step only through products W c, and
            # W c = sum_s w_s (W h_s): with beams, the products W h_s are made once per sentence
            # and source position, and each step takes their weighted sum instead of multiplying
            # every beam's context (layer 0's input gates and the deep output: 2 x memory x
            # (gates + output_size) FLOPs a row).
            self.value_weight = torch.cat(
                [self.context_weight, pre_weight[:, hidden:-emb].t()], dim=1
            )  # (memory, gates + output_size)
            # The output layer, transposed and padded to a multiple of OUTPUT_ALIGNMENT pieces:
            # matrix products and search.py's block-wise top-k run faster on aligned widths. The
            # padding columns get bias -inf, so they have probability 0 and are never chosen.
            weight = decoder.output_projection.weight.detach()  # (vocab, output_size)
            vocab = weight.size(0)
            padded = -(-vocab // OUTPUT_ALIGNMENT) * OUTPUT_ALIGNMENT
            self.output_weight = weight.new_zeros(weight.size(1), padded)  # (output_size, padded vocab)
            self.output_weight[:, :vocab] = weight.t()
            self.output_bias = weight.new_full((padded,), float("-inf"))
            self.output_bias[:vocab] = decoder.output_projection.bias.detach()

    @staticmethod
    def supports(model: nn.Module) -> bool:
        """Whether ``model`` can be prepared: a plain (not quantized) Seq2Seq with small enough tables."""
        if not isinstance(model, Seq2Seq) or not isinstance(model.decoder.rnn, (nn.GRU, nn.LSTM)):
            return False  # e.g. int8: torch's dynamically quantized GRU/LSTM are other classes
        rnn = model.decoder.rnn
        config = model.config
        gates = rnn.weight_ih_l0.size(0)
        element_bytes = rnn.weight_ih_l0.element_size()
        return config.tgt_vocab_size * (gates + config.output_size) * element_bytes <= MAX_TABLE_BYTES

    @property
    def vocab_size(self) -> int:
        """Target vocabulary size; :meth:`step`'s logits are wider, padded with -inf."""
        return self.config.tgt_vocab_size

    def encode(self, src_ids: torch.Tensor, src_lengths: torch.Tensor) -> tuple[InferenceMemory, DecoderState]:
        """:meth:`Seq2Seq.encode`, its memory wrapped with room for this model's cache."""
        encoder_memory, state = self.model.encode(src_ids, src_lengths)
        return InferenceMemory(encoder_memory), state

    def select_state(self, state: DecoderState, rows: torch.Tensor) -> DecoderState:
        """Rows ``rows`` of a decoder state."""
        return select_state(state, rows)

    def select_memory(self, memory: InferenceMemory, sentences: torch.Tensor) -> InferenceMemory:
        """Sentences ``sentences`` of the memory, cache included."""
        return memory.index_select(sentences)

    def step(
        self, prev_ids: torch.Tensor, state: DecoderState, memory: InferenceMemory
    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """:meth:`Seq2Seq.step`: prev_ids (rows,) -> logits, new state, weights (rows, src_len).

        The logits are (rows, vocab rounded up to OUTPUT_ALIGNMENT); the extra columns are -inf.
        """
        query = state[0][-1]  # (rows, hidden), the top layer
        projected_query = self.attention.query_layer(query)
        encoder = memory.encoder
        beams = prev_ids.size(0) > encoder.outputs.size(0)
        if beams and memory.value_products is None:  # once per batch; select_memory carries it
            memory.value_products = torch.matmul(encoder.outputs, self.value_weight)
        values = memory.value_products if beams else encoder.outputs
        context, weights = self.attention.attend(projected_query, encoder.projected_keys, values, encoder.src_mask)
        if beams:  # context is sum_s w_s (W h_s): the products, not the context itself
            context_gates, context_pre_output = context.split([self.value_weight.size(1) - self.output_size,
                                                               self.output_size], dim=1)
        new_parts: list[list[torch.Tensor]] = [[] for _ in state]
        layer_input = context
        for layer, (weight_ih, bias_ih, weight_hh, bias_hh) in enumerate(self.layers):
            if layer == 0 and beams:
                input_gates = self.input_table.index_select(0, prev_ids).add_(context_gates)
            elif layer == 0:
                input_gates = torch.addmm(self.input_table.index_select(0, prev_ids), context, self.context_weight)
            else:
                input_gates = torch.addmm(bias_ih, layer_input, weight_ih)
            hidden = state[0][layer]
            hidden_gates = torch.addmm(bias_hh, hidden, weight_hh)
            if self.rnn_type == "gru":
                layer_state = (_gru_cell(input_gates, hidden_gates, hidden),)
            else:
                layer_state = _lstm_cell(input_gates, hidden_gates, state[1][layer])
            for parts, part in zip(new_parts, layer_state):
                parts.append(part)
            layer_input = layer_state[0]
        if beams:
            pre_output = torch.addmm(self.pre_output_table.index_select(0, prev_ids).add_(context_pre_output),
                                     layer_input, self.pre_output_hidden_weight)
        else:
            features = torch.cat([layer_input, context], dim=-1)  # (rows, hidden + memory)
            pre_output = torch.addmm(self.pre_output_table.index_select(0, prev_ids), features,
                                     self.pre_output_weight)
        logits = torch.mm(pre_output.tanh_(), self.output_weight).add_(self.output_bias)
        return logits, tuple(torch.stack(parts) for parts in new_parts), weights


def _gru_cell(input_gates: torch.Tensor, hidden_gates: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """torch's GRU cell from precomputed gates (rows, 3 * hidden) -> new hidden (rows, hidden)."""
    input_reset, input_update, input_new = input_gates.chunk(3, 1)
    hidden_reset, hidden_update, hidden_new = hidden_gates.chunk(3, 1)
    reset = hidden_reset.add_(input_reset).sigmoid_()
    update = hidden_update.add_(input_update).sigmoid_()
    new = input_new.add_(hidden_new.mul_(reset)).tanh_()
    return (hidden - new).mul_(update).add_(new)


def _lstm_cell(
    input_gates: torch.Tensor, hidden_gates: torch.Tensor, cell: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """torch's LSTM cell from precomputed gates (rows, 4 * hidden) -> new (hidden, cell)."""
    in_gate, forget_gate, cell_gate, out_gate = hidden_gates.add_(input_gates).chunk(4, 1)
    new_cell = forget_gate.sigmoid_().mul(cell).add_(in_gate.sigmoid_().mul_(cell_gate.tanh_()))
    return out_gate.sigmoid_().mul_(new_cell.tanh()), new_cell
