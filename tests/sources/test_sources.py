from __future__ import annotations

import json
from pathlib import Path

import pytest

from lookalike.errors import InputError
from lookalike.settings import ArchiveSettings
from lookalike.sources.files import Blob, Rejected, blobs, load_metadata, walk

from conftest import encode, photo


def test_walk_is_sorted_recursive_and_skips_hidden_and_excluded(tmp_path: Path) -> None:
    for name in ("b.png", "a/c.png", ".hidden/d.png", "a/.e.png", "data/f.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [
        Path(e.path).relative_to(tmp_path).as_posix() for e in walk([tmp_path], exclude=[tmp_path / "data"])
    ]
    assert found == ["b.png", "a/c.png"]  # a folder's files, then its sub-folders, each sorted


def test_blobs_picks_images_by_extension_or_magic(tmp_path: Path) -> None:
    (tmp_path / "photo.dat").write_bytes(encode(photo(1), "PNG"))  # magic bytes win over the name
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / "empty.jpg").write_bytes(b"")
    entries = {Path(e.path).name: e for e in walk([tmp_path])}
    settings = ArchiveSettings()
    assert isinstance(next(blobs(entries["photo.dat"], settings)), Blob)
    assert list(blobs(entries["readme.txt"], settings)) == []
    [empty] = blobs(entries["empty.jpg"], settings)
    assert isinstance(empty, Blob) and empty.data == b""  # the decoder records why it fails


def test_corrupt_archive_is_rejected_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    [entry] = walk([tmp_path])
    [rejected] = blobs(entry, ArchiveSettings())
    assert isinstance(rejected, Rejected) and rejected.failure.reason.value == "archive_corrupt"


def test_metadata_sidecar(tmp_path: Path) -> None:
    sidecar = tmp_path / "meta.jsonl"
    rows = [
        {"path": "shoes/red.jpg", "title": "Red shoe", "tags": "shoe, red", "price": 49},
        {"file": "/abs/pack.zip!/tiles/a.png", "url": "https://example.org/a.png"},
    ]
    sidecar.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    found = load_metadata(sidecar)
    red = found[str(tmp_path / "shoes" / "red.jpg")]
    assert red.title == "Red shoe" and red.tags == ("shoe", "red") and red.extra == {"price": 49}
    assert found["/abs/pack.zip!/tiles/a.png"].url == "https://example.org/a.png"
    sidecar.write_text('{"title": "no path"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 1"):
        load_metadata(sidecar)
