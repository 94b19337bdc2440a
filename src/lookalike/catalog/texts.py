"""Words about images: the metadata of each place (title, text, tags, links) and keyword search."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from lookalike.catalog.database import Database, Tx, chunks, marks
from lookalike.records import Provenance, TextField

__all__ = ["MIN_WORD", "Texts", "metadata_columns", "place_words"]

_METADATA_OF = "SELECT url, page_url, title, text, tags, extra FROM occurrence WHERE uri = ?"
_ANNOTATE = (
    "UPDATE occurrence SET url = coalesce(?, url), page_url = coalesce(?, page_url),"
    " title = coalesce(?, title), text = coalesce(?, text), tags = coalesce(?, tags),"
    " extra = coalesce(?, extra) WHERE uri = ?"
)

WORD = re.compile(r"\w+")
#: Words shorter than this are not kept in the vocabulary that typos are corrected against.
MIN_WORD = 3


class Texts:
    """Metadata set on places after they were recorded, the text signals read from each image,
    and full-text search over all of it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def annotate(self, uri: str, where: Provenance) -> bool:
        """Set metadata (title, text, tags, links, extra) of the occurrence at ``uri``."""
        return bool(self.annotate_many([(uri, where)]))

    def annotate_many(self, items: Sequence[tuple[str, Provenance]]) -> set[str]:
        """:meth:`annotate` for many places in one transaction; returns the uris that were found."""
        return self.annotate_changes(items)[0]

    def annotate_changes(self, items: Sequence[tuple[str, Provenance]]) -> tuple[set[str], int]:
        """:meth:`annotate_many`, and how many places it changed (0 when the metadata was already
        there: applying the same sidecar again writes nothing)."""
        found, changed = set(), 0
        with self.db.transaction() as tx:
            for uri, where in items:
                new = metadata_columns(where)
                rows = tx.execute(_METADATA_OF, (uri,)).fetchall()
                if rows:
                    found.add(uri)
                differ = [row for row in rows if _merged(new, row) != tuple(row)]
                if differ:  # only then a write: the same sidecar again costs reads alone
                    changed += len(differ)
                    tx.execute(_ANNOTATE, (*new, uri))
                    self.learn(tx, place_words(where))
        return found, changed

    @staticmethod
    def learn(tx: Tx, texts: Sequence[str]) -> None:
        """Add the words of ``texts`` (a place's tags, its author) to the vocabulary that mistyped
        query words are corrected against, inside ``tx``."""
        words = sorted({w.lower() for t in texts for w in WORD.findall(t) if len(w) >= MIN_WORD})
        if words:
            tx.executemany(
                "INSERT INTO text_word(word) VALUES (?) ON CONFLICT DO NOTHING", [(w,) for w in words]
            )

    @staticmethod
    def put(tx: Tx, image_id: int, signal: str, fields: Sequence[TextField]) -> None:
        """Replace what ``signal`` read from an image with ``fields``, inside ``tx``."""
        tx.execute("DELETE FROM image_text WHERE image_id = ? AND signal = ?", (image_id, signal))
        tx.executemany(
            "INSERT INTO image_text(image_id, signal, field, text, confidence, box) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (image_id, signal, f.field, f.text, f.confidence, json.dumps(f.box) if f.box else None)
                for f in fields
                if f.text.strip()
            ],
        )
        Texts.learn(tx, [f.text for f in fields])

    def replace(self, image_id: int, signal: str, fields: Sequence[TextField]) -> None:
        """:meth:`put` in a transaction of its own (a backfill)."""
        with self.db.transaction() as tx:
            self.put(tx, image_id, signal, fields)

    def of(self, image_id: int) -> list[tuple[str, TextField]]:
        """Everything the text signals read from an image: (signal, field) pairs."""
        return self.of_many([image_id]).get(image_id, [])

    def of_many(self, image_ids: Sequence[int]) -> dict[int, list[tuple[str, TextField]]]:
        """:meth:`of` for many images at once."""
        found: dict[int, list[tuple[str, TextField]]] = {}
        for part in chunks(list(image_ids)):
            rows = self.db.all(
                "SELECT image_id, signal, field, text, confidence, box FROM image_text"
                f" WHERE image_id IN ({marks(part)}) ORDER BY id",
                part,
            )
            for i, s, f, t, c, box in rows:
                read = TextField(str(f), str(t), float(c), tuple(json.loads(box)) if box else None)
                found.setdefault(int(i), []).append((str(s), read))
        return found

    def known_words(self, words: Sequence[str]) -> set[str]:
        """Those of ``words`` (lower case) that some text signal read in some image."""
        found: set[str] = set()
        for part in chunks(sorted(set(words))):
            found.update(
                str(w)
                for (w,) in self.db.all(f"SELECT word FROM text_word WHERE word IN ({marks(part)})", part)
            )
        return found

    def near_words(self, word: str, edits: int, limit: int = 8) -> list[tuple[str, int]]:
        """Words read in images within ``edits`` edits of ``word`` (a swap counts one), with
        their distance, nearest first."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        pool = [
            str(w)
            for (w,) in self.db.all(
                "SELECT word FROM text_word WHERE length(word) BETWEEN ? AND ?",
                (len(word) - edits, len(word) + edits),
            )
        ]
        found = process.extract(word, pool, scorer=OSA.distance, score_cutoff=edits, limit=limit)
        return [(str(w), int(d)) for w, d, _ in sorted(found, key=lambda f: (f[1], f[0]))]

    def search(
        self, text: str, limit: int = 1000, alternatives: Mapping[str, Sequence[str]] | None = None
    ) -> list[tuple[int, float]]:
        """Images whose names, paths, URLs, titles, tags, text or read texts match, best first.

        All words must match; when nothing does, any word may.  Larger scores are better.
        ``alternatives``: words (lower case) that any one of their alternatives replaces.
        """
        return self.db.keyword_search(text, limit, alternatives)


def _merged(new: Sequence[str | None], old: Sequence[object]) -> tuple[object, ...]:
    """A place's metadata columns after :data:`_ANNOTATE`: each new value, or the old one where none."""
    return tuple(n if n is not None else o for n, o in zip(new, old, strict=True))


def place_words(where: Provenance) -> list[str]:
    """The texts of a place whose words join the vocabulary: its tags and its author."""
    author = where.extra.get("author") if where.extra else None
    return [*where.tags, *([author] if isinstance(author, str) else [])]


def metadata_columns(where: Provenance) -> tuple[str | None, ...]:
    """url, page_url, title, text, tags (JSON), extra (JSON): the columns a place's metadata fills."""
    tags = json.dumps(list(where.tags)) if where.tags else None
    extra = json.dumps(dict(where.extra)) if where.extra else None
    return (where.url, where.page_url, where.title, where.text, tags, extra)
