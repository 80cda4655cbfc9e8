"""File digests: the bytes decide, and a file whose stat has not changed is not read again."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from training.data.digest import MEMO_NAME, file_sha256


def test_the_digest_is_the_sha256_of_the_bytes_and_survives_a_touch(tmp_path):
    path = tmp_path / "train.de"
    path.write_bytes("Ein Hund läuft.\n".encode() * 1000)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_sha256(path) == expected
    assert file_sha256(path, tmp_path / "memo") == expected
    os.utime(path, ns=(10**18, 10**18))
    assert file_sha256(path, tmp_path / "memo") == expected
    entry = json.loads((tmp_path / "memo" / MEMO_NAME).read_text())[str(path.resolve())]
    assert entry["mtime_ns"] == 10**18 and entry["sha256"] == expected


def test_an_unchanged_file_is_answered_from_the_memo_and_a_changed_one_read_again(tmp_path):
    path = tmp_path / "train.de"
    path.write_bytes(b"a b c\n")
    file_sha256(path, tmp_path)
    memo_path = tmp_path / MEMO_NAME
    memo = json.loads(memo_path.read_text())
    memo[str(path.resolve())]["sha256"] = "remembered"
    memo_path.write_text(json.dumps(memo))
    assert file_sha256(path, tmp_path) == "remembered"  # same size, mtime and inode: not read
    path.write_bytes(b"a b d\n")
    os.utime(path, ns=(10**18, 10**18))
    assert file_sha256(path, tmp_path) == hashlib.sha256(b"a b d\n").hexdigest()


def test_a_damaged_memo_is_ignored_and_a_missing_file_is_named(tmp_path):
    path = tmp_path / "train.de"
    path.write_bytes(b"x\n")
    (tmp_path / MEMO_NAME).write_text("{not json")
    assert file_sha256(path, tmp_path) == hashlib.sha256(b"x\n").hexdigest()
    with pytest.raises(ValueError, match="missing.de does not exist"):
        file_sha256(tmp_path / "missing.de", tmp_path)
