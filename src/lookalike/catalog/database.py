"""The seam under every repository: a database that runs our SQL in transactions.

Repositories write their statements once, with ``?`` placeholders, in the SQL that
SQLite and PostgreSQL both speak.  A :class:`Database` (:mod:`.sqlite`, :mod:`.postgres`)
supplies the connection, transactions, locks, migrations and the few words that differ
(``FOR UPDATE SKIP LOCKED``, the change-log lock, keyword search).  Its driver's errors
become :class:`~lookalike.errors.BackendError` here, so nothing above the catalog sees them.

``transaction()`` is the unit of work: a use case that writes through several
repositories opens one, and every write inside it joins it and commits with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

__all__ = ["Cursor", "Database", "Tx", "chunks", "marks"]


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """A transaction: what :meth:`Database.transaction` yields."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Cursor: ...


class Database:
    """A connection that repositories share; a dialect implements the methods that raise."""

    #: Whether many machines may use this database at once (PostgreSQL).
    shared = False
    #: What a claim adds to its ``SELECT`` so that concurrent claims take different rows.
    skip_locked = ""

    def __init__(self) -> None:
        self._local = threading.local()  # this thread's transaction in progress, which nested writes join

    # ---- what a dialect supplies -----------------------------------------------------

    def _begin(self) -> AbstractContextManager[Tx]:
        """One transaction; commits when the block ends, rolls back when it raises."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of one read."""
        raise NotImplementedError

    def lock(self, name: str) -> AbstractContextManager[None]:
        """A lock that every process using this database respects (a shared index's catch-up)."""
        raise NotImplementedError

    def keyword_search(
        self, text: str, limit: int, alternatives: Mapping[str, Sequence[str]] | None = None
    ) -> list[tuple[int, float]]:
        """Image ids whose places or texts match ``text``, best first (the dialect's full-text search).

        ``alternatives`` maps a query word (lower case) to the words it stands for instead:
        any one of them matches in its place."""
        raise NotImplementedError

    def lock_change_log(self, tx: Tx) -> None:
        """Hold the change log until this transaction ends (so its sequence is commit order)."""

    def after_import(self) -> None:
        """Make the next generated ids follow rows imported with their ids."""

    def size_bytes(self) -> int:
        raise NotImplementedError

    def describe(self) -> str:
        """Where the database is, for people (no password)."""
        raise NotImplementedError

    @property
    def schema_version(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ---- what every repository uses --------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """The unit of work: the outermost block commits; blocks inside it join it."""
        open_: Tx | None = getattr(self._local, "tx", None)
        if open_ is not None:
            yield open_
            return
        with self._begin() as tx:
            self._local.tx = tx
            try:
                yield tx
            finally:
                self._local.tx = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        names, rows = self.query(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.query(sql, params)[1]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.one(sql, params)
        return int(row[0]) if row and row[0] is not None else 0

    def lease(
        self,
        tx: Tx,
        table: str,
        kinds: Sequence[str],
        limit: int,
        lease: float,
        columns: str,
        also: dict[str, Any] | None = None,
    ) -> list[Any]:
        """Lease the first ``limit`` pending rows of ``kinds`` in ``table`` no one holds (crawl URLs,
        jobs), counting an attempt on each: (id, *columns) rows in no particular order.

        One claim for every queue: ``SKIP LOCKED`` keeps concurrent claims apart on
        PostgreSQL, and the partial index of pending rows serves the ``ORDER BY id``.
        """
        now, set_also = time.time(), "".join(f", {name} = ?" for name in also or {})
        return tx.execute(
            f"UPDATE {table} SET attempts = attempts + 1, lease_until = ?{set_also} WHERE id IN"
            f" (SELECT id FROM {table} WHERE state = 'pending' AND kind IN ({marks(kinds)})"
            f" AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?{self.skip_locked})"
            f" RETURNING id, {columns}",
            (now + lease, *(also or {}).values(), *kinds, now, limit),
        ).fetchall()


def marks(items: Sequence[Any]) -> str:
    """``?,?,?``: one placeholder per item."""
    return ",".join("?" * len(items))


def chunks(items: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size`` (an ``IN (...)`` each)."""
    wanted = list(items)
    for start in range(0, len(wanted), size):
        yield wanted[start : start + size]
