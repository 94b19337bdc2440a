"""Images (by content) and their occurrences (every place each was seen)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from lookalike.catalog.changes import ChangeLog
from lookalike.catalog.database import Database, Tx, chunks, marks
from lookalike.catalog.features import Features
from lookalike.catalog.flags import Flags
from lookalike.catalog.texts import Texts, metadata_columns, place_words
from lookalike.errors import Reason
from lookalike.records import PAGE_MARK, Box, Extracted, Failure, ImageInfo, Occurrence, Provenance

__all__ = ["Images"]

_IMAGE_COLUMNS = "id, sha256, bytes, width, height, format, mode, status, reason, detail"
_OCC_COLUMNS = (
    "id, uri, image_id, status, reason, detail, file, member, url, page_url, title, text, tags, extra,"
    " parent_id, box"
)
_PUT_OCCURRENCE = (
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
    " parent_id = excluded.parent_id, box = excluded.box"
)


class Images:
    """Images by content hash, the places they were seen, and their removal."""

    def __init__(self, db: Database, features: Features, changes: ChangeLog) -> None:
        self.db, self.features, self.changes = db, features, changes

    # ---- writing ---------------------------------------------------------------------

    def known(self, shas: Iterable[str]) -> dict[str, Failure | None]:
        """Contents among ``shas`` that the catalog already holds, with their failure if any."""
        found: dict[str, Failure | None] = {}
        for chunk in chunks(set(shas)):
            for sha, status, reason, detail in self.db.all(
                f"SELECT sha256, status, reason, detail FROM image WHERE sha256 IN ({marks(chunk)})", chunk
            ):
                found[sha] = Failure(Reason(reason), detail or "") if status == "failed" else None
        return found

    def record(
        self, batch: Sequence[tuple[Provenance, Extracted | Failure]], scan_id: int | None
    ) -> list[int]:
        """Commit a batch of outcomes in one transaction; returns ids of new usable images."""
        now, new_ids, changes = time.time(), [], []
        with self.db.transaction() as tx:
            for where, outcome in batch:
                image_id = None
                if isinstance(outcome, Extracted):
                    image_id, is_new = self._put_image(tx, outcome, now)
                    if is_new and outcome.failure is None:
                        new_ids.append(image_id)
                    if self.features.put(tx, image_id, outcome.features, outcome.signal_failures):
                        changes.append((image_id, "add"))
                    for signal, fields in outcome.texts.items():
                        Texts.put(tx, image_id, signal, fields)
                    for signal, reason in outcome.flags.items():
                        Flags.put(tx, image_id, signal, reason)
                _put_occurrence(tx, where, image_id, outcome, scan_id, now)
                Texts.learn(tx, place_words(where))
            self.changes.log(tx, changes, now)
        return new_ids

    def attach(self, places: Sequence[tuple[str, Provenance]]) -> int:
        """Record content already seen at one place as seen at another page too, with what that
        page says of it: for each (``source``, ``where``), the places at ``source`` and inside it
        (archive members; not tiles) are copied to ``{uri}#page={where.page_url}`` with
        ``where``'s page, title, text, tags and extra.  Nothing is copied where ``source`` was
        found on that same page, or is not recorded yet; a copy already the same is not written
        again.  Returns how many places were written."""
        now, written = time.time(), 0
        with self.db.transaction() as tx:
            for source, where in places:
                if not where.page_url:
                    continue
                rows = tx.execute(  # by url (indexed): the file's own place and its members' carry it
                    "SELECT uri, file, member, image_id, status, reason, detail, size, mtime, url, page_url,"
                    " scan_id FROM occurrence WHERE url = ? AND (uri = ? OR substr(uri, 1, ?) = ?)"
                    " AND parent_id IS NULL AND uri NOT LIKE ?",
                    (source, source, len(source) + 2, source + "!/", f"%{PAGE_MARK}%"),
                ).fetchall()
                if not rows or any(row[10] == where.page_url for row in rows if row[0] == source):
                    continue
                for uri, file, member, image_id, status, reason, detail, size, mtime, url, _, scan in rows:
                    copy = f"{uri}{PAGE_MARK}{where.page_url}"
                    new = (image_id, status, *metadata_columns(replace(where, url=url)))
                    old = tx.execute(
                        "SELECT image_id, status, url, page_url, title, text, tags, extra FROM occurrence"
                        " WHERE uri = ?",
                        (copy,),
                    ).fetchone()
                    if old is not None and tuple(old) == new:
                        continue
                    tx.execute(
                        _PUT_OCCURRENCE,
                        (
                            copy,
                            file,
                            member,
                            image_id,
                            status,
                            reason,
                            detail,
                            size,
                            mtime,
                            *new[2:],
                            scan,
                            now,
                            None,
                            None,
                        ),
                    )
                    written += 1
                Texts.learn(tx, place_words(where))
        return written

    def keep_parts(self, places: Sequence[tuple[str, str, str]], scan_id: int) -> None:
        """Mark as seen in ``scan_id`` the tiles and frames of known content seen again at its place,
        for each (uri, file, sha256): a sheet or video read again but not extracted again keeps them."""
        with self.db.transaction() as tx:
            for uri, file, sha in places:
                tx.execute(
                    "UPDATE occurrence SET scan_id = ?, seen_at = ? WHERE file = ?"
                    " AND parent_id = (SELECT id FROM image WHERE sha256 = ?) AND substr(uri, 1, ?) = ?",
                    (scan_id, time.time(), file, sha, len(uri) + 1, uri + "#"),
                )

    def detach(self, places: Sequence[tuple[str, str]]) -> int:
        """Undo :meth:`attach` for each (``source``, ``page_url``): the places of ``source`` (and
        of its members and tiles) on that page go; :meth:`sweep` then removes images no place
        shows.  Returns how many places went."""
        gone: list[str] = []
        with self.db.transaction() as tx:
            for source, page_url in places:
                mark = f"{PAGE_MARK}{page_url}"
                rows = tx.execute(
                    "SELECT uri FROM occurrence WHERE url = ? AND (substr(uri, 1, ?) = ? OR substr(uri, 1, ?) = ?)",
                    (source, len(source) + 1, source + "#", len(source) + 2, source + "!/"),
                ).fetchall()
                for (uri,) in rows:
                    at = str(uri).find(mark)
                    rest = str(uri)[at + len(mark) :] if at >= 0 else None
                    if rest is not None and (rest == "" or rest.startswith("#")):
                        gone.append(str(uri))
            tx.executemany("DELETE FROM occurrence WHERE uri = ?", [(u,) for u in gone])
        return len(gone)

    @staticmethod
    def _put_image(tx: Tx, ex: Extracted, now: float) -> tuple[int, bool]:
        """Insert an image: (its id, whether it is new)."""
        failure = ex.failure
        cur = tx.execute(
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
        is_new = cur.rowcount == 1  # read before the next statement: a PostgreSQL cursor is reused
        image_id = int(tx.execute("SELECT id FROM image WHERE sha256 = ?", (ex.sha256,)).fetchone()[0])
        return image_id, is_new

    # ---- removing --------------------------------------------------------------------

    def forget(self, root: str, before_scan: int | None = None) -> None:
        """Drop the places at or under ``root`` (only those ``before_scan`` did not see, if given);
        :meth:`sweep` then removes the images no place shows."""
        prefix = root.rstrip("/") + "/"
        stale = "" if before_scan is None else " AND coalesce(scan_id, -1) != ?"
        params = (root, root, len(prefix), prefix) + (() if before_scan is None else (before_scan,))
        with self.db.transaction() as tx:
            tx.execute(
                f"DELETE FROM occurrence WHERE (uri = ? OR file = ? OR substr(file, 1, ?) = ?){stale}", params
            )

    def move(self, old: str, new: str) -> None:
        """The file at ``old`` is now at ``new``: its places (with their metadata and tiles) move there,
        keeping their images; the places of a file that was at ``new`` go (:meth:`sweep` then)."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM occurrence WHERE file = ? OR uri = ?", (new, new))
            tx.execute(
                "UPDATE occurrence SET uri = ? || substr(uri, ?), file = ? WHERE file = ? AND substr(uri, 1, ?) = ?",
                (new, len(old) + 1, new, old, len(old), old),
            )

    def shas_at(self, uris: Iterable[str]) -> dict[str, str]:
        """The content (sha256) seen at each of ``uris`` that is a file's own place (not an
        archive member or a tile), usable or failed."""
        found: dict[str, str] = {}
        for chunk in chunks(set(uris)):
            for uri, sha in self.db.all(
                "SELECT o.uri, i.sha256 FROM occurrence o JOIN image i ON i.id = o.image_id"
                f" WHERE o.uri IN ({marks(chunk)}) AND o.member IS NULL AND o.parent_id IS NULL",
                chunk,
            ):
                found[str(uri)] = str(sha)
        return found

    def forget_files(self, paths: Sequence[str], before_scan: int | None = None) -> None:
        """:meth:`forget` of files by their exact path (no folder below them), a lookup each."""
        stale = "" if before_scan is None else " AND coalesce(scan_id, -1) != ?"
        rows = [(p,) if before_scan is None else (p, before_scan) for p in paths]
        with self.db.transaction() as tx:
            tx.executemany(f"DELETE FROM occurrence WHERE file = ?{stale}", rows)

    def remove(self, image_id: int) -> bool:
        """Remove an image and every place it was seen; returns whether it was there."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM occurrence WHERE image_id = ?", (image_id,))
            return image_id in self.sweep()

    def sweep(self) -> list[int]:
        """Delete images no place shows any more and log the removal of indexed ones; returns their ids."""
        with self.db.transaction() as tx:
            orphans = tx.execute(
                "SELECT id, status FROM image WHERE NOT EXISTS"
                " (SELECT 1 FROM occurrence o WHERE o.image_id = image.id)"
            ).fetchall()
            for image_id, _ in orphans:
                tx.execute("DELETE FROM image WHERE id = ?", (image_id,))
            self.changes.log(tx, [(int(i), "remove") for i, status in orphans if status == "ok"], time.time())
        return [int(image_id) for image_id, _ in orphans]

    # ---- reading ---------------------------------------------------------------------

    def get(self, image_id: int) -> ImageInfo | None:
        rows = self.db.rows(f"SELECT {_IMAGE_COLUMNS} FROM image WHERE id = ?", (image_id,))
        return ImageInfo(**rows[0]) if rows else None

    def many(self, image_ids: Sequence[int]) -> dict[int, ImageInfo]:
        found: dict[int, ImageInfo] = {}
        for chunk in chunks(image_ids):
            for row in self.db.rows(
                f"SELECT {_IMAGE_COLUMNS} FROM image WHERE id IN ({marks(chunk)})", chunk
            ):
                found[row["id"]] = ImageInfo(**row)
        return found

    def occurrences(self, image_ids: Sequence[int]) -> dict[int, list[Occurrence]]:
        found: dict[int, list[Occurrence]] = {i: [] for i in image_ids}
        for chunk in chunks(image_ids):
            sql = f"SELECT {_OCC_COLUMNS} FROM occurrence WHERE image_id IN ({marks(chunk)}) ORDER BY id"
            for row in self.db.rows(sql, chunk):
                found[row["image_id"]].append(_occurrence(row))
        return found

    def tile_places(self, image_ids: Sequence[int]) -> dict[int, tuple[list[tuple[int, Box]], bool]]:
        """For each of ``image_ids`` seen as a tile: (its sheets and boxes, whether it is also seen
        whole).  Images never cut from a sheet are left out: a search asks this of every
        candidate, and most are not tiles."""
        found: dict[int, tuple[list[tuple[int, Box]], bool]] = {}
        for chunk in chunks(image_ids):
            sql = (
                "SELECT image_id, parent_id, box FROM occurrence WHERE image_id IN"
                f" ({marks(chunk)}) AND parent_id IS NOT NULL AND box IS NOT NULL ORDER BY id"
            )
            for row in self.db.rows(sql, chunk):
                box = _box(row["box"])
                if box is not None:
                    found.setdefault(row["image_id"], ([], False))[0].append((row["parent_id"], box))
        tiles = list(found)
        for chunk in chunks(tiles):
            sql = (
                f"SELECT DISTINCT image_id FROM occurrence WHERE image_id IN ({marks(chunk)}) AND box IS NULL"
            )
            for row in self.db.rows(sql, chunk):
                found[row["image_id"]] = (found[row["image_id"]][0], True)
        return found

    def parts(self, parent_id: int) -> list[Occurrence]:
        """The places of the tiles or frames cut from the image ``parent_id``, in the files it was seen in."""
        sql = (
            f"SELECT {_OCC_COLUMNS} FROM occurrence WHERE parent_id = ? AND file IN"
            " (SELECT file FROM occurrence WHERE image_id = ? AND file IS NOT NULL) ORDER BY id"
        )
        return [_occurrence(row) for row in self.db.rows(sql, (parent_id, parent_id))]

    def ids_at(self, location: str) -> list[int]:
        """Images seen at a uri, or anywhere under a folder or inside an archive."""
        prefix = location.rstrip("/") + "/"
        rows = self.db.all(
            "SELECT DISTINCT image_id FROM occurrence WHERE image_id IS NOT NULL"
            " AND (uri = ? OR file = ? OR substr(file, 1, ?) = ?)",
            (location, location, len(prefix), prefix),
        )
        return [int(r[0]) for r in rows]

    def ok_ids(self) -> list[int]:
        """Every usable image, in id order."""
        return [int(r[0]) for r in self.db.all("SELECT id FROM image WHERE status = 'ok' ORDER BY id")]

    def failures(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest places that failed, with reason and detail."""
        return self.db.rows(
            "SELECT uri, reason, detail FROM occurrence WHERE status = 'failed' ORDER BY seen_at DESC LIMIT ?",
            (limit,),
        )

    def counts(self) -> dict[str, Any]:
        """images, occurrences, failed, failures_by_reason, and the tiles cut from how many sheets: the
        catalog's part of ``stats``."""
        failures = {
            str(reason): int(n)
            for reason, n in self.db.all(
                "SELECT reason, count(*) FROM occurrence WHERE status = 'failed' GROUP BY reason ORDER BY 2 DESC"
            )
        }
        return {
            "images": self.db.count("SELECT count(*) FROM image WHERE status = 'ok'"),
            "occurrences": self.db.count("SELECT count(*) FROM occurrence WHERE status = 'ok'"),
            "failed": self.db.count("SELECT count(*) FROM occurrence WHERE status = 'failed'"),
            "failures_by_reason": failures,
            "tiles": self.db.count("SELECT count(*) FROM occurrence WHERE status = 'ok' AND box IS NOT NULL"),
            "sheets": self.db.count(
                "SELECT count(DISTINCT parent_id) FROM occurrence WHERE status = 'ok' AND box IS NOT NULL"
            ),
        }


def _put_occurrence(
    tx: Tx,
    where: Provenance,
    image_id: int | None,
    outcome: Extracted | Failure,
    scan_id: int | None,
    now: float,
) -> None:
    failure = outcome if isinstance(outcome, Failure) else outcome.failure
    tx.execute(
        _PUT_OCCURRENCE,
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
            *metadata_columns(where),
            scan_id,
            now,
            where.parent,
            ",".join(map(str, where.box)) if where.box else None,
        ),
    )


def _occurrence(row: dict[str, Any]) -> Occurrence:
    row = dict(row)
    row["tags"] = tuple(json.loads(row["tags"])) if row["tags"] else ()
    row["extra"] = json.loads(row["extra"]) if row["extra"] else {}
    row["box"] = _box(row["box"])
    return Occurrence(**row)


def _box(text: str | None) -> Box | None:
    box = [int(v) for v in text.split(",")] if text else None
    return (box[0], box[1], box[2], box[3]) if box and len(box) == 4 else None
