"""Replacing a directory atomically: build a staging copy beside it, then swap it in.

A checkpoint directory ``NAME`` is built in ``.NAME.staging-XXXX`` next to it and swapped in with
one ``renameat2(RENAME_EXCHANGE)`` (Linux): at every instant ``NAME`` is either the complete old
directory or the complete new one, and readers that opened the old one keep reading it. Where the
kernel or file system cannot exchange, the fallback renames the old directory to
``.NAME.old-XXXX`` and the staging one to ``NAME`` -- two renames, so ``NAME`` is missing for the
moment between them; if the process dies exactly there, the next writer puts the old one back.

Names starting with ``.`` are staging or retired copies: readers scanning a models folder skip
them, and the next writer into the same folder removes those of the name it writes (under a lock
on the folder, so two writers never remove each other's staging directory).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

STAGING_TAG = "staging"
RETIRED_TAG = "old"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def is_hidden(path: Path) -> bool:
    """Whether ``path`` is a staging/retired copy (or any hidden entry) that readers must skip."""
    return path.name.startswith(".")


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small text file through ``.NAME.tmp`` and a rename: a kill leaves the old file or the new one."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file through ``.NAME.tmp``, flushed to disk, and a rename: a kill leaves the old file or the new one
    (or none), never part of one. The temporary file is removed if writing it fails."""
    staging = path.with_name(f".{path.name}.tmp")
    try:
        with open(staging, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def staging_directory(destination: Path) -> Path:
    """A new empty ``.NAME.staging-XXXX`` directory beside ``destination``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{destination.name}.{STAGING_TAG}-", dir=destination.parent))


def leftovers(destination: Path) -> list[Path]:
    """Staging and retired copies of ``destination`` left by an interrupted writer.

    Matches ``.NAME.staging-*``, ``.NAME.old-*``, and the older ``.NAME.old`` and ``.NAME.XXXXXXXX``
    (8 random characters, no dot) names, never another model's (``.NAME.v2.*`` has a dot).
    """
    pattern = re.compile(rf"^\.{re.escape(destination.name)}\.(?:(?:{STAGING_TAG}|{RETIRED_TAG})-[a-z0-9_]+"
                         rf"|{RETIRED_TAG}|[a-z0-9_]{{8}})$")
    if not destination.parent.is_dir():
        return []
    return sorted(p for p in destination.parent.iterdir() if pattern.match(p.name) and p.is_dir())


def clean_leftovers(destination: Path) -> list[Path]:
    """Restore ``destination`` if a fallback swap was cut between its two renames, then delete leftovers.

    Call it holding :func:`folder_lock` on ``destination.parent``. Returns what was removed.
    """
    found = leftovers(destination)
    retired = [p for p in found if p.name.startswith(f".{destination.name}.{RETIRED_TAG}")]
    if not destination.exists() and retired:
        newest = max(retired, key=lambda p: p.stat().st_mtime)
        os.rename(newest, destination)
        found.remove(newest)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


@contextlib.contextmanager
def folder_lock(folder: Path, wait: bool = True) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` among writers (``flock`` on the directory itself).

    Raises:
        BlockingIOError: ``wait`` is false and another writer holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, writers must not run at once
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        yield
    finally:
        os.close(handle)  # closing releases the lock


def fsync_tree(directory: Path) -> None:
    """Flush every file of ``directory`` and the directory itself to disk."""
    for path in directory.iterdir():
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_directory(directory)


def replace_directory(staging: Path, destination: Path) -> None:
    """Put the complete directory ``staging`` at ``destination`` (see the module docstring).

    The old ``destination``, if any, is deleted afterwards. ``staging`` must be beside it (same
    file system).
    """
    if not destination.exists():
        os.rename(staging, destination)
    elif _exchange(staging, destination):
        shutil.rmtree(staging, ignore_errors=True)  # it now holds the old directory
    else:
        retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.{RETIRED_TAG}-", dir=destination.parent))
        os.rmdir(retired)
        os.rename(destination, retired)
        os.rename(staging, destination)
        shutil.rmtree(retired, ignore_errors=True)
    _fsync_directory(destination.parent)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with Linux's ``renameat2``; False where that is not supported.

    Hand-written with ctypes: the call is one line, and the PyPI wrapper is unmaintained.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:  # glibc < 2.28 or another libc
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def _fsync_directory(directory: Path) -> None:
    """Make renames and new entries in ``directory`` durable (no-op where directories cannot be opened)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
