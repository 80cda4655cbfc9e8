"""Would a lexical shortlist at the output layer make greedy search faster? A measurement, not a feature.

Marian's students score only a shortlist of target pieces per batch: the ``n`` most frequent ones and, for each
source piece in the batch, the ``k`` target pieces most associated with it in the training data. Here the
association is the Dice coefficient of sentence co-occurrence over the ``--corpus`` pairs, the output layer is
cut to the batch's shortlist, and its scores are spread back over the full vocabulary (the rest -inf), so search
runs unchanged. Reported: how many of the vocabulary's pieces a batch still needs, BLEU per ``--set`` for each
``K:N`` (greedy), and sentences/s without and with the first ``K:N`` on the first set, in alternating rounds (the
machine drifts), medians.

Usage::

    python benchmarks/shortlist.py models/de-en-fast \
        --corpus ../shared/data/tatoeba/deu-eng/train.de:../shared/data/tatoeba/deu-eng/train.en … \
        --set test2016 ../shared/data/multi30k/test2016 --set tatoeba-val ../shared/data/tatoeba/deu-eng/val … \
        --shortlist 50:500 --shortlist 20:200 --rounds 5 --json benchmarks/results/shortlist_de-en-fast.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sacrebleu
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hardware import describe_machine, print_and_save  # noqa: E402
from pausing import paused  # noqa: E402

from training.release.named_sets import add_set_arguments, sets_from_args  # noqa: E402
from translator.model.inference import InferenceModel  # noqa: E402
from translator.text.tokenizer import Tokenizer  # noqa: E402
from translator.translate import Translator  # noqa: E402

BATCH = 64


def dice_table(source: Tokenizer, target: Tokenizer, corpora: list[tuple[Path, Path]]) -> tuple[np.ndarray, np.ndarray]:
    """(source vocab, target vocab) Dice coefficients of sentence co-occurrence, and each target piece's count."""
    vs, vt = source.vocab_size, target.vocab_size
    pair_counts = np.zeros(vs * vt, np.int64)
    source_counts, target_counts = np.zeros(vs, np.int64), np.zeros(vt, np.int64)
    for src_path, tgt_path in corpora:
        sources = src_path.read_text(encoding="utf-8").splitlines()
        targets = tgt_path.read_text(encoding="utf-8").splitlines()
        for start in range(0, len(sources), 20000):
            flat = []
            for s, t in zip(source.encode(sources[start:start + 20000]), target.encode(targets[start:start + 20000])):
                s, t = np.unique(np.asarray(s, np.int64)), np.unique(np.asarray(t, np.int64))
                source_counts[s] += 1
                target_counts[t] += 1
                flat.append((s[:, None] * vt + t[None, :]).ravel())
            pair_counts += np.bincount(np.concatenate(flat), minlength=vs * vt)
    pairs = pair_counts.reshape(vs, vt).astype(np.float32)
    return 2 * pairs / (source_counts[:, None] + target_counts[None, :] + 1e-9), target_counts


class ShortlistModel:
    """An :class:`InferenceModel` whose output layer scores only the batch's shortlist (module docstring)."""

    def __init__(self, inner: InferenceModel, per_source: torch.Tensor, always: torch.Tensor) -> None:
        self.inner, self.per_source, self.always = inner, per_source, always

    @property
    def vocab_size(self) -> int:
        return self.inner.vocab_size

    def candidates(self, src_ids: torch.Tensor) -> torch.Tensor:
        return torch.unique(torch.cat([self.always, self.per_source[src_ids.flatten()].flatten()]))

    def encode(self, src_ids, src_lengths):
        memory, state = self.inner.encode(src_ids, src_lengths)
        pieces = self.candidates(src_ids)
        return (memory, pieces, self.inner.output_weight[:, pieces].contiguous(), self.inner.output_bias[pieces]), state

    def select_state(self, state, rows):
        return self.inner.select_state(state, rows)

    def select_memory(self, memory, sentences):
        return (self.inner.select_memory(memory[0], sentences), *memory[1:])

    def step(self, prev_ids, state, memory):
        inner_memory, pieces, weight, bias = memory
        full = self.inner.output_weight, self.inner.output_bias
        # InferenceModel.step ends in one product with these two: swapped for the shortlist's columns.
        self.inner.output_weight, self.inner.output_bias = weight, bias
        try:
            scores, state, attention = self.inner.step(prev_ids, state, inner_memory)
        finally:
            self.inner.output_weight, self.inner.output_bias = full
        logits = scores.new_full((scores.size(0), full[0].size(1)), float("-inf"))
        return logits.index_copy_(1, pieces, scores), state, attention


def shortlist(dice: np.ndarray, target_counts: np.ndarray, target: Tokenizer, k: int, n: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each source piece's ``k`` best target pieces, and the pieces always scored: the ``n`` most frequent, the
    special, byte and placeholder pieces (anything that is not a word piece of letters or digits)."""
    per_source = torch.from_numpy(np.argsort(-dice, axis=1)[:, :k].copy())
    pieces = target.id_to_piece(range(target.vocab_size))
    other = [i for i, piece in enumerate(pieces) if not piece.replace("\u2581", "").isalnum()]
    always = set(np.argsort(-target_counts)[:n].tolist()) | set(range(4)) | set(other)
    return per_source, torch.tensor(sorted(always))


def corpus(text: str) -> tuple[Path, Path]:
    src, _, tgt = text.partition(":")
    if not (src and tgt):
        raise argparse.ArgumentTypeError(f"--corpus wants SRC:TGT, got {text!r}")
    return Path(src), Path(tgt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--corpus", type=corpus, action="append", required=True, help="SRC:TGT training pairs")
    add_set_arguments(parser, what="test", weights=False)  # the first set is also the one timed
    parser.add_argument("--shortlist", action="append", default=[], help="K:N (repeatable; default 50:500)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--pause-pid", type=int, action="append", default=[], help="stop this process while timing")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = [tuple(int(x) for x in text.split(":")) for text in args.shortlist or ["50:500"]]
    translator = Translator.from_pretrained(args.model, device="cpu")
    full = translator.decoding_model
    if not isinstance(full, InferenceModel):
        parser.error(f"{args.model} is not decoded by an InferenceModel")
    dice, target_counts = dice_table(translator.source_tokenizer, translator.target_tokenizer, args.corpus)
    try:
        named = sets_from_args(args, (translator.metadata.get("source_language"),
                                      translator.metadata.get("target_language")))
    except ValueError as error:
        parser.error(str(error))
    sets = {one.name: (one.src.read_text(encoding="utf-8").splitlines(),
                       one.ref.read_text(encoding="utf-8").splitlines()) for one in named}
    models = {"full": full}
    for k, n in configs:
        models[f"{k}:{n}"] = ShortlistModel(full, *shortlist(dice, target_counts, translator.target_tokenizer, k, n))
    rows = {}
    for label, model in models.items():
        translator.decoding_model = model
        row: dict = {"bleu": {}}
        for name, (sources, references) in sets.items():
            row["bleu"][name] = round(sacrebleu.corpus_bleu(translator.translate(sources, beam_size=1),
                                                            [references]).score, 2)
        if isinstance(model, ShortlistModel):
            first = next(iter(sets.values()))[0]
            sizes = [int(model.candidates(torch.tensor([i for ids in translator.source_tokenizer.encode(
                first[start:start + BATCH]) for i in ids])).numel()) for start in range(0, len(first), BATCH)]
            row["pieces_per_batch_median"] = statistics.median(sizes)
        rows[label] = row
    timed = f"{configs[0][0]}:{configs[0][1]}"
    texts = next(iter(sets.values()))[0]
    rates: dict[str, list[float]] = {"full": [], timed: []}
    with paused(args.pause_pid):
        for round_number in range(args.rounds):
            for label in ("full", timed) if round_number % 2 == 0 else (timed, "full"):
                translator.decoding_model = models[label]
                translator.translate(texts[:BATCH], beam_size=1)
                start = time.perf_counter()
                translator.translate(texts, beam_size=1)
                rates[label].append(len(texts) / (time.perf_counter() - start))
    speed = {label: statistics.median(values) for label, values in rates.items()}
    vocab = translator.target_tokenizer.vocab_size
    lines = [f"{args.model}, greedy, vocabulary {vocab} pieces; pieces per batch of {BATCH}: median on the first set",
             "", "| shortlist K:N | pieces per batch | " + " | ".join(f"BLEU {name}" for name in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    for label, row in rows.items():
        lines.append(f"| {label} | {row.get('pieces_per_batch_median', vocab)} | "
                     + " | ".join(f"{row['bleu'][name]:.2f}" for name in sets) + " |")
    lines += ["", f"greedy sentences/s on {next(iter(sets))}, medians of {args.rounds} alternating rounds: full "
              f"{speed['full']:.1f}, shortlist {timed} {speed[timed]:.1f} ({speed[timed] / speed['full']:.2f}x)"]
    print_and_save("\n".join(lines), {"machine": describe_machine(), "model": str(args.model), "rows": rows,
                                      "speed": speed, "rates": rates, "rounds": args.rounds}, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
