"""The catalog's behaviour, written once in SQL that SQLite and PostgreSQL both speak.

A dialect (:mod:`.sqlite`, :mod:`.postgres`) supplies the connection, the
transactions, its numbered migrations, keyword search and a few words of SQL
that differ (``FOR UPDATE SKIP LOCKED``, the change-log lock).  Statements here
use ``?`` placeholders; a dialect that wants another style translates them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from importlib import resources
from typing import Any, Protocol

from lookalike.errors import Reason
from lookalike.records import CrawlUrl, Extracted, Failure, ImageInfo, Job, Occurrence, Provenance

__all__ = ["Catalog", "Change", "Tx", "migrations"]

Change = tuple[int, int, str]  # (seq, image_id, op)
_IMAGE_COLUMNS = "id, sha256, bytes, width, height, format, mode, status, reason, detail"
_CRAWL_COLUMNS = (
    "url, kind, depth, state, attempts, last_error, etag, last_modified, sha256, page_url, title, metadata"
)
_OCC_COLUMNS = (
    "id, uri, image_id, status, reason, detail, file, member, url, page_url, title, text, tags, extra,"
    " parent_id, box"
)
#: Tables in the order a copy must fill them (references first), each with its key and columns.
TABLES: dict[str, tuple[str, str]] = {
    "image": ("id", "id, sha256, bytes, width, height, format, mode, status, reason, detail, added_at"),
    "occurrence": (
        "id",
        "id, uri, file, member, image_id, status, reason, detail, size, mtime, url, page_url, title, text,"
        " tags, extra, scan_id, seen_at, parent_id, box",
    ),
    "file_state": ("path", "path, size, mtime, scan_id"),
    "feature": ("image_id", "image_id, signal, version, data"),
    "change": ("seq", "seq, image_id, op, at"),
    "scan": ("id", "id, roots, started_at, finished_at, counts"),
    "crawl_url": (
        "id",
        "id, url, kind, state, depth, attempts, last_error, etag, last_modified, sha256, page_url, title,"
        " metadata, updated_at",
    ),
    "job": (
        "id",
        "id, kind, key, payload, state, attempts, worker, last_error, created_at, updated_at",
    ),
}


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Tx(Protocol):
    """A transaction: what :meth:`Catalog._write` yields."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Cursor: ...


def migrations(dialect: str) -> list[tuple[int, str]]:
    """The numbered migration scripts of a dialect, in order."""
    folder = resources.files("lookalike.catalog") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Catalog:
    """Images, where they were seen, their features, the change log, the crawl frontier and jobs.

    The truth of a collection; every index is derived from it.
    """

    #: Whether many machines may use this catalog at once (PostgreSQL).
    shared = False
    #: What a claim adds to its ``SELECT`` so that concurrent claims take different rows.
    _skip_locked = ""

    # ---- what a dialect supplies -----------------------------------------------------

    def _write(self) -> AbstractContextManager[Tx]:
        """One transaction; commits when the block ends, rolls back when it raises."""
        raise NotImplementedError

    def _query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of one read."""
        raise NotImplementedError

    def _lock_change_log(self, db: Tx) -> None:
        """Hold the change log until this transaction ends (so its sequence is commit order)."""

    def lock(self, name: str) -> AbstractContextManager[None]:
        """A lock that every process using this catalog respects (a shared index's catch-up)."""
        raise NotImplementedError

    def text_search(self, text: str, limit: int = 1000) -> list[tuple[int, float]]:
        """Images whose names, paths, URLs, titles, tags or text match, best first.

        All words must match; when nothing does, any word may.  Larger scores are better.
        """
        raise NotImplementedError

    def _size_bytes(self) -> int:
        raise NotImplementedError

    def describe(self) -> str:
        """Where the catalog is, for people (no password)."""
        raise NotImplementedError

    @property
    def schema_version(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ---- reading helpers -------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        names, rows = self._query(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._query(sql, params)[1]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self._one(sql, params)
        return int(row[0]) if row and row[0] is not None else 0

    def _log(self, db: Tx, changes: Sequence[tuple[int, str]], now: float) -> None:
        """Append (image id, op) rows to the change log, last thing before the commit."""
        if changes:
            self._lock_change_log(db)
            db.executemany(
                "INSERT INTO change(image_id, op, at) VALUES (?, ?, ?)", [(i, op, now) for i, op in changes]
            )

    # ---- scans and files -------------------------------------------------------------

    def begin_scan(self, roots: Sequence[str]) -> int:
        with self._write() as db:
            row = db.execute(
                "INSERT INTO scan(roots, started_at) VALUES (?, ?) RETURNING id",
                (json.dumps(list(roots)), time.time()),
            ).fetchone()
            return int(row[0])

    def finish_scan(self, scan_id: int, counts: dict[str, int]) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE scan SET finished_at = ?, counts = ? WHERE id = ?",
                (time.time(), json.dumps(counts), scan_id),
            )

    def file_unchanged(self, path: str, size: int, mtime: float) -> bool:
        row = self._one("SELECT size, mtime FROM file_state WHERE path = ?", (path,))
        return row is not None and row[0] == size and row[1] == mtime

    def mark_files_seen(self, paths: Sequence[str], scan_id: int) -> None:
        """Keep unchanged files (and every member of unchanged archives) alive in this scan."""
        if not paths:
            return
        with self._write() as db:
            db.executemany("UPDATE file_state SET scan_id = ? WHERE path = ?", [(scan_id, p) for p in paths])
            db.executemany("UPDATE occurrence SET scan_id = ? WHERE file = ?", [(scan_id, p) for p in paths])

    def record_file(self, path: str, size: int, mtime: float, scan_id: int) -> None:
        """Remember that a file (or a whole archive) is fully indexed."""
        with self._write() as db:
            self._put_file(db, path, size, mtime, scan_id)

    @staticmethod
    def _put_file(db: Tx, path: str, size: int, mtime: float, scan_id: int) -> None:
        db.execute(
            "INSERT INTO file_state(path, size, mtime, scan_id) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, "
            "scan_id = excluded.scan_id",
            (path, size, mtime, scan_id),
        )

    # ---- writing ---------------------------------------------------------------------

    def known_images(self, shas: Iterable[str]) -> dict[str, Failure | None]:
        """Contents among ``shas`` that the catalog already holds, with their failure if any."""
        wanted = list(set(shas))
        found: dict[str, Failure | None] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for sha, status, reason, detail in self._all(
                f"SELECT sha256, status, reason, detail FROM image WHERE sha256 IN ({marks})", chunk
            ):
                found[sha] = Failure(Reason(reason), detail or "") if status == "failed" else None
        return found

    def record(
        self,
        batch: Sequence[tuple[Provenance, Extracted | Failure]],
        scan_id: int | None,
        files_done: Sequence[tuple[str, int, float]] = (),
    ) -> list[int]:
        """Commit a batch of outcomes in one transaction; returns ids of new usable images.

        ``files_done`` are plain files wholly recorded by this batch; committing
        them in the same transaction makes a killed run resume exactly.
        """
        now, new_ids, changes = time.time(), [], []
        with self._write() as db:
            for where, outcome in batch:
                image_id = None
                if isinstance(outcome, Extracted):
                    image_id, is_new, added = self._put_image(db, outcome, now)
                    if is_new and outcome.failure is None:
                        new_ids.append(image_id)
                    if added:
                        changes.append((image_id, "add"))
                self._put_occurrence(db, where, image_id, outcome, scan_id, now)
            for path, size, mtime in files_done:
                self._put_file(db, path, size, mtime, scan_id or 0)
            self._log(db, changes, now)
        return new_ids

    @staticmethod
    def _put_image(db: Tx, ex: Extracted, now: float) -> tuple[int, bool, bool]:
        """Insert an image and its features: (id, whether the image is new, whether a feature is)."""
        failure = ex.failure
        cur = db.execute(
            "INSERT INTO image(sha256, bytes, width, height, format, mode, status, reason, detail, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
            (
                ex.sha256,
                ex.size,
                ex.width or None,
                ex.height or None,
                ex.format or None,
                ex.mode or None,
                "failed" if failure else "ok",
                failure.reason.value if failure else None,
                failure.detail if failure else None,
                now,
            ),
        )
        is_new = cur.rowcount == 1
        image_id = int(db.execute("SELECT id FROM image WHERE sha256 = ?", (ex.sha256,)).fetchone()[0])
        added = False
        for signal, (version, payload) in ex.features.items():
            cur = db.execute(
                "INSERT INTO feature(image_id, signal, version, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (image_id, signal, version, payload),
            )
            added = added or cur.rowcount == 1
        return image_id, is_new, added

    @staticmethod
    def _put_occurrence(
        db: Tx,
        where: Provenance,
        image_id: int | None,
        outcome: Extracted | Failure,
        scan_id: int | None,
        now: float,
    ) -> None:
        failure = outcome if isinstance(outcome, Failure) else outcome.failure
        db.execute(
            "INSERT INTO occurrence(uri, file, member, image_id, status, reason, detail, size, mtime,"
            " url, page_url, title, text, tags, extra, scan_id, seen_at, parent_id, box)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " (SELECT id FROM image WHERE sha256 = ?), ?)"
            " ON CONFLICT(uri) DO UPDATE SET file = excluded.file, member = excluded.member,"
            " image_id = excluded.image_id, status = excluded.status, reason = excluded.reason,"
            " detail = excluded.detail, size = excluded.size, mtime = excluded.mtime,"
            " url = coalesce(excluded.url, occurrence.url),"
            " page_url = coalesce(excluded.page_url, occurrence.page_url),"
            " title = coalesce(excluded.title, occurrence.title),"
            " text = coalesce(excluded.text, occurrence.text),"
            " tags = coalesce(excluded.tags, occurrence.tags),"
            " extra = coalesce(excluded.extra, occurrence.extra),"
            " scan_id = excluded.scan_id, seen_at = excluded.seen_at,"
            " parent_id = excluded.parent_id, box = excluded.box",
            (
                where.uri,
                where.file,
                where.member,
                image_id,
                "failed" if failure else "ok",
                failure.reason.value if failure else None,
                failure.detail if failure else None,
                where.size,
                where.mtime,
                *_metadata(where),
                scan_id,
                now,
                where.parent,
                ",".join(map(str, where.box)) if where.box else None,
            ),
        )

    def annotate(self, uri: str, where: Provenance) -> bool:
        """Set metadata (title, text, tags, links, extra) of the occurrence at ``uri``."""
        return bool(self.annotate_many([(uri, where)]))

    def annotate_many(self, items: Sequence[tuple[str, Provenance]]) -> set[str]:
        """:meth:`annotate` for many places in one transaction; returns the uris that were found."""
        found = set()
        with self._write() as db:
            for uri, where in items:
                cur = db.execute(
                    "UPDATE occurrence SET url = coalesce(?, url), page_url = coalesce(?, page_url),"
                    " title = coalesce(?, title), text = coalesce(?, text), tags = coalesce(?, tags),"
                    " extra = coalesce(?, extra) WHERE uri = ?",
                    (*_metadata(where), uri),
                )
                if cur.rowcount > 0:
                    found.add(uri)
        return found

    # ---- removing --------------------------------------------------------------------

    def retire(self, roots: Sequence[str], scan_id: int) -> list[int]:
        """Forget files under ``roots`` that this scan did not see; returns removed image ids."""
        with self._write() as db:
            for root in roots:
                prefix = root.rstrip("/") + "/"
                params = (root, len(prefix), prefix, scan_id)
                db.execute(
                    "DELETE FROM occurrence WHERE (file = ? OR substr(file, 1, ?) = ?)"
                    " AND coalesce(scan_id, -1) != ?",
                    params,
                )
                db.execute(
                    "DELETE FROM file_state WHERE (path = ? OR substr(path, 1, ?) = ?)"
                    " AND coalesce(scan_id, -1) != ?",
                    params,
                )
            return self._sweep(db)

    def remove_image(self, image_id: int) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM occurrence WHERE image_id = ?", (image_id,))
            return image_id in self._sweep(db)

    def remove_location(self, location: str) -> list[int]:
        """Forget a path, a folder, an archive member or a URL; returns removed image ids."""
        prefix = location.rstrip("/") + "/"
        with self._write() as db:
            db.execute(
                "DELETE FROM occurrence WHERE uri = ? OR file = ? OR substr(file, 1, ?) = ?",
                (location, location, len(prefix), prefix),
            )
            db.execute(
                "DELETE FROM file_state WHERE path = ? OR substr(path, 1, ?) = ?",
                (location, len(prefix), prefix),
            )
            return self._sweep(db)

    def sweep(self) -> list[int]:
        """Delete images that no place shows any more (a URL whose content changed); returns their ids."""
        with self._write() as db:
            return self._sweep(db)

    def _sweep(self, db: Tx) -> list[int]:
        """Delete images no occurrence points at; log the removal of indexed ones."""
        orphans = db.execute(
            "SELECT id, status FROM image WHERE NOT EXISTS"
            " (SELECT 1 FROM occurrence o WHERE o.image_id = image.id)"
        ).fetchall()
        for image_id, _ in orphans:
            db.execute("DELETE FROM image WHERE id = ?", (image_id,))
        self._log(db, [(int(i), "remove") for i, status in orphans if status == "ok"], time.time())
        return [int(image_id) for image_id, _ in orphans]

    # ---- crawl frontier --------------------------------------------------------------

    def frontier_add(self, urls: Sequence[CrawlUrl]) -> int:
        """Add URLs not seen before (a known URL keeps its state); returns how many were new."""
        now, added = time.time(), 0
        with self._write() as db:
            for u in urls:
                cur = db.execute(
                    "INSERT INTO crawl_url(url, kind, depth, page_url, title, metadata, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO NOTHING",
                    (
                        u.url,
                        u.kind,
                        u.depth,
                        u.page_url,
                        u.title,
                        json.dumps(dict(u.metadata)) if u.metadata else None,
                        now,
                    ),
                )
                added += cur.rowcount
        return added

    def _lease(
        self,
        db: Tx,
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
        marks = ",".join("?" * len(kinds))
        return db.execute(
            f"UPDATE {table} SET attempts = attempts + 1, lease_until = ?{set_also} WHERE id IN"
            f" (SELECT id FROM {table} WHERE state = 'pending' AND kind IN ({marks})"
            f" AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?{self._skip_locked})"
            f" RETURNING id, {columns}",
            (now + lease, *(also or {}).values(), *kinds, now, limit),
        ).fetchall()

    def frontier_claim(
        self, limit: int, kinds: Sequence[str] = ("page", "file"), lease: float = 0.0
    ) -> list[CrawlUrl]:
        """The next pending URLs in the order they were found, each counted as one more attempt.

        They stay pending until marked done or failed: a crawl killed while holding
        them fetches them again when it runs next.  With a ``lease`` (seconds) no other
        claim takes them until it expires, so many workers share one frontier.
        """
        with self._write() as db:
            rows = self._lease(db, "crawl_url", kinds, limit, lease, _CRAWL_COLUMNS)
        names = [c.strip() for c in _CRAWL_COLUMNS.split(",")]
        return [_crawl_url(dict(zip(names, row[1:], strict=True))) for row in sorted(rows, key=lambda r: r[0])]

    def frontier_release(self, urls: Sequence[str] | None = None) -> None:
        """End the leases of ``urls`` (claimed but left for later), or of every URL."""
        with self._write() as db:
            if urls is None:
                db.execute("UPDATE crawl_url SET lease_until = NULL WHERE lease_until IS NOT NULL")
            else:
                db.executemany("UPDATE crawl_url SET lease_until = NULL WHERE url = ?", [(u,) for u in urls])

    def frontier_done(
        self, url: str, etag: str | None = None, last_modified: str | None = None, sha256: str | None = None
    ) -> None:
        """Mark a URL done; validators and content hash are kept for the next re-crawl."""
        with self._write() as db:
            db.execute(
                "UPDATE crawl_url SET state = 'done', last_error = NULL, etag = coalesce(?, etag),"
                " last_modified = coalesce(?, last_modified), sha256 = coalesce(?, sha256),"
                " lease_until = NULL, updated_at = ? WHERE url = ?",
                (etag, last_modified, sha256, time.time(), url),
            )

    def frontier_failed(self, url: str, error: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE crawl_url SET state = 'failed', last_error = ?, lease_until = NULL, updated_at = ?"
                " WHERE url = ?",
                (error, time.time(), url),
            )

    def frontier_reset(self, states: Sequence[str] = ("done", "failed")) -> int:
        """Make URLs in ``states`` pending again (a re-crawl); returns how many."""
        marks = ",".join("?" * len(states))
        with self._write() as db:
            cur = db.execute(
                f"UPDATE crawl_url SET state = 'pending', attempts = 0, lease_until = NULL, updated_at = ?"
                f" WHERE state IN ({marks})",
                (time.time(), *states),
            )
            return cur.rowcount

    def frontier_get(self, url: str) -> CrawlUrl | None:
        rows = self._rows(f"SELECT {_CRAWL_COLUMNS} FROM crawl_url WHERE url = ?", (url,))
        return _crawl_url(rows[0]) if rows else None

    def frontier_counts(self) -> dict[str, dict[str, int]]:
        """URLs by kind and state: ``{"page": {"pending": 3, "done": 10, "failed": 1}, "file": {...}}``."""
        counts = {kind: dict.fromkeys(("pending", "done", "failed"), 0) for kind in ("page", "file")}
        for kind, state, n in self._all("SELECT kind, state, count(*) FROM crawl_url GROUP BY kind, state"):
            counts[kind][state] = int(n)
        return counts

    def frontier_failures(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT url, kind, attempts, last_error FROM crawl_url WHERE state = 'failed'"
            " ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )

    # ---- jobs ------------------------------------------------------------------------

    def jobs_add(self, kind: str, items: Sequence[tuple[str, dict[str, Any] | None]]) -> int:
        """Queue jobs by key; a finished job with the same key is queued again.  Returns how many."""
        now = time.time()
        with self._write() as db:
            cur = db.executemany(
                "INSERT INTO job(kind, key, payload, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(kind, key) DO UPDATE SET state = 'pending', attempts = 0,"
                " payload = excluded.payload, last_error = NULL, lease_until = NULL,"
                " updated_at = excluded.updated_at WHERE job.state != 'pending'",
                [(kind, key, json.dumps(payload) if payload else None, now, now) for key, payload in items],
            )
            return int(cur.rowcount) if items else 0  # the total over every row, on both dialects

    def jobs_claim(
        self, worker: str, kinds: Sequence[str], limit: int, lease: float, max_attempts: int = 5
    ) -> list[Job]:
        """Take up to ``limit`` pending jobs no one holds, for ``lease`` seconds.

        Concurrent claims never take the same job (``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL, one writer on SQLite).  A job whose worker died is taken again once
        its lease expires; one taken more than ``max_attempts`` times fails instead (and
        is not returned).  The claim reads the job index in order and stops at ``limit``.
        """
        with self._write() as db:
            held_by = {"worker": worker, "updated_at": time.time()}
            rows = self._lease(db, "job", kinds, limit, lease, "kind, key, payload, attempts", held_by)
            spent = [(int(r[0]),) for r in rows if int(r[4]) > max_attempts]
            db.executemany(
                f"UPDATE job SET state = 'failed', lease_until = NULL, last_error ="
                f" coalesce(last_error, 'its worker stopped') || ' (gave up after {max_attempts} attempts)'"
                f" WHERE id = ?",
                spent,
            )
        return [_job(row) for row in sorted(rows, key=lambda r: int(r[0])) if int(row[4]) <= max_attempts]

    def jobs_left(self) -> bool:
        """Whether any job is pending (held by a worker or not)."""
        return self._one("SELECT 1 FROM job WHERE state = 'pending' LIMIT 1") is not None

    def jobs_extend(self, ids: Sequence[int], worker: str, lease: float) -> int:
        """Renew the leases ``worker`` holds on ``ids`` (a heartbeat); returns how many it still held."""
        until = time.time() + lease
        with self._write() as db:
            return sum(
                db.execute(
                    "UPDATE job SET lease_until = ? WHERE id = ? AND worker = ? AND state = 'pending'",
                    (until, i, worker),
                ).rowcount
                for i in ids
            )

    def jobs_finish(self, ids: Sequence[int], error: str | None = None) -> None:
        """Mark jobs done, or failed with ``error``."""
        with self._write() as db:
            db.executemany(
                "UPDATE job SET state = ?, last_error = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
                [("failed" if error else "done", error, time.time(), i) for i in ids],
            )

    def jobs_pending(self, kind: str) -> list[Job]:
        """Pending jobs of a kind, held or not (a crawl job is worked on by many workers at once)."""
        rows = self._all(
            "SELECT id, kind, key, payload, attempts FROM job WHERE state = 'pending' AND kind = ? ORDER BY id",
            (kind,),
        )
        return [_job(row) for row in rows]

    def jobs_counts(self) -> dict[str, dict[str, int]]:
        """Jobs by kind and state, with 'running' for pending jobs under a live lease."""
        counts = {kind: dict.fromkeys(("pending", "running", "done", "failed"), 0) for kind in ("file", "crawl")}
        for kind, state, n in self._all(
            "SELECT kind, CASE WHEN state = 'pending' AND lease_until > ? THEN 'running' ELSE state END,"
            " count(*) FROM job GROUP BY 1, 2",
            (time.time(),),
        ):
            counts[kind][state] = int(n)
        return counts

    def jobs_failures(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT kind, key, attempts, last_error FROM job WHERE state = 'failed'"
            " ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )

    # ---- shared indexes and thumbnails -----------------------------------------------

    def index_state(self, name: str) -> dict[str, Any]:
        """What a shared index recorded: backend, applied_seq, transform, count (empty: nothing)."""
        rows = self._rows(
            "SELECT backend, applied_seq, transform, count FROM index_state WHERE name = ?", (name,)
        )
        return rows[0] if rows else {}

    def set_index_state(self, name: str, backend: str, applied_seq: int, transform: str | None, count: int) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO index_state(name, backend, applied_seq, transform, count) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET backend = excluded.backend,"
                " applied_seq = excluded.applied_seq, transform = excluded.transform, count = excluded.count",
                (name, backend, applied_seq, transform, count),
            )

    def put_thumbnails(self, items: Iterable[tuple[str, bytes]]) -> None:
        rows = list(items)
        if rows:
            with self._write() as db:
                db.executemany(
                    "INSERT INTO thumbnail(sha256, data) VALUES (?, ?) ON CONFLICT DO NOTHING", rows
                )

    def thumbnail(self, sha256: str) -> bytes | None:
        row = self._one("SELECT data FROM thumbnail WHERE sha256 = ?", (sha256,))
        return bytes(row[0]) if row else None

    def thumbnails(self, after: str, limit: int) -> list[tuple[str, bytes]]:
        """Stored thumbnails by content hash, past ``after``, in order (a copy elsewhere)."""
        rows = self._all(
            "SELECT sha256, data FROM thumbnail WHERE sha256 > ? ORDER BY sha256 LIMIT ?", (after, limit)
        )
        return [(str(sha), bytes(data)) for sha, data in rows]

    # ---- copying (lookalike migrate) -------------------------------------------------

    def export_rows(self, table: str, after: Any, limit: int) -> list[tuple[Any, ...]]:
        """Rows of ``table`` whose key is past ``after`` (None: from the start), in key order."""
        key, columns = TABLES[table]
        start = () if after is None else (after,)
        where = "" if after is None else f" WHERE {key} > ?"
        if table == "feature":  # many rows per image: whole images at a time, ``limit`` of them
            inner = "SELECT id FROM image" + ("" if after is None else " WHERE id > ?") + " ORDER BY id LIMIT ?"
            return self._all(
                f"SELECT {columns} FROM feature WHERE image_id IN ({inner}) ORDER BY image_id, signal, version",
                (*start, limit),
            )
        return self._all(f"SELECT {columns} FROM {table}{where} ORDER BY {key} LIMIT ?", (*start, limit))

    def import_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows exported by :meth:`export_rows`, keeping their ids; rows already here are kept."""
        _, columns = TABLES[table]
        marks = ",".join("?" * len(columns.split(",")))
        with self._write() as db:
            db.executemany(
                f"INSERT INTO {table}({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows
            )

    def after_import(self) -> None:
        """Make the next generated ids follow the imported ones."""

    # ---- reading ---------------------------------------------------------------------

    def last_seq(self) -> int:
        return self._count("SELECT coalesce(max(seq), 0) FROM change")

    def changes_since(self, seq: int, limit: int = 100_000) -> list[Change]:
        rows = self._all("SELECT seq, image_id, op FROM change WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
        return [(int(s), int(i), str(o)) for s, i, o in rows]

    def features(self, signal: str, version: int, image_ids: Iterable[int]) -> dict[int, bytes]:
        wanted, found = list(image_ids), {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._all(
                f"SELECT image_id, data FROM feature WHERE signal = ? AND version = ?"
                f" AND image_id IN ({marks})",
                (signal, version, *chunk),
            )
            found.update({int(i): bytes(d) for i, d in rows})
        return found

    def feature_count(self, signal: str, version: int) -> int:
        return self._count("SELECT count(*) FROM feature WHERE signal = ? AND version = ?", (signal, version))

    def missing_features(self, signal: str, version: int) -> list[int]:
        """Usable images that have no feature of this signal version (a backfill's work)."""
        rows = self._all(
            "SELECT id FROM image WHERE status = 'ok' AND id NOT IN"
            " (SELECT image_id FROM feature WHERE signal = ? AND version = ?) ORDER BY id",
            (signal, version),
        )
        return [int(i) for (i,) in rows]

    def add_features(self, signal: str, version: int, rows: Sequence[tuple[int, bytes]]) -> int:
        """Store features of images already in the catalog (a backfill); each new one is a logged add."""
        now, added = time.time(), []
        with self._write() as db:
            for image_id, payload in rows:
                cur = db.execute(
                    "INSERT INTO feature(image_id, signal, version, data)"
                    " SELECT id, ?, ?, ? FROM image WHERE id = ? ON CONFLICT DO NOTHING",
                    (signal, version, payload, image_id),
                )
                if cur.rowcount == 1:
                    added.append((image_id, "add"))
            self._log(db, added, now)
        return len(added)

    def iter_features(
        self, signal: str, version: int, batch: int = 20_000
    ) -> Iterator[list[tuple[int, bytes]]]:
        """Every stored feature of a signal, in id order, a batch at a time."""
        last = -1
        while True:
            rows = self._all(
                "SELECT f.image_id, f.data FROM feature f JOIN image i ON i.id = f.image_id"
                " WHERE f.signal = ? AND f.version = ? AND f.image_id > ? AND i.status = 'ok'"
                " ORDER BY f.image_id LIMIT ?",
                (signal, version, last, batch),
            )
            if not rows:
                return
            yield [(int(i), bytes(d)) for i, d in rows]
            last = int(rows[-1][0])

    def image(self, image_id: int) -> ImageInfo | None:
        rows = self._rows(f"SELECT {_IMAGE_COLUMNS} FROM image WHERE id = ?", (image_id,))
        return ImageInfo(**rows[0]) if rows else None

    def images(self, image_ids: Sequence[int]) -> dict[int, ImageInfo]:
        found: dict[int, ImageInfo] = {}
        for start in range(0, len(image_ids), 500):
            chunk = list(image_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self._rows(f"SELECT {_IMAGE_COLUMNS} FROM image WHERE id IN ({marks})", chunk):
                found[row["id"]] = ImageInfo(**row)
        return found

    def occurrences(self, image_ids: Sequence[int]) -> dict[int, list[Occurrence]]:
        found: dict[int, list[Occurrence]] = {i: [] for i in image_ids}
        for start in range(0, len(image_ids), 500):
            chunk = list(image_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_OCC_COLUMNS} FROM occurrence WHERE image_id IN ({marks}) ORDER BY id"
            for row in self._rows(sql, chunk):
                found[row["image_id"]].append(_occurrence(row))
        return found

    def image_ids_at(self, location: str) -> list[int]:
        """Images seen at a uri, or anywhere under a folder or inside an archive."""
        prefix = location.rstrip("/") + "/"
        rows = self._all(
            "SELECT DISTINCT image_id FROM occurrence WHERE image_id IS NOT NULL"
            " AND (uri = ? OR file = ? OR substr(file, 1, ?) = ?)",
            (location, location, len(prefix), prefix),
        )
        return [int(r[0]) for r in rows]

    def ok_image_ids(self) -> list[int]:
        return [int(r[0]) for r in self._all("SELECT id FROM image WHERE status = 'ok' ORDER BY id")]

    def stats(self) -> dict[str, Any]:
        failures = {
            str(reason): int(n)
            for reason, n in self._all(
                "SELECT reason, count(*) FROM occurrence WHERE status = 'failed' GROUP BY reason ORDER BY 2 DESC"
            )
        }
        last = self._rows(
            "SELECT id, roots, started_at, finished_at, counts FROM scan ORDER BY id DESC LIMIT 1"
        )
        return {
            "images": self._count("SELECT count(*) FROM image WHERE status = 'ok'"),
            "occurrences": self._count("SELECT count(*) FROM occurrence WHERE status = 'ok'"),
            "failed": self._count("SELECT count(*) FROM occurrence WHERE status = 'failed'"),
            "failures_by_reason": failures,
            "features": {
                str(s): int(n) for s, n in self._all("SELECT signal, count(*) FROM feature GROUP BY signal")
            },
            "last_change": self.last_seq(),
            "last_scan": last[0] if last else None,
            "catalog_bytes": self._size_bytes(),
        }

    def scans(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest indexing runs, newest first: roots, start and finish times, counts."""
        rows = self._rows(
            "SELECT id, roots, started_at, finished_at, counts FROM scan ORDER BY id DESC LIMIT ?", (limit,)
        )
        for row in rows:
            row["roots"] = json.loads(row["roots"])
            row["counts"] = json.loads(row["counts"]) if row["counts"] else None
        return rows

    def failures(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT uri, reason, detail FROM occurrence WHERE status = 'failed' ORDER BY seen_at DESC LIMIT ?",
            (limit,),
        )


def _metadata(where: Provenance) -> tuple[str | None, ...]:
    """url, page_url, title, text, tags (JSON), extra (JSON): the columns a place's metadata fills."""
    tags = json.dumps(list(where.tags)) if where.tags else None
    extra = json.dumps(dict(where.extra)) if where.extra else None
    return (where.url, where.page_url, where.title, where.text, tags, extra)


def _occurrence(row: dict[str, Any]) -> Occurrence:
    row = dict(row)
    row["tags"] = tuple(json.loads(row["tags"])) if row["tags"] else ()
    row["extra"] = json.loads(row["extra"]) if row["extra"] else {}
    box = [int(v) for v in row["box"].split(",")] if row["box"] else None
    row["box"] = (box[0], box[1], box[2], box[3]) if box and len(box) == 4 else None
    return Occurrence(**row)


def _job(row: Sequence[Any]) -> Job:
    job_id, kind, key, payload, attempts = row
    return Job(int(job_id), str(kind), str(key), json.loads(payload) if payload else {}, int(attempts))


def _crawl_url(row: dict[str, Any]) -> CrawlUrl:
    row = dict(row)
    row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
    return CrawlUrl(**row)
