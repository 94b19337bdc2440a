"""The SQLite catalog: WAL, one writer, many readers; numbered migrations."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import BackendError, Reason
from ..records import CrawlUrl, Extracted, Failure, ImageInfo, Occurrence, Provenance

__all__ = ["Change", "SqliteCatalog"]

Change = tuple[int, int, str]  # (seq, image_id, op)
_IMAGE_COLUMNS = "id, sha256, bytes, width, height, format, mode, status, reason, detail"
_CRAWL_COLUMNS = (
    "url, kind, depth, state, attempts, last_error, etag, last_modified, sha256, page_url, title, metadata"
)
_OCC_COLUMNS = (
    "id, uri, image_id, status, reason, detail, file, member, url, page_url, title, text, tags, extra,"
    " parent_id, box"
)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("lookalike.catalog") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SqliteCatalog:
    """Images, where they were seen, their features and the change log, in one SQLite file."""

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
        current = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in _migrations():
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
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._db.execute(sql, params)
            names = [c[0] for c in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    # ---- scans and files -------------------------------------------------------------

    def begin_scan(self, roots: Sequence[str]) -> int:
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO scan(roots, started_at) VALUES (?, ?)", (json.dumps(list(roots)), time.time())
            )
            return int(cur.lastrowid or 0)

    def finish_scan(self, scan_id: int, counts: dict[str, int]) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE scan SET finished_at = ?, counts = ? WHERE id = ?",
                (time.time(), json.dumps(counts), scan_id),
            )

    def file_unchanged(self, path: str, size: int, mtime: float) -> bool:
        row = self._db.execute("SELECT size, mtime FROM file_state WHERE path = ?", (path,)).fetchone()
        return row is not None and row[0] == size and row[1] == mtime

    def mark_files_seen(self, paths: Sequence[str], scan_id: int) -> None:
        """Keep unchanged files (and every member of unchanged archives) alive in this scan."""
        with self._write() as db:
            db.executemany("UPDATE file_state SET scan_id = ? WHERE path = ?", [(scan_id, p) for p in paths])
            db.executemany("UPDATE occurrence SET scan_id = ? WHERE file = ?", [(scan_id, p) for p in paths])

    def record_file(self, path: str, size: int, mtime: float, scan_id: int) -> None:
        """Remember that a file (or a whole archive) is fully indexed."""
        with self._write() as db:
            self._put_file(db, path, size, mtime, scan_id)

    @staticmethod
    def _put_file(db: sqlite3.Connection, path: str, size: int, mtime: float, scan_id: int) -> None:
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
            for sha, status, reason, detail in self._db.execute(
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
        now, new_ids = time.time(), []
        with self._write() as db:
            for where, outcome in batch:
                image_id = None
                if isinstance(outcome, Extracted):
                    image_id, is_new = self._put_image(db, outcome, now)
                    if is_new and outcome.failure is None:
                        new_ids.append(image_id)
                self._put_occurrence(db, where, image_id, outcome, scan_id, now)
            for path, size, mtime in files_done:
                self._put_file(db, path, size, mtime, scan_id or 0)
        return new_ids

    def _put_image(self, db: sqlite3.Connection, ex: Extracted, now: float) -> tuple[int, bool]:
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
        if added:
            db.execute("INSERT INTO change(image_id, op, at) VALUES (?, 'add', ?)", (image_id, now))
        return image_id, is_new

    @staticmethod
    def _put_occurrence(
        db: sqlite3.Connection,
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
            " url = coalesce(excluded.url, url), page_url = coalesce(excluded.page_url, page_url),"
            " title = coalesce(excluded.title, title), text = coalesce(excluded.text, text),"
            " tags = coalesce(excluded.tags, tags), extra = coalesce(excluded.extra, extra),"
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
        with self._write() as db:
            cur = db.execute(
                "UPDATE occurrence SET url = coalesce(?, url), page_url = coalesce(?, page_url),"
                " title = coalesce(?, title), text = coalesce(?, text), tags = coalesce(?, tags),"
                " extra = coalesce(?, extra) WHERE uri = ?",
                (*_metadata(where), uri),
            )
            return cur.rowcount > 0

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

    @staticmethod
    def _sweep(db: sqlite3.Connection) -> list[int]:
        """Delete images no occurrence points at; log the removal of indexed ones."""
        orphans = db.execute(
            "SELECT id, status FROM image WHERE NOT EXISTS"
            " (SELECT 1 FROM occurrence o WHERE o.image_id = image.id)"
        ).fetchall()
        now = time.time()
        for image_id, status in orphans:
            db.execute("DELETE FROM image WHERE id = ?", (image_id,))
            if status == "ok":
                db.execute("INSERT INTO change(image_id, op, at) VALUES (?, 'remove', ?)", (image_id, now))
        return [image_id for image_id, _ in orphans]

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

    def frontier_claim(self, limit: int, kinds: Sequence[str] = ("page", "file")) -> list[CrawlUrl]:
        """The next pending URLs in the order they were found, each counted as one more attempt.

        They stay pending until marked done or failed: a crawl killed while holding
        them fetches them again when it runs next.
        """
        marks = ",".join("?" * len(kinds))
        with self._write() as db:
            cur = db.execute(
                f"SELECT {_CRAWL_COLUMNS} FROM crawl_url WHERE state = 'pending' AND kind IN ({marks})"
                " ORDER BY id LIMIT ?",
                (*kinds, limit),
            )
            names = [c[0] for c in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            db.executemany(
                "UPDATE crawl_url SET attempts = attempts + 1 WHERE url = ?", [(r["url"],) for r in rows]
            )
        return [_crawl_url({**r, "attempts": r["attempts"] + 1}) for r in rows]

    def frontier_done(
        self, url: str, etag: str | None = None, last_modified: str | None = None, sha256: str | None = None
    ) -> None:
        """Mark a URL done; validators and content hash are kept for the next re-crawl."""
        with self._write() as db:
            db.execute(
                "UPDATE crawl_url SET state = 'done', last_error = NULL, etag = coalesce(?, etag),"
                " last_modified = coalesce(?, last_modified), sha256 = coalesce(?, sha256),"
                " updated_at = ? WHERE url = ?",
                (etag, last_modified, sha256, time.time(), url),
            )

    def frontier_failed(self, url: str, error: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE crawl_url SET state = 'failed', last_error = ?, updated_at = ? WHERE url = ?",
                (error, time.time(), url),
            )

    def frontier_reset(self, states: Sequence[str] = ("done", "failed")) -> int:
        """Make URLs in ``states`` pending again (a re-crawl); returns how many."""
        marks = ",".join("?" * len(states))
        with self._write() as db:
            cur = db.execute(
                f"UPDATE crawl_url SET state = 'pending', attempts = 0, updated_at = ?"
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
        for kind, state, n in self._db.execute(
            "SELECT kind, state, count(*) FROM crawl_url GROUP BY kind, state"
        ).fetchall():
            counts[kind][state] = int(n)
        return counts

    def frontier_failures(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT url, kind, attempts, last_error FROM crawl_url WHERE state = 'failed'"
            " ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )

    # ---- reading ---------------------------------------------------------------------

    def last_seq(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM change").fetchone()[0])

    def changes_since(self, seq: int, limit: int = 100_000) -> list[Change]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, image_id, op FROM change WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [(int(s), int(i), str(o)) for s, i, o in rows]

    def features(self, signal: str, version: int, image_ids: Iterable[int]) -> dict[int, bytes]:
        wanted, found = list(image_ids), {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT image_id, data FROM feature WHERE signal = ? AND version = ?"
                    f" AND image_id IN ({marks})",
                    (signal, version, *chunk),
                ).fetchall()
            found.update({int(i): bytes(d) for i, d in rows})
        return found

    def feature_count(self, signal: str, version: int) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM feature WHERE signal = ? AND version = ?", (signal, version)
            ).fetchone()
        return int(row[0])

    def missing_features(self, signal: str, version: int) -> list[int]:
        """Usable images that have no feature of this signal version (a backfill's work)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM image WHERE status = 'ok' AND id NOT IN"
                " (SELECT image_id FROM feature WHERE signal = ? AND version = ?) ORDER BY id",
                (signal, version),
            ).fetchall()
        return [int(i) for (i,) in rows]

    def add_features(self, signal: str, version: int, rows: Sequence[tuple[int, bytes]]) -> int:
        """Store features of images already in the catalog (a backfill); each new one is a logged add."""
        added, now = 0, time.time()
        with self._write() as db:
            for image_id, payload in rows:
                cur = db.execute(
                    "INSERT INTO feature(image_id, signal, version, data)"
                    " SELECT id, ?, ?, ? FROM image WHERE id = ? ON CONFLICT DO NOTHING",
                    (signal, version, payload, image_id),
                )
                if cur.rowcount == 1:
                    db.execute("INSERT INTO change(image_id, op, at) VALUES (?, 'add', ?)", (image_id, now))
                    added += 1
        return added

    def iter_features(
        self, signal: str, version: int, batch: int = 20_000
    ) -> Iterator[list[tuple[int, bytes]]]:
        """Every stored feature of a signal, in id order, a batch at a time."""
        last = -1
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT f.image_id, f.data FROM feature f JOIN image i ON i.id = f.image_id"
                    " WHERE f.signal = ? AND f.version = ? AND f.image_id > ? AND i.status = 'ok'"
                    " ORDER BY f.image_id LIMIT ?",
                    (signal, version, last, batch),
                ).fetchall()
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
        rows = self._db.execute(
            "SELECT DISTINCT image_id FROM occurrence WHERE image_id IS NOT NULL"
            " AND (uri = ? OR file = ? OR substr(file, 1, ?) = ?)",
            (location, location, len(prefix), prefix),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def text_search(self, text: str, limit: int = 1000) -> list[tuple[int, float]]:
        """Images whose names, paths, URLs, titles, tags or text match, best first (BM25).

        All words must match; when nothing does, any word may.  Scores are the
        negated BM25 rank (larger is better).
        """
        words = re.findall(r"\w+", text.lower())
        if not words:
            return []
        for joiner in (" AND ", " OR "):
            query = joiner.join(f'"{w}"' for w in words)
            with self._lock:
                rows = self._db.execute(
                    "WITH hit AS MATERIALIZED (SELECT rowid, -bm25(occurrence_fts, 1.0, 4.0, 3.0, 2.0)"
                    "  AS score FROM occurrence_fts WHERE occurrence_fts MATCH ?)"
                    " SELECT o.image_id, max(hit.score) AS best FROM hit"
                    " JOIN occurrence o ON o.id = hit.rowid"
                    " JOIN image i ON i.id = o.image_id AND i.status = 'ok'"
                    " GROUP BY o.image_id ORDER BY best DESC, o.image_id LIMIT ?",
                    (query, limit),
                ).fetchall()
            if rows or len(words) == 1:
                return [(int(i), float(s)) for i, s in rows]
        return []

    def ok_image_ids(self) -> list[int]:
        return [int(r[0]) for r in self._db.execute("SELECT id FROM image WHERE status = 'ok' ORDER BY id")]

    def stats(self) -> dict[str, Any]:
        def one(sql: str) -> int:
            return int(self._db.execute(sql).fetchone()[0])

        failures = dict(
            self._db.execute(
                "SELECT reason, count(*) FROM occurrence WHERE status = 'failed' GROUP BY reason ORDER BY 2 DESC"
            ).fetchall()
        )
        last = self._rows(
            "SELECT id, roots, started_at, finished_at, counts FROM scan ORDER BY id DESC LIMIT 1"
        )
        return {
            "images": one("SELECT count(*) FROM image WHERE status = 'ok'"),
            "occurrences": one("SELECT count(*) FROM occurrence WHERE status = 'ok'"),
            "failed": one("SELECT count(*) FROM occurrence WHERE status = 'failed'"),
            "failures_by_reason": failures,
            "features": dict(
                self._db.execute("SELECT signal, count(*) FROM feature GROUP BY signal").fetchall()
            ),
            "last_change": self.last_seq(),
            "last_scan": last[0] if last else None,
            "catalog_bytes": sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*")),
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


def _crawl_url(row: dict[str, Any]) -> CrawlUrl:
    row = dict(row)
    row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
    return CrawlUrl(**row)
