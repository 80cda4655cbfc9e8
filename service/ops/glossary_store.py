"""Named glossaries, stored per API key in SQLite so they survive restarts.

One table, ``glossaries(owner, name, entries, updated)``: ``owner`` is a digest of the API key
(:func:`service.ops.auth.key_owner`), so one key's glossaries are invisible to every other key and the keys
themselves are never written down; ``entries`` is the glossary's JSON list form. The database file is opened
on first use (a server whose clients never store a glossary creates none), one connection per call, with
SQLite's own locking: calls run off the event loop (``asyncio.to_thread``) and are short.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from translator.glossary import Glossary, parse_glossary

SCHEMA = """
CREATE TABLE IF NOT EXISTS glossaries (
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    entries TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (owner, name)
)
"""


class TooManyGlossaries(Exception):
    """The owner already stores the most glossaries allowed."""


class GlossaryStore:
    """Create, read, list, replace and delete named glossaries, per owner, in one SQLite file."""

    def __init__(self, path: Path, max_per_owner: int) -> None:
        self.path = Path(path)
        self.max_per_owner = max_per_owner
        self._created = False
        self._lock = threading.Lock()  # one writer at a time within this process

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=10)
        if not self._created:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection.execute(SCHEMA)
            connection.commit()
            self._created = True
        return connection

    def put(self, owner: str, name: str, glossary: Glossary) -> bool:
        """Store ``glossary`` as ``name``; True when it replaced one of that name.

        Raises:
            TooManyGlossaries: ``owner`` has :attr:`max_per_owner` others already.
        """
        entries = json.dumps([{"source": e.source, "target": e.target} for e in glossary.entries], ensure_ascii=False)
        with self._lock, closing(self._connect()) as connection, connection:
            existed = connection.execute("SELECT 1 FROM glossaries WHERE owner = ? AND name = ?",
                                         (owner, name)).fetchone() is not None
            if not existed:
                (count,) = connection.execute("SELECT COUNT(*) FROM glossaries WHERE owner = ?", (owner,)).fetchone()
                if count >= self.max_per_owner:
                    raise TooManyGlossaries(name)
            connection.execute("INSERT OR REPLACE INTO glossaries VALUES (?, ?, ?, ?)",
                               (owner, name, entries, time.time()))
        return existed

    def get(self, owner: str, name: str) -> Glossary | None:
        """The glossary ``name`` of ``owner``, or None."""
        with closing(self._connect()) as connection:
            row = connection.execute("SELECT entries FROM glossaries WHERE owner = ? AND name = ?",
                                     (owner, name)).fetchone()
        if row is None:
            return None
        return parse_glossary([{"source": e["source"], "target": e["target"]} for e in json.loads(row[0])])

    def names(self, owner: str) -> list[tuple[str, int, float]]:
        """``owner``'s glossaries as (name, entries, updated), by name."""
        with closing(self._connect()) as connection:
            rows = connection.execute("SELECT name, entries, updated FROM glossaries WHERE owner = ? ORDER BY name",
                                      (owner,)).fetchall()
        return [(name, len(json.loads(entries)), updated) for name, entries, updated in rows]

    def delete(self, owner: str, name: str) -> bool:
        """Delete ``name``; False when ``owner`` had none of that name."""
        with self._lock, closing(self._connect()) as connection, connection:
            cursor = connection.execute("DELETE FROM glossaries WHERE owner = ? AND name = ?", (owner, name))
        return cursor.rowcount > 0
