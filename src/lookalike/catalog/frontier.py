"""The crawl frontier: every URL a crawl found, with its state, so a killed crawl resumes.

A URL is ``pending`` (to fetch), ``done`` (with its validators and content hash for a
re-crawl, and for a file how long it stays fresh), ``failed`` (with the error) or
``refused``: found but never fetched (outside the crawl's scope, excluded by a pattern,
past the depth limit, disallowed by robots.txt).  Failures and refusals keep a short
``reason`` code beside the error in words, and every URL its host, so that ``crawl status``
counts both by host.

A file may be linked from many pages: each (file, page) pair is a ``crawl_ref`` row with
what that page says of the file, so every page becomes a place of the file's images
(:meth:`Frontier.refs`).  A page fetched keeps what it says of itself (title, text, tags,
author, licence...) on its own row: :meth:`Frontier.pages`, :meth:`Frontier.about`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from lookalike.catalog.database import Database, chunks, marks
from lookalike.records import CrawlUrl

__all__ = ["ROBOTS", "Frontier", "host_of"]

_COLUMNS = (
    "url, kind, depth, state, attempts, last_error, etag, last_modified, sha256, reason, fresh_until,"
    " page_url, title, metadata"
)
#: The reason of a URL that robots.txt refused: it is asked again only by a re-crawl.
ROBOTS = "robots"
_STATES = ("pending", "done", "failed", "refused")
_REFER = (
    "INSERT INTO crawl_ref(url, page_url, title, metadata, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(url, page_url) DO UPDATE SET title = excluded.title, metadata = excluded.metadata,"
    " updated_at = excluded.updated_at"
)


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, lower case (what the frontier groups by)."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


class Frontier:
    """Crawl URLs: pending, done (with validators for a re-crawl), failed or refused (with the reason)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, urls: Sequence[CrawlUrl]) -> int:
        """Add URLs not seen before, pending or (``state="refused"``) refused with their reason.

        A known URL keeps its state, except a refused one that is now found pending (a
        shorter path to it, a wider scope): it becomes pending.  A refusal by robots.txt
        stays until a re-crawl.  Returns how many URLs became pending.
        """
        now, added = time.time(), 0
        with self.db.transaction() as tx:
            for u in urls:
                metadata = json.dumps(dict(u.metadata)) if u.metadata else None
                if u.kind == "file" and u.page_url:
                    tx.execute(_REFER, (u.url, u.page_url, u.title, metadata, now))
                cur = tx.execute(
                    "INSERT INTO crawl_url(url, kind, depth, state, reason, last_error, host, page_url, title,"
                    " metadata, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(url) DO UPDATE SET kind = excluded.kind, depth = excluded.depth,"
                    " state = 'pending', reason = NULL, last_error = NULL, page_url = excluded.page_url,"
                    " title = excluded.title, metadata = excluded.metadata, updated_at = excluded.updated_at"
                    " WHERE crawl_url.state = 'refused' AND coalesce(crawl_url.reason, '') <> ?"
                    " AND excluded.state = 'pending'",
                    (
                        u.url,
                        u.kind,
                        u.depth,
                        u.state,
                        u.reason,
                        u.last_error,
                        host_of(u.url),
                        u.page_url,
                        u.title,
                        metadata,
                        now,
                        ROBOTS,
                    ),
                )
                added += cur.rowcount if u.state == "pending" else 0
        return added

    def describe(self, urls: Sequence[CrawlUrl]) -> None:
        """Set what known file URLs were found with (title, metadata) to what ``urls`` say now,
        where they were found on the same page (an API item's link), or on none yet: a re-read
        API page whose items changed.  Another page's word is its ref's (:meth:`add`); unknown URLs are left to
        :meth:`add`."""
        with self.db.transaction() as tx:
            tx.executemany(
                "UPDATE crawl_url SET page_url = coalesce(page_url, ?), title = ?, metadata = ?"
                " WHERE url = ? AND kind = 'file' AND coalesce(page_url, ?, '') = coalesce(?, '')",
                [
                    (
                        u.page_url,
                        u.title,
                        json.dumps(dict(u.metadata)) if u.metadata else None,
                        u.url,
                        u.page_url,
                        u.page_url,
                    )
                    for u in urls
                ],
            )

    def claim(
        self, limit: int, kinds: Sequence[str] = ("page", "file"), lease: float = 0.0
    ) -> list[CrawlUrl]:
        """The next pending URLs in the order they were found, each counted as one more attempt.

        They stay pending until marked done, failed or refused: a crawl killed while holding
        them fetches them again when it runs next.  With a ``lease`` (seconds) no other
        claim takes them until it expires, so many workers share one frontier.
        """
        with self.db.transaction() as tx:
            rows = self.db.lease(tx, "crawl_url", kinds, limit, lease, _COLUMNS)
        names = [c.strip() for c in _COLUMNS.split(",")]
        return [
            _crawl_url(dict(zip(names, row[1:], strict=True))) for row in sorted(rows, key=lambda r: r[0])
        ]

    def release(self, urls: Sequence[str] | None = None) -> None:
        """End the leases of ``urls`` (claimed but left for later), or of every URL."""
        with self.db.transaction() as tx:
            if urls is None:
                tx.execute("UPDATE crawl_url SET lease_until = NULL WHERE lease_until IS NOT NULL")
            else:
                tx.executemany("UPDATE crawl_url SET lease_until = NULL WHERE url = ?", [(u,) for u in urls])

    def done(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        sha256: str | None = None,
        fresh_until: float | None = None,
        about: CrawlUrl | None = None,
    ) -> None:
        """Mark a URL done; validators and content hash are kept for the next re-crawl, and
        ``fresh_until`` (its max-age) tells when a file is worth asking again.  ``about``: what
        a page says of itself (its ``title`` and ``metadata``: text, tags, extra), kept on its row."""
        title = about.title if about is not None else None
        metadata = json.dumps(dict(about.metadata)) if about is not None and about.metadata else None
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE crawl_url SET state = 'done', last_error = NULL, reason = NULL, etag = coalesce(?, etag),"
                " last_modified = coalesce(?, last_modified), sha256 = coalesce(?, sha256), fresh_until = ?,"
                " title = coalesce(?, title), metadata = coalesce(?, metadata),"
                " lease_until = NULL, updated_at = ? WHERE url = ?",
                (etag, last_modified, sha256, fresh_until, title, metadata, time.time(), url),
            )

    def refs(self, url: str) -> list[CrawlUrl]:
        """Every page that links the file at ``url``, each as an entry of that file with what
        that page says of it (``page_url``, ``title``, ``metadata``), in the order found."""
        rows = self.db.all(
            "SELECT page_url, title, metadata FROM crawl_ref WHERE url = ? ORDER BY id",
            (url,),
        )
        return [
            CrawlUrl(url, "file", page_url=page, title=title, metadata=json.loads(meta) if meta else {})
            for page, title, meta in rows
        ]

    def linked(self, page_url: str) -> list[str]:
        """The files the page at ``page_url`` was found to link."""
        return [
            str(u)
            for (u,) in self.db.all("SELECT url FROM crawl_ref WHERE page_url = ? ORDER BY id", (page_url,))
        ]

    def unlink(self, page_url: str, keep: Sequence[str]) -> list[str]:
        """Forget that the page at ``page_url`` links the files it no longer links (all but
        ``keep``); returns those files."""
        kept = set(keep)
        with self.db.transaction() as tx:
            gone = [
                str(url)
                for (url,) in tx.execute(
                    "SELECT url FROM crawl_ref WHERE page_url = ?", (page_url,)
                ).fetchall()
                if url not in kept
            ]
            tx.executemany(
                "DELETE FROM crawl_ref WHERE url = ? AND page_url = ?", [(u, page_url) for u in gone]
            )
        return gone

    def pages(self, limit: int = 20) -> list[dict[str, Any]]:
        """The pages fetched last, each with what it says of itself (title, text, tags, author,
        licence...) and how many files it links."""
        rows = self.db.all(
            "SELECT p.url, p.title, p.metadata, (SELECT count(*) FROM crawl_ref r WHERE r.page_url = p.url)"
            " FROM crawl_url p WHERE p.kind = 'page' AND p.state = 'done' AND p.metadata IS NOT NULL"
            " ORDER BY p.updated_at DESC, p.id DESC LIMIT ?",
            (limit,),
        )
        return [{**_about(url, title, meta), "files": int(n)} for url, title, meta, n in rows]

    def about(self, urls: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What each of the pages at ``urls`` says of itself, for those fetched."""
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(sorted(set(urls))):
            for url, title, meta in self.db.all(
                "SELECT url, title, metadata FROM crawl_url WHERE kind = 'page' AND metadata IS NOT NULL"
                f" AND url IN ({marks(part)})",
                part,
            ):
                found[str(url)] = _about(url, title, meta)
        return found

    def failed(self, url: str, error: str, reason: str = "fetch_failed") -> None:
        """Mark a URL failed: ``error`` in words, ``reason`` a short code (``too_large``, ``http_404``)."""
        self._settle("failed", [(url, reason, error)])

    def refused(self, refusals: Sequence[tuple[str, str, str]]) -> None:
        """Mark claimed URLs refused, never fetched: (url, reason, detail) each."""
        self._settle("refused", refusals)

    def _settle(self, state: str, outcomes: Sequence[tuple[str, str, str]]) -> None:
        now = time.time()
        with self.db.transaction() as tx:
            tx.executemany(
                "UPDATE crawl_url SET state = ?, reason = ?, last_error = ?, lease_until = NULL, updated_at = ?"
                " WHERE url = ?",
                [(state, reason, detail, now, url) for url, reason, detail in outcomes],
            )

    def reset(self, recheck_files: bool = False) -> int:
        """Make URLs pending again for a re-crawl; returns how many.

        Every page (and a recipe's API page, a listing) that is not pending, and every failed
        file or file refused by robots.txt;
        a done file only when its max-age ran out, or with ``recheck_files``.  The files of
        an unchanged page are so not asked again (see :meth:`revalidate` for a changed one).
        """
        files = (
            ""
            if recheck_files
            else " AND (state <> 'done' OR (fresh_until IS NOT NULL AND fresh_until <= ?))"
        )
        with self.db.transaction() as tx:
            cur = tx.execute(
                "UPDATE crawl_url SET state = 'pending', attempts = 0, lease_until = NULL, updated_at = ?"
                " WHERE state <> 'pending' AND (state <> 'refused' OR reason = ?)"
                f" AND (kind IN ('page', 'listing') OR (kind = 'file'{files}))",
                (time.time(), ROBOTS, *(() if recheck_files else (time.time(),))),
            )
            return cur.rowcount

    def revalidate(self, urls: Sequence[str], before: float) -> int:
        """Make done files among ``urls`` pending again, if done before ``before`` (a page that
        changed since they were fetched links them); returns how many."""
        changed = 0
        with self.db.transaction() as tx:
            for part in chunks(urls):
                cur = tx.execute(
                    "UPDATE crawl_url SET state = 'pending', attempts = 0, updated_at = ?"
                    f" WHERE kind = 'file' AND state = 'done' AND updated_at < ? AND url IN ({marks(part)})",
                    (time.time(), before, *part),
                )
                changed += cur.rowcount
        return changed

    def refusals(self, reasons: Sequence[str]) -> list[CrawlUrl]:
        """The URLs refused for one of ``reasons`` (url, kind, depth), to weigh against a new scope."""
        rows = self.db.all(
            f"SELECT url, kind, depth FROM crawl_url WHERE state = 'refused' AND reason IN ({marks(reasons)})",
            tuple(reasons),
        )
        return [CrawlUrl(url, kind, int(depth), state="refused") for url, kind, depth in rows]

    def requeue(self, urls: Sequence[str]) -> int:
        """Make refused ``urls`` pending (the scope now takes them); returns how many."""
        changed = 0
        with self.db.transaction() as tx:
            for part in chunks(urls):
                cur = tx.execute(
                    "UPDATE crawl_url SET state = 'pending', reason = NULL, last_error = NULL, attempts = 0,"
                    f" updated_at = ? WHERE state = 'refused' AND url IN ({marks(part)})",
                    (time.time(), *part),
                )
                changed += cur.rowcount
        return changed

    def pending(self, kinds: Sequence[str] = ("page", "file")) -> int:
        """How many URLs of ``kinds`` are pending."""
        return self.db.count(
            f"SELECT count(*) FROM crawl_url WHERE state = 'pending' AND kind IN ({marks(kinds)})",
            tuple(kinds),
        )

    def get(self, url: str) -> CrawlUrl | None:
        rows = self.db.rows(f"SELECT {_COLUMNS} FROM crawl_url WHERE url = ?", (url,))
        return _crawl_url(rows[0]) if rows else None

    def counts(self) -> dict[str, dict[str, int]]:
        """URLs by kind and state: ``{"page": {"pending": 3, "done": 10, "failed": 1, "refused": 2}, ...}``
        (and ``"listing"``, a recipe's API pages, once there are any)."""
        counts = {kind: dict.fromkeys(_STATES, 0) for kind in ("page", "file")}
        for kind, state, n in self.db.all("SELECT kind, state, count(*) FROM crawl_url GROUP BY kind, state"):
            counts.setdefault(kind, dict.fromkeys(_STATES, 0))[state] = int(n)
        return counts

    def by_host(self) -> list[tuple[str, str, str | None, int]]:
        """(host, state, reason, count) for every host, state and reason the frontier holds."""
        rows = self.db.all(
            "SELECT host, state, reason, count(*) FROM crawl_url GROUP BY host, state, reason ORDER BY host"
        )
        return [(host or "", state, reason, int(n)) for host, state, reason, n in rows]

    def failures(self, limit: int = 100, state: str = "failed") -> list[dict[str, Any]]:
        """The latest URLs ``failed`` (or ``refused``), with their reason and error."""
        return self.db.rows(
            "SELECT url, kind, attempts, reason, last_error FROM crawl_url WHERE state = ?"
            " ORDER BY updated_at DESC LIMIT ?",
            (state, limit),
        )


def _about(url: str, title: str | None, metadata: str | None) -> dict[str, Any]:
    """A page's own metadata as shown: url, title, text, tags and the extra fields (author, licence)."""
    meta = json.loads(metadata) if metadata else {}
    return {
        "url": url,
        "title": title,
        "text": meta.get("text"),
        "tags": list(meta.get("tags") or ()),
        "extra": dict(meta.get("extra") or {}),
    }


def _crawl_url(row: dict[str, Any]) -> CrawlUrl:
    row = dict(row)
    row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
    return CrawlUrl(**row)
