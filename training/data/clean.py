"""Reading and cleaning parallel text (no torch here: preparation workers import this module)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from translator.text.normalize import normalize_text


def read_lines(path: Path) -> list[str]:
    """All lines of a UTF-8 text file, without line endings (:func:`translator.text.lines.read_lines`).

    Imported when called: importing the translator package imports torch, which the
    preparation workers that import this module must not pay for.
    """
    from translator.text.lines import read_lines as read_text_lines

    return read_text_lines(path)


def read_parallel(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Line-aligned source and target texts; the two files must have the same number of lines."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise ValueError(
            f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
            "parallel files must be line-aligned"
        )
    return src, tgt


@dataclass
class CleaningReport:
    """How many pairs were kept and why the others were dropped."""

    total: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """One human-readable line."""
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.dropped.items()))
        return f"kept {self.kept} of {self.total} pairs" + (f"; dropped {reasons}" if reasons else "")


def clean_pairs(src: list[str], tgt: list[str]) -> tuple[list[str], list[str], CleaningReport]:
    """Normalize both sides as requests are (:func:`translator.text.normalize.normalize_text`) and drop
    pairs with an empty side."""
    report = CleaningReport(total=len(src))
    kept_src, kept_tgt = [], []
    for source, target in zip(src, tgt):
        source, target = normalize_text(source), normalize_text(target)
        if not source or not target:
            report.dropped["empty"] += 1
            continue
        kept_src.append(source)
        kept_tgt.append(target)
    report.kept = len(kept_src)
    return kept_src, kept_tgt, report


def filter_by_length(
    src_ids: list[list[int]],
    tgt_ids: list[list[int]],
    max_length: int,
    max_ratio: float,
    report: CleaningReport,
) -> tuple[list[list[int]], list[list[int]]]:
    """Drop tokenized pairs that are too long or whose lengths are too unequal."""
    kept_src, kept_tgt = [], []
    for source, target in zip(src_ids, tgt_ids):
        if len(source) > max_length or len(target) > max_length:
            report.dropped["too long"] += 1
        elif max(len(source), len(target)) > max_ratio * max(1, min(len(source), len(target))):
            report.dropped["length ratio"] += 1
        else:
            kept_src.append(source)
            kept_tgt.append(target)
    report.kept = len(kept_src)
    return kept_src, kept_tgt
