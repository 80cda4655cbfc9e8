"""Content digests of input files, so that what was derived from them survives a copy or a touch.

Prepared caches and teacher translations are keyed by the bytes of the files they come from,
not by their modification times: restoring a corpus from a backup, copying it to a new machine
or ``touch``-ing it keeps an hour of preparation or translation valid, while any change to its
bytes still gives a new key. Reading a multi-gigabyte corpus costs about a second per GB, so a
small memo (``digests.json`` beside what the digests key) remembers each file's digest under its
size, modification time and inode; a file whose ``stat`` has not changed is not read again.

The memo is an optimisation only: a missing, damaged or concurrently rewritten memo means the
file is read again, never a wrong digest.

This module imports neither torch nor the translator package's model code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from translator.store.atomic import write_text_atomic

MEMO_NAME = "digests.json"
_BLOCK = 1 << 20


def file_sha256(path: Path, memo_dir: Path | None = None) -> str:
    """The sha256 of ``path``'s bytes, remembered in ``memo_dir/digests.json`` when given.

    Raises:
        ValueError: naming ``path`` when it does not exist.
    """
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    memo_path = Path(memo_dir) / MEMO_NAME if memo_dir is not None else None
    memo = _read_memo(memo_path) if memo_path is not None else {}
    entry = memo.get(str(path))
    if isinstance(entry, dict) and {key: entry.get(key) for key in stamp} == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    value = digest.hexdigest()
    if memo_path is not None:
        memo[str(path)] = {**stamp, "sha256": value}
        try:
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(memo_path, json.dumps(memo, indent=1, sort_keys=True) + "\n")
        except OSError:
            pass  # another process replaced it first, or a read-only directory: read again next time
    return value


def _read_memo(path: Path) -> dict:
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}

