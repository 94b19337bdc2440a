"""The shared catalog database: PostgreSQL, for collections that many machines index and search.

The same schema and migrations as the SQLite catalog (``migrations/postgresql``),
keyword search with a weighted ``tsvector``, claims with ``FOR UPDATE SKIP LOCKED``.
One connection per process, used by one thread at a time; ``psycopg`` is imported
only when a ``postgresql://`` catalog is opened.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from lookalike.catalog.database import Cursor, Database, Tx
from lookalike.catalog.postgres.search import keyword_search
from lookalike.catalog.schema import TABLES, migrations
from lookalike.errors import BackendError, ConfigError

__all__ = ["PostgresDatabase", "safe_url"]

_MIGRATE_LOCK = 0x6C6F6F6B  # advisory lock keys: any fixed numbers, the same in every process
_CHANGE_LOCK = 0x6C6F6F6C


def _dialect(sql: str) -> str:
    """Our ``?`` placeholders in psycopg's style (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Tx:
    """A psycopg cursor that takes ``?`` placeholders."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        self._cursor.execute(_dialect(sql), tuple(params))
        cursor: Cursor = self._cursor
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Cursor:
        rows = [tuple(r) for r in rows]
        if rows:
            self._cursor.executemany(_dialect(sql), rows)
        cursor: Cursor = self._cursor
        return cursor


class PostgresDatabase(Database):
    """The catalog in a PostgreSQL database (``catalog = postgresql://...``)."""

    shared = True
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, connect_timeout: float = 10.0, migrate: bool = True) -> None:
        """Connect, and bring the schema up to date unless ``migrate`` is off (a check that
        must not change the database)."""
        super().__init__()
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "a postgresql:// catalog needs psycopg: pip install 'lookalike[postgres]'"
            ) from None
        self.url, self._timeout = url, max(1, int(connect_timeout))
        self._lost: type[BaseException] = psycopg.OperationalError
        self._error: type[BaseException] = psycopg.Error
        self._db = self._connect()
        self._lock = threading.RLock()
        if migrate:
            self._migrate()

    def _connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=self._timeout)
        except psycopg.Error as exc:
            raise BackendError(
                f"cannot connect to the catalog at {safe_url(self.url)}: {exc}".strip()
            ) from exc

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A lost connection becomes a BackendError (HTTP 503); the next call connects again."""
        try:
            yield
        except self._lost as exc:
            if self._db.broken or self._db.closed:
                self._db = self._connect()
            raise BackendError(f"the catalog at {safe_url(self.url)} failed: {exc}") from exc
        except self._error as exc:  # a statement failed: the driver's error stays inside the catalog
            raise BackendError(f"the catalog at {safe_url(self.url)} failed: {exc}") from exc

    def _migrate(self) -> None:
        """Apply new migrations, one process at a time (others wait on the advisory lock)."""
        with self._lock, self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self.schema_version
            for number, script in migrations("postgresql"):
                if number > current:
                    self._db.execute(script)  # our own files, not input
                    self._db.execute("DELETE FROM schema_version")
                    self._db.execute("INSERT INTO schema_version VALUES (%s)", (number,))

    @property
    def schema_version(self) -> int:
        """The last migration applied; 0 for a database lookalike has not used yet."""
        found = self._db.execute("SELECT to_regclass('schema_version')").fetchone()
        if not found or found[0] is None:
            return 0
        row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _begin(self) -> Iterator[Tx]:
        with self._lock, self._guard(), self._db.transaction(), self._db.cursor() as cursor:
            yield _Tx(cursor)

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._lock, self._guard(), self._db.cursor() as cursor:
            cursor.execute(_dialect(sql), tuple(params))
            names = [c.name for c in cursor.description or ()]
            return names, [tuple(r) for r in cursor.fetchall()]

    def lock_change_log(self, tx: Tx) -> None:
        # held to commit: a later sequence number is always a later commit
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_CHANGE_LOCK,))

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """A session advisory lock, keyed by a hash of ``name``, on a connection of its own."""
        import psycopg

        key = zlib.crc32(name.encode())
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def keyword_search(
        self, text: str, limit: int, alternatives: Mapping[str, Sequence[str]] | None = None
    ) -> list[tuple[int, float]]:
        return keyword_search(self, text, limit, alternatives or {})

    def after_import(self) -> None:
        with self.transaction() as tx:
            for table, (key, _) in TABLES.items():
                if table not in (
                    "file_state",
                    "feature",
                    "signal_failure",
                    "text_word",
                ):  # keyed by text, no sequence
                    tx.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'),"
                        f" (SELECT coalesce(max({key}), 0) + 1 FROM {table}), false)"
                    )

    def describe(self) -> str:
        return f"PostgreSQL {safe_url(self.url)}"

    def size_bytes(self) -> int:
        return self.count("SELECT pg_database_size(current_database())")


def safe_url(url: str) -> str:
    """A URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
