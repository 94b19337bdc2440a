"""Keyword search on SQLite: BM25 over the FTS5 table of places (name, path, URL, title, tags, text)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence

from lookalike.catalog.database import Database

__all__ = ["fts5_available", "keyword_search", "version"]


def keyword_search(
    db: Database, text: str, limit: int, alternatives: Mapping[str, Sequence[str]]
) -> list[tuple[int, float]]:
    """BM25 over FTS5; scores are the negated rank.  Words are quoted, never SQL.

    Places (weighted by column) and the texts signals read (weighted by confidence)
    are searched alike; an image scores its best hit.  A word with alternatives is
    replaced by the group of them, any one matching."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        return []
    for joiner in (" AND ", " OR "):
        query = joiner.join(_term(w, alternatives.get(w)) for w in words)
        rows = db.all(
            "WITH hit AS MATERIALIZED (SELECT rowid, -bm25(occurrence_fts, 1.0, 4.0, 3.0, 2.0)"
            "  AS score FROM occurrence_fts WHERE occurrence_fts MATCH ?),"
            " read AS MATERIALIZED (SELECT rowid, -bm25(image_text_fts) AS score"
            "  FROM image_text_fts WHERE image_text_fts MATCH ?),"
            " found AS (SELECT o.image_id, hit.score FROM hit JOIN occurrence o ON o.id = hit.rowid"
            "  UNION ALL SELECT t.image_id, read.score * t.confidence FROM read JOIN image_text t ON t.id = read.rowid)"
            " SELECT found.image_id, max(found.score) AS best FROM found"
            " JOIN image i ON i.id = found.image_id AND i.status = 'ok'"
            " GROUP BY found.image_id ORDER BY best DESC, found.image_id LIMIT ?",
            (query, query, limit),
        )
        if rows or len(words) == 1:
            return [(int(i), float(s)) for i, s in rows]
    return []


def _term(word: str, alternatives: Sequence[str] | None) -> str:
    if not alternatives:
        return f'"{word}"'
    return "(" + " OR ".join(f'"{w}"' for w in alternatives if '"' not in w) + ")"


def version() -> str:
    """The version of the SQLite library Python links."""
    return sqlite3.sqlite_version


def fts5_available() -> bool:
    """Whether this SQLite has FTS5 (keyword search needs it)."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.Error:
        return False
    return True
