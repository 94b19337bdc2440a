"""Uploaded query images kept in the data folder, so that a result page's address survives a restart.

An upload is stored as ``queries/<sha256>`` in the collection's folder and searched again
from ``/?img=<sha256>``.  The folder is bounded: at most ``serve.keep_queries`` images and :data:`MAX_BYTES`
bytes, the least recently used removed first (a search by a kept image renews it).
``serve.keep_queries = 0`` keeps uploads in memory only (:class:`QueryImages`), lost on restart.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from lookalike.settings import Settings

__all__ = ["KeptQueries", "QueryImages", "QueryStore", "is_token", "query_store"]

#: Most bytes of query images kept in the data folder (besides ``serve.keep_queries`` images).
MAX_BYTES = 512 * 1024 * 1024
#: A kept query's name: the SHA-256 of its bytes, in lowercase hex.
_TOKEN = re.compile(r"^[0-9a-f]{64}$")


def is_token(text: str) -> bool:
    """Whether ``text`` can name a kept query (64 lowercase hex digits: nothing else reaches the disk)."""
    return bool(_TOKEN.match(text))


class QueryStore(Protocol):
    """Where uploaded query images wait to be searched again, by the SHA-256 of their bytes."""

    def put(self, data: bytes) -> str: ...

    def get(self, token: str) -> bytes | None: ...


class QueryImages:
    """Recently uploaded query images, by token, so that result pages can be paged and refined.

    Bounded by count and bytes; the oldest go first.  A token is the content's SHA-256,
    so the same upload gets the same token.
    """

    def __init__(self, max_items: int = 64, max_bytes: int = 128 * 1024 * 1024) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.max_items, self.max_bytes = max_items, max_bytes
        self._bytes = 0

    def put(self, data: bytes) -> str:
        token = hashlib.sha256(data).hexdigest()
        with self._lock:
            if token in self._items:
                self._items.move_to_end(token)
                return token
            self._items[token] = data
            self._bytes += len(data)
            while len(self._items) > 1 and (
                len(self._items) > self.max_items or self._bytes > self.max_bytes
            ):
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)
        return token

    def get(self, token: str) -> bytes | None:
        with self._lock:
            data = self._items.get(token)
            if data is not None:
                self._items.move_to_end(token)
            return data


class KeptQueries:
    """Query images as files named by their SHA-256 in one folder, bounded by count and bytes."""

    def __init__(self, folder: Path, max_items: int = 200, max_bytes: int = MAX_BYTES) -> None:
        self.folder, self.max_items, self.max_bytes = folder, max_items, max_bytes
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        """Keep ``data`` (again: the same bytes are one file, renewed); returns its SHA-256."""
        token = hashlib.sha256(data).hexdigest()
        path = self.folder / token
        with self._lock:
            if path.exists():
                os.utime(path)
            else:
                self._write(path, data)
            self._prune(keep=token)
        return token

    def get(self, token: str) -> bytes | None:
        """The kept image named ``token``, or None (unknown, pruned, or not a SHA-256 at all)."""
        if not is_token(token):
            return None
        path = self.folder / token
        try:
            data = path.read_bytes()
            os.utime(path)  # a search by it counts as a use: it is pruned last
        except OSError:
            return None
        return data

    def _write(self, path: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # written aside and renamed, so a reader never sees half an image
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)

    def _prune(self, keep: str) -> None:
        """Remove the least recently used images beyond the count and byte bounds (never ``keep``)."""
        kept = []
        for entry in os.scandir(self.folder):
            if is_token(entry.name):
                with contextlib.suppress(OSError):  # another server process pruned it first
                    info = entry.stat()
                    kept.append((info.st_mtime, entry.name, info.st_size))
        kept.sort(reverse=True)  # newest first
        count = total = 0
        for _, name, size in kept:
            count, total = count + 1, total + size
            if name != keep and (count > self.max_items or total > self.max_bytes):
                with contextlib.suppress(OSError):
                    (self.folder / name).unlink()


def query_store(settings: Settings) -> QueryStore:
    """The store ``serve.keep_queries`` asks for: that many in the data folder's ``queries/``, or
    (0) the latest 64 in memory only."""
    kept = settings.serve.keep_queries
    if not kept:
        return QueryImages()
    return KeptQueries(Path(settings.home) / "queries", kept, MAX_BYTES)
