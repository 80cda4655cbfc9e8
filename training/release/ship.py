"""``translator-release``: copy a trained checkpoint to where it ships and record its test scores.

The scores in a shipped model's ``metadata.json`` are measured here, by decoding each named test
set (e.g. Tatoeba val, newstest2012, Multi30k test2016: one per domain) with greedy search and
with beam search, never typed in; they are stored under ``test.<set name>.<search>`` with the
command that reproduces each. The shipped directory gets a fresh manifest and is swapped in
atomically.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from training.config import portable_path
from training.release.evaluate import evaluate
from training.release.named_sets import NamedSet, add_set_arguments, run_config, sets_from_args
from translator.store.atomic import clean_leftovers, folder_lock, fsync_tree, replace_directory, staging_directory
from translator.text.casing import CaseRestorer, target_capitalised
from translator.store.checkpoint import (
    METADATA_FILE, CheckpointError, load_checkpoint, make_readable, read_metadata, write_manifest,
)
from translator.text.lines import read_lines
from translator.store.manifest import MANIFEST_FILE, read_verified
from translator.store.metadata import validate_metadata
from translator.search.options import DEFAULT_SEARCH, model_search_defaults, resolve_search

NOT_SHIPPED = frozenset({"training_state.pt", MANIFEST_FILE})  # optimiser state stays with the run


@dataclass(frozen=True)
class Description:
    """What a release states about the model besides its scores, so nobody is surprised by it.

    ``domain`` says what text the model was trained on (default: the training data's ``domain``
    in its metadata); each ``out_of_domain`` sentence is translated by the released model (with its
    default search) and recorded with its translation, as a measured example of what happens
    outside that domain. ``casing_from`` (training sources) adds a casing table (translator.text.casing)
    to a checkpoint written without one; ``target_casing_from`` (a training config or run directory) adds the
    names its corpora's targets write (translator.text.casing.target_capitalised) to the table, which a German
    source's name masking needs (translator.text.names). ``default_beam_size`` records the beam size the model is
    meant for (``default_search`` in its metadata; e.g. 1 for a student distilled for greedy search),
    which callers then get unless they ask for another.
    """

    domain: str | None = None
    out_of_domain: tuple[str, ...] = ()
    casing_from: Path | None = None
    default_beam_size: int | None = None
    target_casing_from: Path | None = None


def release(checkpoint: Path, destination: Path, test_sets: list[NamedSet],
            beam_sizes: tuple[int, ...] = (1, 5),
            length_penalty: float = DEFAULT_SEARCH.length_penalty,
            description: Description = Description()) -> dict[str, dict[str, dict]]:
    """Ship ``checkpoint`` at ``destination`` with its measured test scores in the metadata; returns them,
    by set name and then by search (``greedy``, ``beam5``, ...).

    Every set of ``test_sets`` is scored with every beam size of ``beam_sizes``; scores of other
    sets already in the checkpoint's metadata stay.

    The verified files of ``checkpoint`` (every file but the optimiser state, so data added later,
    e.g. casing tables, ships too) are copied into a staging directory beside ``destination``; the
    staged copy is what gets scored, its manifest is rewritten, it is loaded once more, and only
    then swapped in atomically (translator.store.atomic). Staging leftovers of an earlier, killed release
    are removed first; a release killed at any point leaves ``destination`` as it was.

    Raises:
        CheckpointError: the checkpoint does not verify or load, or another release holds the lock.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(destination.parent, wait=False):
            clean_leftovers(destination)
            staging = staging_directory(destination)
            try:
                return _stage_and_swap(checkpoint, staging, destination, test_sets, beam_sizes, length_penalty,
                                       description)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except BlockingIOError:
        raise CheckpointError(f"another release is writing into {destination.parent}; try again when it has "
                              "finished") from None


def _stage_and_swap(checkpoint: Path, staging: Path, destination: Path, test_sets: list[NamedSet],
                    beam_sizes: tuple[int, ...], length_penalty: float, description: Description) -> dict:
    load_checkpoint(checkpoint)  # refuse to ship a checkpoint that does not verify or load
    files = read_verified(checkpoint)
    for name, data in files.contents.items():
        if name not in NOT_SHIPPED:
            (staging / name).write_bytes(data)
    _add_casing(staging, description)
    write_manifest(staging)
    scores = {one.name: _score_set(staging, destination, one, beam_sizes, length_penalty) for one in test_sets}
    metadata = read_metadata(staging)
    metadata.setdefault("test", {}).update(scores)
    if description.default_beam_size is not None:
        metadata["default_search"] = {"beam_size": description.default_beam_size}
    _describe(metadata, staging, description)
    validate_metadata(metadata, staging / METADATA_FILE)
    (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    write_manifest(staging)
    make_readable(staging)
    fsync_tree(staging)
    load_checkpoint(staging)  # what goes live is exactly what was verified and scored
    replace_directory(staging, destination)
    return scores


def _add_casing(staging: Path, description: Description) -> None:
    """Write the casing table the description asks for into ``staging``: built from ``casing_from``, or the
    checkpoint's own, with the names of ``target_casing_from``'s corpora added.

    Raises:
        ValueError: a config for a checkpoint with no casing table and no ``casing_from``, a config that does not
            load, or an unreadable file.
    """
    table = None
    if description.casing_from is not None:
        table = CaseRestorer.from_lines(read_lines(description.casing_from))
    if description.target_casing_from is not None:
        table = table or CaseRestorer.load(staging)
        if table is None:
            raise ValueError("--target-casing-from adds to the checkpoint's casing table, and it has none: "
                             "give --casing-from too")
        corpora = run_config(description.target_casing_from, "--target-casing-from").data.training_corpora()
        names = target_capitalised((line for corpus in corpora for line in read_lines(corpus.src)),
                                   (line for corpus in corpora for line in read_lines(corpus.tgt)))
        table = dataclasses.replace(table, target_capitalised=names)
    if table is not None:
        table.save(staging)


def _check_searches(args: argparse.Namespace) -> None:
    """The searches asked for, checked before any copying or scoring by what will read them: the library's
    resolver for each scored search, and its reader of ``default_search`` for the one the metadata records.

    Raises:
        ValueError: naming the flag and the option.
    """
    try:
        for beam_size in args.beam_sizes:
            resolve_search({"beam_size": beam_size, "length_penalty": args.length_penalty})
    except ValueError as error:
        raise ValueError(f"--beam-sizes/--length-penalty: {error}") from None
    if args.default_beam_size is not None:
        try:
            model_search_defaults({"default_search": {"beam_size": args.default_beam_size}})
        except ValueError as error:
            raise ValueError(f"--default-beam-size: {error}") from None


def _score_set(staging: Path, destination: Path, test_set: NamedSet, beam_sizes: tuple[int, ...],
               length_penalty: float) -> dict[str, dict]:
    """One set's scores by search, each measured as its recorded ``translator-evaluate`` command measures
    it (a fresh load of the model, the other search options at their defaults)."""
    scores = {}
    for beam_size in beam_sizes:
        options = resolve_search({"beam_size": beam_size, "length_penalty": length_penalty})
        report = evaluate(staging, test_set.src, test_set.ref, options, device="cpu")
        scores["greedy" if beam_size == 1 else f"beam{beam_size}"] = {
            "bleu": report["bleu"], "chrf": report["chrf"], "bleu_signature": report["bleu_signature"],
            "chrf_signature": report["chrf_signature"], "sentences": report["sentences"],
            "seconds_on_cpu": report["seconds"],
            "command": f"translator-evaluate {portable_path(destination)} --src {portable_path(test_set.src)} "
                       f"--ref {portable_path(test_set.ref)} "
                       f"--beam-size {beam_size} --length-penalty {length_penalty} --device cpu",
        }
    return scores


def _describe(metadata: dict, staging: Path, description: Description) -> None:
    """Record the domain and the staged model's own translations of the out-of-domain examples."""
    from translator.translate import Translator

    domain = dict(metadata.get("domain") or {})
    stated = description.domain or domain.get("description") or (metadata.get("training_data") or {}).get("domain")
    if stated:
        domain["description"] = stated
    if description.out_of_domain:
        translator = Translator.from_pretrained(staging, device="cpu")
        outputs = translator.translate(list(description.out_of_domain), model_search_defaults(metadata))
        domain["out_of_domain_examples"] = [
            {"source": source, "translation": output} for source, output in zip(description.out_of_domain, outputs)
        ]
    if domain:
        metadata["domain"] = domain


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-release``."""
    parser = argparse.ArgumentParser(
        prog="translator-release",
        description="Copy a checkpoint (e.g. runs/x/best) to its shipping place (e.g. models/de-en) and "
        "record greedy and beam-search scores on every named test set, with the commands that reproduce them, "
        "in its metadata.json. Name the sets with --test-name/--src/--ref (one set), --set (repeatable) and "
        "--sets-from, in any combination.",
    )
    parser.add_argument("checkpoint", type=Path, help="checkpoint directory to ship")
    parser.add_argument("destination", type=Path, help="where it ships, e.g. models/de-en (replaced atomically)")
    parser.add_argument("--test-name", help="name of the --src/--ref test set, e.g. multi30k-test2016")
    parser.add_argument("--src", type=Path, help="test source file (with --test-name and --ref)")
    parser.add_argument("--ref", type=Path, help="test reference file (with --test-name and --src)")
    add_set_arguments(parser, weights=False)
    parser.add_argument("--beam-sizes", type=int, nargs="+", default=[1, 5], help="beam sizes to score (default 1 5)")
    parser.add_argument("--length-penalty", type=float, default=DEFAULT_SEARCH.length_penalty,
                        help=f"GNMT alpha for beam search (default {DEFAULT_SEARCH.length_penalty})")
    parser.add_argument("--domain", help="what text the model was trained on, e.g. 'short descriptions of "
                        "everyday scenes (image captions)' (default: the training data's domain in its metadata)")
    parser.add_argument("--out-of-domain", action="append", default=[], metavar="SENTENCE",
                        help="a sentence outside that domain; its translation by the released model is recorded "
                        "beside it in metadata.json (repeatable)")
    parser.add_argument("--casing-from", type=Path, metavar="FILE",
                        help="training source file to build a casing table from (for all-lower/ALL-UPPER input), "
                        "for a checkpoint written without one")
    parser.add_argument("--target-casing-from", type=Path, metavar="CONFIG",
                        help="a training config or run directory: the names its corpora's targets write are added to "
                        "the casing table, so that a German source's names are kept (for a checkpoint trained "
                        "before training recorded them)")
    parser.add_argument("--default-beam-size", type=int, metavar="N",
                        help="the beam size the model is meant for, recorded as its default_search: what the "
                        "library, the CLIs and the service use when a caller gives none (e.g. 1 for a distilled "
                        f"fast model; default: none recorded, so {DEFAULT_SEARCH.beam_size})")
    args = parser.parse_args(argv)
    try:
        _check_searches(args)
        test_sets = _test_sets(args)
        description = Description(args.domain, tuple(args.out_of_domain), args.casing_from, args.default_beam_size,
                                  args.target_casing_from)
        scores = release(args.checkpoint, args.destination, test_sets, tuple(args.beam_sizes), args.length_penalty,
                         description)
    except (CheckpointError, ValueError) as error:
        print(f"translator-release: error: {error}", file=sys.stderr)
        return 2
    width = max(len(name) for name in scores)
    for name, by_search in scores.items():
        for search, score in by_search.items():
            print(f"{name:<{width}}  {search:<7} BLEU {score['bleu']:6.2f}  chrF {score['chrf']:6.2f}")
    signatures = sorted({score["bleu_signature"] for by_search in scores.values() for score in by_search.values()})
    print("\n".join(f"bleu: {signature}" for signature in signatures))
    return 0


def _test_sets(args: argparse.Namespace) -> list[NamedSet]:
    """The sets the flags name: ``--test-name``/``--src``/``--ref`` first, then ``--sets-from``, then ``--set``.

    Raises:
        ValueError: an incomplete single set, or what :func:`sets_from_args` refuses.
    """
    single = (args.test_name, args.src, args.ref)
    first = []
    if any(value is not None for value in single):
        if None in single:
            raise ValueError("a single test set needs all of --test-name, --src and --ref")
        first = [NamedSet(args.test_name, args.src, args.ref)]
    metadata = read_metadata(args.checkpoint)
    return sets_from_args(args, (metadata.get("source_language"), metadata.get("target_language")), first)


if __name__ == "__main__":
    sys.exit(main())
