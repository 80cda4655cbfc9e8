"""Checkpoint manifests: the sha256 of every file of a checkpoint directory, checked before use.

``manifest.json`` lists every other file of the directory with its size and sha256::

    {"format_version": 1, "files": {"config.json": {"bytes": 426, "sha256": "9f2c..."}, ...}}

Loading reads the manifest, then every file through one handle on the directory (so a directory
swapped in by a release meanwhile cannot mix two versions), and refuses a file that is missing,
unlisted, changed or swapped with another, naming it. A model's version is the hash of its
manifest's file list, so it changes when any file does (weights, tokenizers, metadata, ...).

A directory without a manifest is refused; ``translator-manifest DIR`` writes one for files one
trusts (e.g. a checkpoint written before manifests existed).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterator

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT_VERSION = 1
READ_ATTEMPTS = 3


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete, corrupt, tampered with or from an incompatible version."""


class FileEntry(BaseModel):
    """One file of a checkpoint: its size and content hash."""

    model_config = ConfigDict(extra="forbid")

    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Manifest(BaseModel):
    """Contents of ``manifest.json``."""

    model_config = ConfigDict(extra="forbid")

    format_version: int
    files: dict[str, FileEntry]

    def version(self) -> str:
        """The model version: ``sha256:`` and 12 hex digits of the hash of the canonical file list."""
        canonical = json.dumps({name: entry.sha256 for name, entry in self.files.items()}, sort_keys=True,
                               separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass
class VerifiedFiles:
    """The bytes of a checkpoint's files, each checked against the manifest, and the model version."""

    directory: Path
    contents: dict[str, bytes]
    version: str


def write_manifest(directory: str | Path) -> str:
    """(Re)write ``manifest.json`` for every file now in ``directory``; returns the model version.

    Call it last, after every file of the checkpoint is in place: a file added later is refused
    on load until the manifest is written again.
    """
    directory = Path(directory)
    files = {}
    for path in sorted(directory.iterdir()):
        if path.name == MANIFEST_FILE:
            continue
        if not path.is_file() or path.is_symlink():
            raise CheckpointError(f"{path} is not a regular file; a checkpoint directory holds only files")
        data = path.read_bytes()
        files[path.name] = FileEntry(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest = Manifest(format_version=MANIFEST_FORMAT_VERSION, files=files)
    temporary = directory / f".{MANIFEST_FILE}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(manifest.model_dump_json(indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o644)
    os.replace(temporary, directory / MANIFEST_FILE)
    return manifest.version()


def read_verified(directory: str | Path, keep: Collection[str] | None = None) -> VerifiedFiles:
    """Read every file of ``directory`` and check it against ``manifest.json``.

    Only the bytes of the files named in ``keep`` (default: all) are returned; the others are
    checked but not kept (large files the caller does not need, e.g. optimiser state).

    A directory swapped out (by a release) while it is being read is read again from its new
    version, up to :data:`READ_ATTEMPTS` times: the old one is deleted after the swap, so its
    files may vanish under the reader, which is no fault of the checkpoint.

    Raises:
        CheckpointError: one line naming the directory or file at fault and what to do.
    """
    directory = Path(directory)
    for _ in range(READ_ATTEMPTS - 1):
        try:
            return _read_verified_once(directory, keep)
        except _Swapped:
            continue
    try:
        return _read_verified_once(directory, keep)
    except _Swapped as swapped:
        raise swapped.error from None


def _read_verified_once(directory: Path, keep: Collection[str] | None) -> VerifiedFiles:
    with _directory_handle(directory) as opener:
        try:
            raw = _read(opener, directory, MANIFEST_FILE)
        except FileNotFoundError:
            raise CheckpointError(
                f"{directory / MANIFEST_FILE} is missing, so the checkpoint's files cannot be verified; if you "
                f"trust them, write one with: translator-manifest {directory}"
            ) from None
        except OSError as error:
            raise CheckpointError(f"cannot read {directory / MANIFEST_FILE}: {error.strerror}") from None
        manifest = _parse_manifest(directory / MANIFEST_FILE, raw)
        present = {name for name in _list(opener, directory) if name != MANIFEST_FILE}
        unlisted = sorted(present - set(manifest.files))
        if unlisted:
            raise CheckpointError(
                f"{directory / unlisted[0]} is not listed in {MANIFEST_FILE} (added after the checkpoint was "
                f"written?); remove it, or if it belongs there: translator-manifest {directory}"
            )
        contents = {}
        for name, entry in sorted(manifest.files.items()):
            path = directory / name
            try:
                data = _read(opener, directory, name)
            except FileNotFoundError:
                raise CheckpointError(f"{path} is missing (listed in {MANIFEST_FILE})") from None
            except OSError as error:  # a directory, a symbolic link (ELOOP with O_NOFOLLOW), unreadable
                if error.errno in (errno.EISDIR, errno.ELOOP):
                    raise CheckpointError(f"{path} is not a regular file; a checkpoint directory holds only "
                                          "files") from None
                raise CheckpointError(f"cannot read {path}: {error.strerror}") from None
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry.sha256:
                raise CheckpointError(
                    f"{path} does not match its sha256 in {MANIFEST_FILE} ({len(data)} bytes, sha256 "
                    f"{digest[:12]}...; expected {entry.bytes} bytes, {entry.sha256[:12]}...): the file was "
                    "changed, truncated or swapped after the checkpoint was written"
                )
            if keep is None or name in keep:
                contents[name] = data
    return VerifiedFiles(directory, contents, manifest.version())


def _parse_manifest(path: Path, raw: bytes) -> Manifest:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None
    if isinstance(data, dict) and data.get("format_version") != MANIFEST_FORMAT_VERSION:
        raise CheckpointError(f"{path} has format_version {data.get('format_version')!r}; this library reads "
                              f"format_version {MANIFEST_FORMAT_VERSION}")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise CheckpointError(f"{path} is not a valid manifest: {where}: {first['msg']}") from None
    bad = sorted(name for name in manifest.files if name in ("", ".", "..") or "/" in name or "\\" in name
                 or name == MANIFEST_FILE)
    if bad:
        raise CheckpointError(f"{path} lists {bad[0]!r}, which is not a file name inside the directory")
    return manifest


@contextlib.contextmanager
def _directory_handle(directory: Path) -> Iterator[int | None]:
    """An open handle on ``directory`` (``None`` where the OS cannot open files relative to one)."""
    if not directory.is_dir():
        raise CheckpointError(f"model directory {directory} does not exist or is not a directory")
    if os.open not in os.supports_dir_fd or not hasattr(os, "O_DIRECTORY"):
        yield None
        return
    try:
        handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise CheckpointError(f"cannot open model directory {directory}: {error.strerror}") from None
    try:
        yield handle
    except CheckpointError as error:
        if not _still_at(handle, directory):
            raise _Swapped(error) from None
        raise
    finally:
        os.close(handle)


class _Swapped(Exception):
    """The directory was replaced while being read (``error`` is what reading the old one ran into)."""

    def __init__(self, error: CheckpointError) -> None:
        super().__init__(str(error))
        self.error = error


def _still_at(handle: int, directory: Path) -> bool:
    """Whether the directory open as ``handle`` is still the one at ``directory``."""
    try:
        now, then = os.stat(directory), os.fstat(handle)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (then.st_dev, then.st_ino)


def _read(handle: int | None, directory: Path, name: str) -> bytes:
    """The bytes of ``name`` inside the directory ``handle`` (symlinks are not followed)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(name, flags, dir_fd=handle) if handle is not None else os.open(directory / name, flags)
    with open(descriptor, "rb") as file:
        return file.read()


def _list(handle: int | None, directory: Path) -> list[str]:
    return os.listdir(handle if handle is not None else directory)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``translator-manifest``."""
    parser = argparse.ArgumentParser(
        prog="translator-manifest",
        description="Write (or rewrite) manifest.json, the sha256 of every file, in checkpoint directories, so "
        "they can be loaded and served. Only do this for files you trust: loading then accepts exactly them. "
        "Prints each directory's model version.",
    )
    parser.add_argument("directories", type=Path, nargs="+", help="checkpoint directories")
    parser.add_argument("--check", action="store_true",
                        help="only verify the existing manifests (exit 2 naming the first bad file)")
    args = parser.parse_args(argv)
    for directory in args.directories:
        try:
            if args.check:
                version = read_verified(directory, keep=()).version
            else:
                if not directory.is_dir():
                    raise CheckpointError(f"model directory {directory} does not exist or is not a directory")
                version = write_manifest(directory)
        except (CheckpointError, OSError) as error:
            print(f"translator-manifest: error: {error}", file=sys.stderr)
            return 2
        print(f"{directory}: {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
