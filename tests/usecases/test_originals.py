"""The content-addressed store of original image bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lookalike.catalog.originals import OriginalStore


def test_put_is_idempotent_and_get_reads_back(tmp_path: Path) -> None:
    store = OriginalStore(tmp_path / "originals")
    data = b"\x89PNG fake"
    sha = hashlib.sha256(data).hexdigest()
    assert store.get(sha) is None
    store.put(sha, data)
    store.put(sha, b"never written: the content is there already")
    assert store.get(sha) == data
    assert store.path(sha).relative_to(tmp_path / "originals").parts == (sha[:2], sha[2:4], sha)
    assert [p.name for p in store.path(sha).parent.iterdir()] == [sha]  # no temporary left
    store.remove(sha)
    store.remove(sha)
    assert store.get(sha) is None
