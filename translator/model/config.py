"""The model's configuration: one typed object, validated once and saved inside every checkpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ModelConfig(BaseModel):
    """Every architectural choice of a :class:`~translator.model.seq2seq.Seq2Seq`.

    Vocabulary sizes are filled in from the trained sentencepiece models, so a config file only
    names the shape of the network.
    """

    model_config = ConfigDict(extra="forbid")

    src_vocab_size: int = Field(8000, ge=5, description="source sentencepiece vocabulary size")
    tgt_vocab_size: int = Field(8000, ge=5, description="target sentencepiece vocabulary size")
    rnn_type: Literal["gru", "lstm"] = Field("gru", description="recurrent cell of encoder and decoder")
    embedding_size: int = Field(256, ge=1, description="size of source and target embeddings")
    encoder_hidden_size: int = Field(256, ge=1, description="hidden size per direction of the encoder")
    encoder_layers: int = Field(2, ge=1, description="stacked encoder RNN layers")
    bidirectional: bool = Field(True, description="run the encoder in both directions")
    decoder_hidden_size: int = Field(512, ge=1, description="hidden size of the decoder RNN")
    decoder_layers: int = Field(1, ge=1, description="stacked decoder RNN layers")
    attention_size: int = Field(512, ge=1, description="size of the additive attention's hidden layer")
    output_size: int = Field(
        256, ge=1, description="size of the layer before the softmax; equals embedding_size to tie"
    )
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout between layers")
    embedding_dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout on embeddings")
    tie_target_embeddings: bool = Field(
        True, description="share target embedding and output projection weights"
    )

    @model_validator(mode="after")
    def _check_tying(self) -> "ModelConfig":
        if self.tie_target_embeddings and self.output_size != self.embedding_size:
            raise ValueError(
                "tie_target_embeddings needs output_size == embedding_size "
                f"(got {self.output_size} and {self.embedding_size})"
            )
        return self

    @property
    def encoder_output_size(self) -> int:
        """Width of each encoder output vector (both directions concatenated)."""
        return self.encoder_hidden_size * (2 if self.bidirectional else 1)
