"""Sentencepiece tokenization, and the special ids every other module relies on."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Literal, Sequence

import sentencepiece as spm

# The one place the special ids are fixed; sentencepiece is trained to reserve exactly these.
PAD_ID = 0
UNK_ID = 1
BOS_ID = 2
EOS_ID = 3
SPECIAL_IDS = frozenset({PAD_ID, UNK_ID, BOS_ID, EOS_ID})


class Tokenizer:
    """A sentencepiece model for one side (source or target) of a translation model."""

    def __init__(self, model_proto: bytes, name: str = "<memory>") -> None:
        self.name = name
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(model_proto)
        except Exception as error:  # sentencepiece raises RuntimeError/OSError with C++ text
            raise ValueError(f"{name} is not a valid sentencepiece model: {error}") from error
        specials = (self._sp.pad_id(), self._sp.unk_id(), self._sp.bos_id(), self._sp.eos_id())
        if specials != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise ValueError(
                f"{name} uses special ids (pad, unk, bos, eos) = {specials}; "
                f"this library needs {(PAD_ID, UNK_ID, BOS_ID, EOS_ID)}"
            )
        self.model_proto = model_proto

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        """Load a ``.model`` file written by sentencepiece (or by :meth:`save`)."""
        path = Path(path)
        return cls(path.read_bytes(), name=str(path))

    def save(self, path: str | Path) -> None:
        """Write the serialized sentencepiece model to ``path``."""
        Path(path).write_bytes(self.model_proto)

    @property
    def vocab_size(self) -> int:
        """Number of pieces, special ids included."""
        return self._sp.get_piece_size()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Turn each text into piece ids (no bos/eos added)."""
        return self._sp.encode(list(texts), out_type=int)

    def encode_pieces(self, texts: Sequence[str]) -> list[list[str]]:
        """Turn each text into piece strings, e.g. for drawing attention alignments."""
        return self._sp.encode(list(texts), out_type=str)

    def decode(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Turn piece ids back into detokenized text; special ids are dropped.

        One sequence at a time, in this thread: sentencepiece's list form starts a thread pool per
        call, which costs more than decoding one sentence's hypotheses, and its threads then wait
        for cores that torch's threads still spin on. Greedy en-de-fast is 1.18x faster for it on
        2 cores, 1.25x with one torch thread (``benchmarks/greedy_overheads.py``).
        """
        return [self._sp.DecodeIds([i for i in seq if i not in SPECIAL_IDS]) for seq in ids]

    def has_pieces(self, pieces: Iterable[str]) -> bool:
        """Whether every one of ``pieces`` is a piece of its own in the vocabulary."""
        return all(self._sp.piece_to_id(piece) != UNK_ID for piece in pieces)

    def fallback_ids(self) -> frozenset[int]:
        """Ids of ``<unk>`` and of the UTF-8 byte pieces: what text outside the vocabulary is encoded as."""
        return frozenset(i for i in range(self.vocab_size) if self._sp.is_unknown(i) or self._sp.is_byte(i))

    def id_to_piece(self, ids: Iterable[int]) -> list[str]:
        """Piece strings of ``ids`` (special ids shown as e.g. ``</s>``)."""
        return [self._sp.id_to_piece(int(i)) for i in ids]


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int,
    model_type: Literal["unigram", "bpe"] = "unigram",
    character_coverage: float = 1.0,
    input_sentence_size: int = 2_000_000,
    user_symbols: Sequence[str] = (),
    byte_fallback: bool = False,
) -> Tokenizer:
    """Train a sentencepiece model on ``texts`` with this library's special ids.

    ``vocab_size`` is an upper bound: on a small corpus sentencepiece cannot always reach it, so
    the largest size the corpus supports is used instead (hard_vocab_limit=false). ``user_symbols``
    are kept as one piece each wherever they occur (placeholders); with ``byte_fallback``, characters
    outside the vocabulary become UTF-8 byte pieces instead of ``<unk>``.
    """
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=buffer,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=True,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        hard_vocab_limit=False,
        user_defined_symbols=list(user_symbols),
        byte_fallback=byte_fallback,
        minloglevel=2,
    )
    return Tokenizer(buffer.getvalue(), name="<trained>")
