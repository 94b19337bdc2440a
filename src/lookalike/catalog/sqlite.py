"""The embedded catalog: one SQLite file, WAL, one writer and many readers; FTS5 keyword search."""

from __future__ import annotations

import fcntl
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from lookalike.catalog.base import Catalog, Tx, migrations
from lookalike.errors import BackendError

__all__ = ["SqliteCatalog"]


class SqliteCatalog(Catalog):
    """The catalog in one SQLite file (the zero-configuration default)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the catalog {path}: {exc}") from exc
        self._lock = threading.RLock()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._migrate()

    def _migrate(self) -> None:
        current = self.schema_version
        for number, script in migrations("sqlite"):
            if number > current:
                with self._lock:
                    self._db.executescript(
                        f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
                    )

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield cast(Tx, self._db)  # a Connection takes the same calls
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._lock:
            cur = self._db.execute(sql, params)
            return [c[0] for c in cur.description or ()], cur.fetchall()

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """A lock file beside the catalog: processes on this machine take turns."""
        lock_path = self.path.with_name(f"{self.path.name}.{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock")
        with open(lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def text_search(self, text: str, limit: int = 1000) -> list[tuple[int, float]]:
        """BM25 over FTS5; scores are the negated rank.  Words are quoted, never SQL."""
        words = re.findall(r"\w+", text.lower())
        if not words:
            return []
        for joiner in (" AND ", " OR "):
            query = joiner.join(f'"{w}"' for w in words)
            rows = self._all(
                "WITH hit AS MATERIALIZED (SELECT rowid, -bm25(occurrence_fts, 1.0, 4.0, 3.0, 2.0)"
                "  AS score FROM occurrence_fts WHERE occurrence_fts MATCH ?)"
                " SELECT o.image_id, max(hit.score) AS best FROM hit"
                " JOIN occurrence o ON o.id = hit.rowid"
                " JOIN image i ON i.id = o.image_id AND i.status = 'ok'"
                " GROUP BY o.image_id ORDER BY best DESC, o.image_id LIMIT ?",
                (query, limit),
            )
            if rows or len(words) == 1:
                return [(int(i), float(s)) for i, s in rows]
        return []

    def describe(self) -> str:
        return f"SQLite {self.path}"

    def _size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
