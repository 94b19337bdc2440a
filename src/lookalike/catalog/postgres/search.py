"""Keyword search on PostgreSQL: ``ts_rank`` over each place's weighted ``tsvector``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lookalike.catalog.database import Database

__all__ = ["keyword_search"]

_TERM = re.compile(r"[^\W_]+")  # letters and digits only: safe in a tsquery


def keyword_search(
    db: Database, text: str, limit: int, alternatives: Mapping[str, Sequence[str]]
) -> list[tuple[int, float]]:
    """``ts_rank`` over each place's weighted tsvector (title 1.0, tags 0.75, text 0.5, place 0.25)
    and over the texts signals read (scaled by their confidence); an image scores its best hit.
    A word with alternatives is replaced by the group of them, any one matching."""
    words = _TERM.findall(text.lower())
    if not words:
        return []
    for joiner in (" & ", " | "):
        rows = db.all(
            "WITH q AS (SELECT to_tsquery('simple', ?) AS q), found AS ("
            " SELECT o.image_id, ts_rank('{0.25, 0.5, 0.75, 1.0}', o.fts, q.q) AS score"
            "  FROM occurrence o, q WHERE o.fts @@ q.q"
            " UNION ALL SELECT t.image_id, ts_rank(t.fts, q.q) * t.confidence"
            "  FROM image_text t, q WHERE t.fts @@ q.q)"
            " SELECT found.image_id, max(found.score) AS best FROM found"
            " JOIN image i ON i.id = found.image_id AND i.status = 'ok'"
            " GROUP BY found.image_id ORDER BY best DESC, found.image_id LIMIT ?",
            (joiner.join(_term(w, alternatives.get(w)) for w in words), limit),
        )
        if rows or len(words) == 1:
            return [(int(i), float(s)) for i, s in rows]
    return []


def _term(word: str, alternatives: Sequence[str] | None) -> str:
    if not alternatives:
        return word
    parts = ["(" + " & ".join(_TERM.findall(w)) + ")" for w in alternatives if _TERM.search(w)]
    return "(" + " | ".join(parts) + ")" if parts else word
