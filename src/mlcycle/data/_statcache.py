"""The stat cache: file hashes remembered by (size, mtime, inode) so unchanged files
are never hashed twice.

`.mlcycle/statcache.db` is a SQLite file (stdlib `sqlite3`, WAL mode) with
one row per absolute path: size in bytes, mtime in nanoseconds, inode and
the BLAKE3 id. An entry whose stat still matches is trusted, the way git's
index and DVC's state database trust theirs. Entries for files modified
within :data:`RACY_NS` of being hashed are not stored: the file system's
clock tick could hide a second write with the same mtime.

This module imports only the standard library, so `data status` stays fast.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

FILE_NAME = "statcache.db"
RACY_NS = 50_000_000  # 50 ms, a few kernel clock ticks
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stat ("
    "path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, oid TEXT)"
)

Key = tuple[int, int, int]
Entry = tuple[int, int, int, str]  # (size, mtime_ns, inode, oid): a key and its BLAKE3 id


def stat_key(st: os.stat_result) -> Key:
    """The part of a stat the cache compares: (size in bytes, mtime in ns, inode)."""
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class StatCache:
    """Remembered file hashes of one workspace (use from one thread at a time).

    Args:
        state_dir: the workspace's `.mlcycle/` folder.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # a lost entry only costs a re-hash
            conn.execute(_SCHEMA)
            self._conn = conn
        return self._conn

    def lookup(self, path: str, st: os.stat_result) -> str | None:
        """The remembered BLAKE3 id of the file at absolute `path` if `st` still matches."""
        entry = self.entry(path)
        return entry[3] if entry and entry[:3] == stat_key(st) else None

    def entry(self, path: str) -> Entry | None:
        """The entry of the file at absolute `path`, whether or not it still matches."""
        row = (
            self._db()
            .execute("SELECT size, mtime_ns, inode, oid FROM stat WHERE path = ?", (path,))
            .fetchone()
        )
        return None if row is None else (row[0], row[1], row[2], row[3])

    def lookup_under(self, folder: str) -> dict[str, Entry]:
        """Every entry below the absolute folder path `folder`, by path.

        An entry is (size, mtime_ns, inode, oid): compare `entry[:3]` with
        :func:`stat_key` of the file's stat now.
        """
        prefix = folder.rstrip(os.sep) + os.sep
        rows = self._db().execute(
            "SELECT path, size, mtime_ns, inode, oid FROM stat WHERE path >= ? AND path < ?",
            (prefix, prefix[:-1] + chr(ord(os.sep) + 1)),
        )
        return {r[0]: r[1:] for r in rows}

    def store(self, entries: list[tuple[str, os.stat_result, str]]) -> None:
        """Remember (absolute path, stat when hashed, BLAKE3 id) for each entry."""
        cutoff = time.time_ns() - RACY_NS
        rows = [(p, *stat_key(st), oid) for p, st, oid in entries if st.st_mtime_ns < cutoff]
        if not rows:
            return
        db = self._db()
        with db:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        """Close the database connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
