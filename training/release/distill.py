"""``translator-distill``: sequence-level knowledge distillation (Kim & Rush, 2016).

A large teacher translates the training sources with beam search; a smaller student is then
trained by the normal training command on (source, teacher translation) pairs. The student
learns the teacher's single, consistent choice per sentence instead of the spread of human
references, which lets a small model decoded greedily come close to the teacher's beam search
(the same recipe gives Firefox's offline translation its speed).

The teacher's translations are written in chunks to ``<output_dir>/distill/`` so a killed run
continues where it stopped; they are keyed by the bytes of the teacher's weights and of the
source file, and by the search options, and redone when any of them changes (a copied or
touched corpus is not translated again). The final file is renamed into place only when
complete.

A mixture (``data.corpora``) is distilled corpus by corpus, each into its own file, and the
student trains on the same mixture, weights and all, with the teacher's translations as targets.

``--interpolate`` (sequence-level interpolation, Kim & Rush 2016, section 3.2) keeps, of the
teacher's n-best list, the translation closest to the human reference by sentence BLEU instead
of the teacher's first choice (written to ``distill/train.closest.<tgt>``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import sacrebleu

from training.config import TrainConfig, add_field_flags, field_overrides, load_config
from training.data.clean import read_lines
from training.data.digest import file_sha256
from translator.search.options import resolve_search
from translator.store.atomic import write_text_atomic

if TYPE_CHECKING:
    from translator.translate import Translation

CHUNK_SENTENCES = 2048


def _fingerprint(teacher_dir: Path, source: Path, beam_size: int, length_penalty: float, memo_dir: Path,
                 references: Path | None) -> dict:
    """What the teacher's translations depend on: the bytes of its weights, of the source and of the
    references (with ``references``), not their paths or modification times (a copied corpus or
    teacher keeps its translations)."""
    fingerprint = {"teacher": str(teacher_dir), "teacher_weights_sha256": file_sha256(teacher_dir / "model.safetensors"),
                   "source": str(source), "source_sha256": file_sha256(source, memo_dir),
                   "beam_size": beam_size, "length_penalty": length_penalty}
    if references is not None:
        fingerprint["closest_to_references_sha256"] = file_sha256(references, memo_dir)
    return fingerprint


def _same_work(stored: dict | None, fingerprint: dict) -> bool:
    """Whether translations keyed ``stored`` are the ones ``fingerprint`` asks for (paths may differ)."""
    ignored = ("teacher", "source")
    return stored is not None and {k: v for k, v in stored.items() if k not in ignored} == \
        {k: v for k, v in fingerprint.items() if k not in ignored}


def teacher_translations(teacher_dir: Path, source: Path, output: Path, beam_size: int = 5,
                         length_penalty: float = 1.0, batch_sentences: int = 64, device: str = "auto",
                         progress: Callable[[int, int], None] | None = None,
                         references: Path | None = None) -> Path:
    """Translate every line of ``source`` with the teacher into ``output`` (resumable, atomic).

    With ``references`` (line-aligned with ``source``), each line is instead the candidate of the
    teacher's ``beam_size``-best list closest to its reference by sentence BLEU: sequence-level
    interpolation (Kim & Rush 2016, section 3.2), targets as consistent as the teacher's but nearer
    to what people wrote.

    Returns ``output``, line-aligned with ``source``. ``progress(done, total)`` is called after
    each chunk.

    Raises:
        ValueError: when ``references`` is not line-aligned with ``source``.
    """
    from translator.translate import Translator

    sources = read_lines(source)
    targets = None
    if references is not None:
        targets = read_lines(references)
        if len(targets) != len(sources):
            raise ValueError(f"{references} has {len(targets)} lines and {source} {len(sources)}; "
                             "the references must be line-aligned with the sources")
    fingerprint = _fingerprint(teacher_dir, source, beam_size, length_penalty, output.parent, references)
    if output.exists() and _same_work(_read_json(_key_path(output)), fingerprint):
        return output
    partial = output.with_name(output.name + ".partial")
    key_path = _key_path(output)
    done = 0
    if partial.exists() and _same_work(_read_json(key_path), fingerprint):
        with open(partial, "rb") as handle:
            content = handle.read()
        done = content.count(b"\n")
        with open(partial, "r+b") as handle:  # drop a line cut off by a kill
            handle.truncate(content.rfind(b"\n") + 1 if done else 0)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"")
        write_text_atomic(key_path, json.dumps(fingerprint, indent=2) + "\n")
    translator = Translator.from_pretrained(teacher_dir, device=device)
    with open(partial, "a", encoding="utf-8") as handle:
        for start in range(done, len(sources), CHUNK_SENTENCES):
            chunk = sources[start : start + CHUNK_SENTENCES]
            if targets is None:
                outputs = translator.translate(chunk, beam_size=beam_size, length_penalty=length_penalty,
                                               max_batch_sentences=batch_sentences, restore_case=False)
            else:
                results = translator.translate_detailed(chunk, beam_size=beam_size, n_best=beam_size,
                                                        length_penalty=length_penalty,
                                                        max_batch_sentences=batch_sentences, restore_case=False)
                outputs = [_closest(result, reference)
                           for result, reference in zip(results, targets[start : start + CHUNK_SENTENCES])]
            # A translation is one line: a newline inside one would misalign the pairs.
            handle.write("".join(" ".join(text.split()) + "\n" for text in outputs))
            handle.flush()
            os.fsync(handle.fileno())
            if progress is not None:
                progress(start + len(chunk), len(sources))
    os.replace(partial, output)
    return output


def _closest(result: Translation, reference: str) -> str:
    """The n-best candidate with the highest sentence BLEU against ``reference`` (the best-scored on ties)."""
    candidates = [candidate.text for candidate in result.n_best] or [result.text]
    return max(candidates, key=lambda text: sacrebleu.sentence_bleu(text, [reference]).score)


def _key_path(output: Path) -> Path:
    return output.with_name(output.name + ".key.json")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _progress(corpus_name: str) -> Callable[[int, int], None]:
    """Reports the teacher's progress through one corpus on stderr."""
    def report(done: int, total: int) -> None:
        print(f"teacher translations ({corpus_name}): {done}/{total}", file=sys.stderr, flush=True)
    return report


def distill(teacher_dir: Path, config: TrainConfig, resume: bool = False, beam_size: int = 5,
            length_penalty: float = 1.0, batch_sentences: int = 64, translate_only: bool = False,
            interpolate: bool = False) -> Path:
    """Make the teacher's translations of the config's training sources, then train the student on them.

    Every corpus of a mixture (``data.corpora``) is translated into its own file,
    ``distill/<corpus name>.<tgt>``, and the student trains on the same mixture, with the same
    names and weights, with those files as targets; a single ``train_src``/``train_tgt`` pair is
    the corpus named ``train``. With ``interpolate``, each target is the candidate of the
    teacher's n-best list closest to the corpus' own reference (``<name>.closest.<tgt>``; see
    :func:`teacher_translations`).

    Returns the student's best checkpoint (with ``translate_only``: the translations file, or with
    several corpora the folder of them).
    """
    from translator.store.checkpoint import read_metadata

    teacher_meta = read_metadata(teacher_dir)
    if (teacher_meta.get("source_language"), teacher_meta.get("target_language")) != (config.data.src_lang, config.data.tgt_lang):
        raise ValueError(f"teacher {teacher_dir} translates {teacher_meta.get('source_language')}->"
                         f"{teacher_meta.get('target_language')}, the config {config.data.src_lang}->{config.data.tgt_lang}")
    folder = Path(config.train.output_dir) / "distill"
    distilled = []
    suffix = f"closest.{config.data.tgt_lang}" if interpolate else config.data.tgt_lang
    for corpus in config.data.training_corpora():
        translations = teacher_translations(teacher_dir, Path(corpus.src), folder / f"{corpus.name}.{suffix}",
                                            beam_size, length_penalty, batch_sentences, config.train.device,
                                            _progress(corpus.name), Path(corpus.tgt) if interpolate else None)
        distilled.append(corpus.model_copy(update={"tgt": translations}))
    if translate_only:
        return distilled[0].tgt if len(distilled) == 1 else folder
    from training.loop.trainer import train

    targets = {"corpora": distilled} if config.data.corpora else {"train_tgt": distilled[0].tgt}
    data = config.data.model_copy(update={
        **targets,
        "name": f"{config.data.name} (targets: "
                + (f"of the teacher {teacher_dir}'s {beam_size}-best translations, the closest to the reference"
                   if interpolate else f"beam-{beam_size} translations by the teacher {teacher_dir}") + ")",
    })
    return train(config.model_copy(update={"data": data}), resume=resume)


def _check_teacher_search(args: argparse.Namespace) -> None:
    """The teacher's search, checked by the library's resolver before any work (interpolation keeps the
    beam-size-best list, so n_best = beam size).

    Raises:
        ValueError: naming the flags and the option.
    """
    asked = {"beam_size": args.beam_size, "length_penalty": args.length_penalty}
    try:
        resolve_search(asked | ({"n_best": args.beam_size} if args.interpolate else {}))
    except ValueError as error:
        raise ValueError(f"--beam-size/--length-penalty: {error}") from None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-distill``."""
    parser = argparse.ArgumentParser(
        prog="translator-distill",
        description="Sequence-level knowledge distillation: translate the config's training sources with "
        "TEACHER_DIR (beam search), then train the config's (smaller) model on those translations. Every "
        "config field can be overridden with a flag, as in translator-train.",
    )
    parser.add_argument("teacher", type=Path, help="teacher checkpoint directory, e.g. models/de-en")
    parser.add_argument("--config", type=Path, required=True, help="the student's YAML training config")
    parser.add_argument("--resume", action="store_true", help="continue the student's training from last/")
    parser.add_argument("--beam-size", type=int, default=5, help="teacher beam size (default 5)")
    parser.add_argument("--length-penalty", type=float, default=1.0, help="teacher GNMT alpha (default 1.0)")
    parser.add_argument("--batch-size", type=int, default=64, help="teacher sentences per batch (default 64)")
    parser.add_argument("--translate-only", action="store_true", help="stop after the teacher's translations")
    parser.add_argument("--interpolate", action="store_true",
                        help="sequence-level interpolation: of the teacher's n-best list (n = beam size), keep the "
                        "translation closest to the config's train_tgt reference by sentence BLEU")
    add_field_flags(parser)
    args = parser.parse_args(argv)
    overrides = field_overrides(args)
    try:
        _check_teacher_search(args)
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
        config = load_config(args.config, overrides)
        if config.train.threads:
            import torch

            torch.set_num_threads(config.train.threads)
        result = distill(args.teacher, config, args.resume, args.beam_size, args.length_penalty,
                         args.batch_size, args.translate_only, args.interpolate)
    except (ValueError, OSError) as error:
        print(f"translator-distill: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("translator-distill: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    print(("teacher translations: " if args.translate_only else "best checkpoint: ") + str(result))
    return 0


def command() -> int:
    """The ``translator-distill`` command: :func:`main` with tcmalloc preloaded where the system has it (it
    trains; see :func:`training.cli.train_command`)."""
    from training.cli import fast_allocator

    return main() if fast_allocator("translator-distill") else 2


if __name__ == "__main__":
    sys.exit(command())
