"""Keyword search on PostgreSQL: ``ts_rank`` over each place's weighted ``tsvector``."""

from __future__ import annotations

import re

from lookalike.catalog.database import Database

__all__ = ["keyword_search"]


def keyword_search(db: Database, text: str, limit: int) -> list[tuple[int, float]]:
    """``ts_rank`` over the weighted tsvector (title 1.0, tags 0.75, text 0.5, place 0.25)."""
    words = re.findall(r"[^\W_]+", text.lower())  # letters and digits only: safe in a tsquery
    if not words:
        return []
    for joiner in (" & ", " | "):
        rows = db.all(
            "SELECT o.image_id, max(ts_rank('{0.25, 0.5, 0.75, 1.0}', o.fts, q)) AS best"
            " FROM occurrence o CROSS JOIN to_tsquery('simple', ?) q"
            " JOIN image i ON i.id = o.image_id AND i.status = 'ok'"
            " WHERE o.fts @@ q GROUP BY o.image_id ORDER BY best DESC, o.image_id LIMIT ?",
            (joiner.join(words), limit),
        )
        if rows or len(words) == 1:
            return [(int(i), float(s)) for i, s in rows]
    return []
