"""``SearchOptions``: how to decode, with the defaults of the library, the CLIs and the service in one place.

The library takes one (``Translator.translate_detailed(texts, options)``, or its fields as keywords),
the CLIs take their flag defaults from :data:`DEFAULT_SEARCH`, and the service's request schema
builds one (``TranslateRequest.search_options``); nothing else states a default.

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
        for name in ("beam_size", "n_best", "max_output_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for name in ("length_penalty", "max_output_ratio"):
            value = getattr(self, name)
            if value is None and name == "max_output_ratio":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        if not 1 <= self.n_best <= self.beam_size:
            raise ValueError(f"n_best must be between 1 and beam_size ({self.beam_size}), got {self.n_best}")
        if self.length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {self.length_penalty}")
        if self.max_output_length < 1:
            raise ValueError(f"max_output_length must be >= 1, got {self.max_output_length}")
        if self.max_output_ratio is not None and self.max_output_ratio <= 0:
            raise ValueError(f"max_output_ratio must be > 0, got {self.max_output_ratio}")

    def updated(self, **changes: Any) -> "SearchOptions":
        """A copy with ``changes`` applied (validated again).

        Raises:
            TypeError: a name that is not a search option.
        """
        unknown = sorted(set(changes) - FIELD_NAMES)
        if unknown:
            raise TypeError(f"unknown search option(s) {unknown}; the options are {sorted(FIELD_NAMES)}")
        return replace(self, **changes)


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
    """The options a command's flags (from :func:`add_search_arguments`) ask for; ``defaults`` (the
    model's, from :func:`model_search_defaults`) fill in ``--beam-size`` (widened to ``--n-best``) and
    ``--length-penalty`` when they are not given.

    Raises:
        ValueError: a value out of range, naming the option.
    """
    n_best = getattr(args, "n_best", DEFAULT_SEARCH.n_best)
    return SearchOptions(  # without --beam-size, the beam is at least as wide as the n-best list asked for
        beam_size=max(n_best, defaults.beam_size) if args.beam_size is None else args.beam_size, n_best=n_best,
        length_penalty=defaults.length_penalty if args.length_penalty is None else args.length_penalty,
        max_output_length=args.max_output_length, max_output_ratio=args.max_output_ratio,
    )
