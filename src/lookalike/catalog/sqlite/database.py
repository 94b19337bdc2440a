"""The embedded catalog database: one SQLite file, WAL, one writer and many readers; FTS5 keyword search."""

from __future__ import annotations

import fcntl
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from lookalike.catalog.database import Database, Tx
from lookalike.catalog.schema import migrations
from lookalike.catalog.sqlite.search import keyword_search
from lookalike.errors import BackendError

__all__ = ["SqliteDatabase"]

# reads map the file (the OS page cache, shared by every connection) instead of copying pages
MMAP_BYTES = 1 << 30


class SqliteDatabase(Database):
    """The catalog in one SQLite file (the zero-configuration default)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        try:
            self._db = _connect(path)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the catalog {path}: {exc}") from exc
        self._lock = threading.RLock()  # the writing connection: one thread at a time
        self._local = threading.local()  # each thread's reading connection, and whether it is writing
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        with self._guard():
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                self._db.execute(f"PRAGMA {pragma}")
            self._migrate()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """SQLite's errors (a locked, full, corrupt or vanished file) become a BackendError."""
        try:
            yield
        except sqlite3.Error as exc:
            raise BackendError(f"the catalog {self.path} failed: {exc}") from exc

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
        with self._guard():
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for reader in self._readers:
                reader.close()
            self._readers.clear()
        self._db.close()

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's connection for reads, so that threads read side by side (WAL lets readers
        run beside the writer); None inside a write transaction, which reads its own writes."""
        if self._closed or getattr(self._local, "writing", 0) > 0:
            return None  # a closed catalog fails on its writer
        reader: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = _connect(self.path)
            reader.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            with self._lock:
                self._readers.append(reader)
            self._local.reader = reader
        return reader

    @contextmanager
    def _begin(self) -> Iterator[Tx]:
        with self._lock, self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            self._local.writing = getattr(self._local, "writing", 0) + 1
            try:
                yield cast(Tx, self._db)  # a Connection takes the same calls
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._local.writing -= 1
            self._db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._guard():
            reader = self._reader()
            with nullcontext() if reader is not None else self._lock:
                cur = (reader or self._db).execute(sql, params)
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

    def keyword_search(
        self, text: str, limit: int, alternatives: Mapping[str, Sequence[str]] | None = None
    ) -> list[tuple[int, float]]:
        return keyword_search(self, text, limit, alternatives or {})

    def describe(self) -> str:
        return f"SQLite {self.path}"

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))


def _connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are begun explicitly) that waits 30 s for a lock."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection
