"""The catalog's tables: numbered migrations per dialect, and the copy order of ``lookalike migrate``."""

from __future__ import annotations

import re
from importlib import resources

__all__ = ["TABLES", "migrations"]

#: Tables in the order a copy must fill them (references first), each with its key and columns.
TABLES: dict[str, tuple[str, str]] = {
    "image": ("id", "id, sha256, bytes, width, height, format, mode, status, reason, detail, added_at"),
    "occurrence": (
        "id",
        "id, uri, file, member, image_id, status, reason, detail, size, mtime, url, page_url, title, text,"
        " tags, extra, scan_id, seen_at, parent_id, box",
    ),
    "image_text": ("id", "id, image_id, signal, field, text, confidence, box"),
    "text_word": ("word", "word"),
    "file_state": ("path", "path, size, mtime, scan_id, etag"),
    "feature": ("image_id", "image_id, signal, version, data"),
    "signal_failure": ("image_id", "image_id, signal, version, detail, at"),
    "image_flag": ("image_id", "image_id, flag, reason"),
    "dupe_choice": ("group_key", "group_key, choice, keep_id, decided_at"),
    "change": ("seq", "seq, image_id, op, at"),
    "scan": ("id", "id, roots, started_at, finished_at, counts"),
    "crawl_url": (
        "id",
        "id, url, kind, state, depth, attempts, last_error, reason, etag, last_modified, sha256, fresh_until,"
        " host, page_url, title, metadata, updated_at",
    ),
    "crawl_ref": ("id", "id, url, page_url, title, metadata, updated_at"),
    "job": (
        "id",
        "id, kind, key, payload, state, attempts, worker, last_error, created_at, updated_at",
    ),
}


def migrations(dialect: str) -> list[tuple[int, str]]:
    """The numbered migration scripts of a dialect, in order."""
    folder = resources.files("lookalike.catalog") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)
