"""``SearchOptions``: how to decode, with the defaults of the library, the CLIs and the service in one place.

:func:`resolve_search` turns what a caller set into options: the library (``Translator.translate_detailed``
keywords), the CLIs (:func:`search_options_from_args`) and the service's request schema
(``TranslateRequest.search_options``) all call it, so "an unset beam widens to the n-best list" and a
server's limits are written once. :func:`check_option` is the one check of an option's value;
``SearchOptions`` and the request schema both use it.

A checkpoint may say how it is meant to be searched (``"default_search": {"beam_size": 1}`` in its
metadata, e.g. a distilled student made for greedy search): :func:`model_search_defaults` applies
that over :data:`DEFAULT_SEARCH`, and the library, the CLIs and the service use it for whatever
the caller leaves unsaid.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping


def check_option(name: str, value: Any) -> None:
    """Check one option's value on its own: counts are integers >= 1, ``length_penalty`` a finite number >= 0,
    ``max_output_ratio`` a finite number > 0 or None.

    Raises:
        ValueError: naming the option and the value.
    """
    if name in ("beam_size", "n_best", "max_output_length"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
        return
    if value is None and name == "max_output_ratio":
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if name == "length_penalty" and value < 0:
        raise ValueError(f"length_penalty must be >= 0, got {value}")
    if name == "max_output_ratio" and value <= 0:
        raise ValueError(f"max_output_ratio must be > 0, got {value}")


def check_n_best(n_best: int, beam_size: int) -> None:
    """Check that the n-best list fits in the beam.

    Raises:
        ValueError: naming both values.
    """
    if n_best > beam_size:
        raise ValueError(f"n_best must be between 1 and beam_size: n_best ({n_best}) cannot be larger than "
                         f"beam_size ({beam_size})")


@dataclass(frozen=True)
class SearchOptions:
    """How to search. ``max_output_length`` caps every output; ``max_output_ratio`` (if set) also caps it
    at ``ceil(ratio * source length)`` pieces. ``return_attention`` keeps the best hypothesis' attention.

    Frozen and hashable: the service merges requests into one model call only when these are equal.

    Raises:
        ValueError: a value out of range, naming the field.
    """

    beam_size: int = 5
    n_best: int = 1
    length_penalty: float = 1.0
    max_output_length: int = 256
    max_output_ratio: float | None = 2.0
    return_attention: bool = False

    def __post_init__(self) -> None:
        for name in CHECKED_FIELDS:
            check_option(name, getattr(self, name))
        check_n_best(self.n_best, self.beam_size)

    def updated(self, **changes: Any) -> "SearchOptions":
        """A copy with ``changes`` applied (validated again).

        Raises:
            TypeError: a name that is not a search option.
        """
        unknown = sorted(set(changes) - FIELD_NAMES)
        if unknown:
            raise TypeError(f"unknown search option(s) {unknown}; the options are {sorted(FIELD_NAMES)}")
        return replace(self, **changes)


CHECKED_FIELDS = ("beam_size", "n_best", "length_penalty", "max_output_length", "max_output_ratio")
"""The options whose values :func:`check_option` checks (``return_attention`` is a flag)."""
FIELD_NAMES = frozenset(f.name for f in fields(SearchOptions))
DEFAULT_SEARCH = SearchOptions()
"""The defaults, for flag defaults and help texts (``DEFAULT_SEARCH.beam_size``)."""

MODEL_DEFAULT_FIELDS = ("beam_size", "length_penalty")
"""The options a checkpoint's ``default_search`` metadata may set."""


def model_search_defaults(metadata: Mapping[str, Any]) -> SearchOptions:
    """:data:`DEFAULT_SEARCH` with a checkpoint's ``default_search`` metadata applied.

    Raises:
        ValueError: ``default_search`` names another option or has a value out of range.
    """
    stated = metadata.get("default_search") or {}
    unknown = sorted(set(stated) - set(MODEL_DEFAULT_FIELDS))
    if unknown:
        raise ValueError(f"default_search may set {list(MODEL_DEFAULT_FIELDS)}, not {unknown}")
    return DEFAULT_SEARCH.updated(**{name: value for name, value in stated.items() if value is not None})


@dataclass(frozen=True)
class SearchLimits:
    """What a server lets a request ask for: ``max_beam_size`` bounds ``beam_size`` and ``n_best``,
    ``max_output_length`` the output cap."""

    max_beam_size: int
    max_output_length: int


class AboveLimit(ValueError):
    """An option asked for above a :class:`SearchLimits` limit; ``limit_name`` is the limit's field name."""

    def __init__(self, option: str, value: int, limit_name: str, limit: int) -> None:
        super().__init__(f"{option} {value} is above the limit of {limit} ({limit_name})")
        self.option, self.value, self.limit_name, self.limit = option, value, limit_name, limit


def resolve_search(asked: Mapping[str, Any], defaults: SearchOptions = DEFAULT_SEARCH,
                   limits: SearchLimits | None = None) -> SearchOptions:
    """The options a caller asked for: ``asked`` (only the options it set) over ``defaults`` (the model's,
    from :func:`model_search_defaults`). A beam the caller did not set is widened to the n-best list it
    asked for. With ``limits``, what the caller left unset is lowered to them and what it set must not
    exceed them.

    Raises:
        TypeError: a name that is not a search option.
        AboveLimit: an option set above ``limits``.
        ValueError: a value out of range, naming the option.
    """
    if limits is not None:
        for option, limit_name, limit in (("beam_size", "max_beam_size", limits.max_beam_size),
                                          ("n_best", "max_beam_size", limits.max_beam_size),
                                          ("max_output_length", "max_output_length", limits.max_output_length)):
            value = asked.get(option)
            if isinstance(value, int) and value > limit:
                raise AboveLimit(option, value, limit_name, limit)
        defaults = defaults.updated(beam_size=min(defaults.beam_size, limits.max_beam_size),
                                    max_output_length=min(defaults.max_output_length, limits.max_output_length))
    n_best = asked.get("n_best", defaults.n_best)
    if "beam_size" not in asked and isinstance(n_best, int) and n_best > defaults.beam_size:
        defaults = defaults.updated(beam_size=n_best)
    return defaults.updated(**asked)


def add_search_arguments(parser: argparse.ArgumentParser, n_best: bool = True) -> None:
    """Add ``--beam-size``, ``--length-penalty``, ``--max-output-length``, ``--max-output-ratio`` (and
    ``--n-best``) to a command's parser, with the defaults of :data:`DEFAULT_SEARCH`; ``--beam-size`` and
    ``--length-penalty`` default to the model's (see :func:`search_options_from_args`)."""
    defaults = DEFAULT_SEARCH
    parser.add_argument("--beam-size", type=int,
                        help="beam size; 1 means greedy (default: the model's default_search, else "
                        f"{defaults.beam_size})")
    if n_best:
        parser.add_argument("--n-best", type=int, default=defaults.n_best,
                            help="write this many candidates per sentence, tab-separated with scores "
                            f"(default {defaults.n_best})")
    parser.add_argument("--length-penalty", type=float,
                        help="GNMT length penalty alpha; 0 ranks by raw log-probability (default: the model's "
                        f"default_search, else {defaults.length_penalty})")
    parser.add_argument("--max-output-length", type=int, default=defaults.max_output_length,
                        help=f"absolute output cap in pieces (default {defaults.max_output_length})")
    parser.add_argument("--max-output-ratio", type=float, default=defaults.max_output_ratio,
                        help="output cap as a multiple of the source length in pieces (default "
                        f"{defaults.max_output_ratio})")


def search_options_from_args(args: argparse.Namespace, defaults: SearchOptions = DEFAULT_SEARCH) -> SearchOptions:
    """The options a command's flags (from :func:`add_search_arguments`) ask for, resolved over ``defaults``
    (the model's, from :func:`model_search_defaults`) by :func:`resolve_search`.

    Raises:
        ValueError: a value out of range, naming the option.
    """
    asked = {name: getattr(args, name, None) for name in CHECKED_FIELDS}
    return resolve_search({name: value for name, value in asked.items() if value is not None}, defaults)
