"""Named evaluation sets, as ``translator-evaluate``, ``translator-select`` and ``translator-release``
are told them: each set has a name (the key of its scores in reports and ``metadata.json``), a
source file, a reference file and a weight (its share of the weighted mean BLEU).

On the command line a set is ``--set NAME SRC REF``, or ``--set NAME PREFIX`` when its files are
``PREFIX.<source language>`` and ``PREFIX.<target language>`` of the model, as every set in
``../shared/data`` is named (``--set newstest2012 ../shared/data/newstest/de-en.newstest2012``
scores de-en.newstest2012.de against .en, and the same flag with an en-de model the other way).
``--sets-from`` takes a training config's (or a run directory's) validation sets with their
weights: the sets and the rule the trainer selected its checkpoints by. ``--weight NAME=W``
restates one set's weight.

Every set's files are checked (present, UTF-8, line-aligned) before anything is translated, so a
typo in the third set fails in one line at once, not after the first two have been scored.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from training.data.clean import read_parallel

if TYPE_CHECKING:
    from training.config import TrainConfig

RUN_CONFIG = "config.yaml"  # what the trainer writes into every run directory


@dataclass(frozen=True)
class NamedSet:
    """A test or validation set: ``src`` translated and scored against ``ref``, reported as ``name``."""

    name: str
    src: Path
    ref: Path
    weight: float = 1.0


def add_set_arguments(parser: argparse.ArgumentParser, what: str = "test", weights: bool = True) -> None:
    """Add ``--set``, ``--sets-from`` and (with ``weights``) ``--weight`` to a command's parser; read
    them with :func:`sets_from_args`."""
    multi30k = "multi30k-val ../shared/data/multi30k/val" if what == "validation" else \
        "multi30k-test2016 ../shared/data/multi30k/test2016"
    group = parser.add_argument_group(
        f"named {what} sets (scored one by one, reported by name)",
        "Example: --set tatoeba ../shared/data/tatoeba/deu-eng/val --set newstest2012 "
        f"../shared/data/newstest/de-en.newstest2012 --set {multi30k}")
    group.add_argument("--set", dest="named_sets", nargs="+", action="append", default=[],
                       metavar=("NAME", "FILE"),
                       help=f"a named {what} set: NAME SRC REF (its source and reference files), or NAME PREFIX "
                       "for the files PREFIX.<source language> and PREFIX.<target language> of the model; repeatable")
    group.add_argument("--sets-from", type=Path, metavar="CONFIG",
                       help="the validation sets (names, files, weights) of a training config, e.g. "
                       "configs/general_de_en.yaml, or of a run directory's config.yaml; relative paths in it "
                       "are taken from the current directory, as translator-train does")
    if weights:
        group.add_argument("--weight", dest="set_weights", action="append", default=[], metavar="NAME=W",
                           help="the weight of the set NAME in the weighted mean BLEU (default: the config's, "
                           "else 1; 0 scores and records a set without counting it); repeatable")


def sets_from_args(args: argparse.Namespace, languages: tuple[str | None, str | None],
                   first: Iterable[NamedSet] = ()) -> list[NamedSet]:
    """The sets the flags of :func:`add_set_arguments` name, after ``first`` (e.g. a single
    ``--src``/``--ref`` set), checked: names unique, files readable and line-aligned, weights valid.

    ``languages`` are the model's (source, target) codes: they complete ``--set NAME PREFIX`` and
    must match the config of ``--sets-from``.

    Raises:
        ValueError: naming the flag, set or file that is wrong.
    """
    sets = list(first)
    if args.sets_from is not None:
        sets += config_sets(args.sets_from, languages)
    sets += [command_line_set(values, languages) for values in args.named_sets]
    sets = with_weights(sets, getattr(args, "set_weights", []))
    check_sets(sets)
    return sets


def command_line_set(values: list[str], languages: tuple[str | None, str | None]) -> NamedSet:
    """The set of one ``--set NAME SRC REF`` or ``--set NAME PREFIX``."""
    if len(values) == 3:
        return NamedSet(values[0], Path(values[1]), Path(values[2]))
    if len(values) != 2:
        raise ValueError(f"--set takes NAME SRC REF or NAME PREFIX, got {len(values)} value{'s' * (len(values) != 1)}: "
                         + " ".join(values))
    name, prefix = values
    source_language, target_language = languages
    if not source_language or not target_language:
        raise ValueError(f"--set {name} {prefix}: the model's metadata names no source_language/target_language "
                         "to complete the PREFIX with; give --set NAME SRC REF")
    return NamedSet(name, Path(f"{prefix}.{source_language}"), Path(f"{prefix}.{target_language}"))


def run_config(path: Path, flag: str) -> TrainConfig:
    """The training config of a config file or a run directory (its ``config.yaml``), which ``flag`` named.

    Raises:
        ValueError: naming ``flag`` and ``path`` when there is no config there, or what the config's loader refuses.
    """
    from training.config import load_config

    config_file = path / RUN_CONFIG if path.is_dir() else path
    if not config_file.is_file():
        raise ValueError(f"{flag} {path}: no training config there; give a training config file or a training "
                         f"run's output_dir (with its {RUN_CONFIG})")
    return load_config(config_file, {})


def config_sets(path: Path, languages: tuple[str | None, str | None]) -> list[NamedSet]:
    """The validation sets of a training config file or run directory, with their weights.

    Raises:
        ValueError: the config does not load, or it is for another language pair than the model.
    """
    data = run_config(path, "--sets-from").data
    if None not in languages and (data.src_lang, data.tgt_lang) != tuple(languages):
        raise ValueError(f"--sets-from {path}: its validation sets are {data.src_lang}->{data.tgt_lang}, the model "
                         f"translates {languages[0]}->{languages[1]}")
    return [NamedSet(one.name, one.src, one.tgt, one.weight) for one in data.validation_sets()]


def with_weights(sets: list[NamedSet], assignments: list[str]) -> list[NamedSet]:
    """``sets`` with each ``NAME=W`` of ``--weight`` applied.

    Raises:
        ValueError: an assignment that is malformed, names no set, or gives a negative weight.
    """
    weights = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        try:
            weight = float(value) if equals else math.nan
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"--weight {assignment}: expected NAME=W with a number W >= 0, e.g. --weight tatoeba=2")
        if name not in {one.name for one in sets}:
            raise ValueError(f"--weight {assignment}: there is no set named {name!r}; the sets are "
                             + ", ".join(one.name for one in sets))
        weights[name] = weight
    return [replace(one, weight=weights.get(one.name, one.weight)) for one in sets]


def check_sets(sets: list[NamedSet]) -> None:
    """Refuse, in one line, what would fail only once earlier sets have been scored.

    Raises:
        ValueError: no sets, a name given twice, no positive weight, a file that is missing, not
            UTF-8 or not line-aligned with its partner.
    """
    if not sets:
        raise ValueError("nothing to score: give --set NAME SRC REF (or NAME PREFIX), --sets-from CONFIG, or one set's "
                         "--src and --ref")
    names = [one.name for one in sets]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"set names must be unique; given more than once: {', '.join(repeated)}")
    if not any(one.weight > 0 for one in sets):
        raise ValueError("at least one set needs a weight above 0")
    for one in sets:
        if not one.name.strip():
            raise ValueError(f"a set needs a name (its files are {one.src} and {one.ref})")
        try:
            sources, _ = read_parallel(one.src, one.ref)
        except ValueError as error:
            raise ValueError(f"set {one.name}: {error}") from None
        if not sources:
            raise ValueError(f"set {one.name}: {one.src} is empty")


def weighted_mean(scores: Mapping[str, float], sets: list[NamedSet]) -> float:
    """The mean of ``scores`` (by set name) weighted by the sets' weights, as the trainer combines
    validation BLEU (training/loop/validation.py)."""
    total = sum(one.weight for one in sets)
    return sum(one.weight * scores[one.name] for one in sets) / total


def weighting_rule(sets: list[NamedSet], metric: str = "BLEU") -> str:
    """In words, what :func:`weighted_mean` computes, e.g. ``weighted mean BLEU: 0.5 x tatoeba + 0.5 x news``."""
    if len(sets) == 1:
        return f"{metric} on {sets[0].name}"
    return f"weighted mean {metric}: {weights_in_words(sets)}"


def weights_in_words(sets: list[NamedSet]) -> str:
    """The sets' shares of the weighted mean, e.g. ``0.5 x tatoeba + 0.5 x newstest2012``."""
    total = sum(one.weight for one in sets)
    return " + ".join(f"{one.weight / total:.3g} x {one.name}" for one in sets)
