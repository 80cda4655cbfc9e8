"""Atomic directory replacement: the name always holds a complete directory; leftovers are recognised."""

from __future__ import annotations

import os
import threading
import time

import pytest

from translator.store import atomic as atomic
from translator.store.atomic import clean_leftovers, folder_lock, leftovers, replace_directory, staging_directory
from translator.store.manifest import read_verified, write_manifest


def make(directory, content):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "file").write_text(content)
    return directory


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-rename-fallback"])
def test_replace_puts_the_new_directory_in_place_and_removes_the_old(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)
    destination = make(tmp_path / "de-en", "old")
    staging = make(staging_directory(destination), "new")
    replace_directory(staging, destination)
    assert (destination / "file").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["de-en"]


def test_replace_into_a_new_name(tmp_path):
    destination = tmp_path / "de-en"
    replace_directory(make(staging_directory(destination), "new"), destination)
    assert (destination / "file").read_text() == "new"


@pytest.mark.skipif(not atomic.sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_a_reader_holding_the_old_directory_keeps_reading_it(tmp_path):
    destination = make(tmp_path / "de-en", "old")
    handle = os.open(destination, os.O_RDONLY)
    try:
        replace_directory(make(staging_directory(destination), "new"), destination)
        assert (destination / "file").read_text() == "new"
        # the old directory is unlinked, not rewritten: nothing it held changed under the reader
        assert os.listdir(handle) == []  # removed after the swap, never mixed with new files
    finally:
        os.close(handle)


def test_leftovers_are_this_names_staging_and_retired_copies_only(tmp_path):
    destination = make(tmp_path / "de-en", "live")
    mine = [tmp_path / n for n in (".de-en.staging-ab_12", ".de-en.old-xyz", ".de-en.old", ".de-en.k2j4x9q1")]
    others = [tmp_path / n for n in (".de-en.v2.staging-ab12", ".de-en-x.old-ab", ".fr-en.staging-ab", "de-en.bak")]
    for path in mine + others:
        path.mkdir()
    assert leftovers(destination) == sorted(mine)
    assert clean_leftovers(destination) == sorted(mine)
    assert sorted(p for p in tmp_path.iterdir()) == sorted([destination, *others])


def test_a_fallback_swap_cut_between_its_renames_is_undone(tmp_path):
    destination = tmp_path / "de-en"
    make(tmp_path / ".de-en.old-abc", "old")  # renamed away, then the process died
    make(tmp_path / ".de-en.staging-def", "new")
    clean_leftovers(destination)
    assert (destination / "file").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["de-en"]


def test_the_folder_lock_excludes_a_second_writer(tmp_path):
    with folder_lock(tmp_path):
        with pytest.raises(BlockingIOError):
            with folder_lock(tmp_path, wait=False):
                pass
    with folder_lock(tmp_path, wait=False):
        pass


@pytest.mark.skipif(not atomic.sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_readers_see_a_complete_old_or_new_directory_during_repeated_swaps(tmp_path):
    destination = tmp_path / "de-en"

    def version(content):
        directory = make(staging_directory(destination), content)
        (directory / "weights").write_bytes(content.encode() * 10_000)
        return directory, write_manifest(directory)

    first, first_version = version("first")
    replace_directory(first, destination)
    versions, reads, failures, done = {first_version}, [], [], threading.Event()

    def read_forever():
        while not done.is_set():
            try:
                reads.append(read_verified(destination).version)
            except Exception as error:  # noqa: BLE001 - any failure is the finding
                failures.append(repr(error))

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        for index in range(60):
            directory, new_version = version(f"v{index}")
            versions.add(new_version)
            replace_directory(directory, destination)
            time.sleep(0.005)  # releases are rare; a reader swapped out more than twice in a row is refused
    finally:
        done.set()
        reader.join()
    assert failures == []
    assert len(set(reads)) > 10 and set(reads) <= versions  # the reader saw many versions, each complete


def test_a_file_written_atomically_is_the_old_one_or_the_new_one(tmp_path, monkeypatch):
    target = tmp_path / "report.en.docx"
    atomic.write_bytes_atomic(target, b"old")
    assert target.read_bytes() == b"old"

    def interrupted(source, destination):
        raise KeyboardInterrupt  # the process stopped between writing the temporary file and the rename

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.en.docx"]  # no temporary file left
