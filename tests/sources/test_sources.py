from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import lookalike
from lookalike.errors import InputError
from lookalike.settings import ArchiveSettings
from lookalike.sources.files import Blob, FileEntry, Rejected, blobs, fs_path, load_metadata, path_text, walk

from conftest import encode, photo, zip_of


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


# ---- file names that are not UTF-8 -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        b"plain.jpg",
        b"caf\xc3\xa9.jpg",  # UTF-8
        b"bad\xff\xfename.jpg",  # not UTF-8
        b"latin1-caf\xe9.png",
        "looks-escaped-\ufffdFF.png".encode(),  # a real U+FFFD followed by hex digits
        "\ufffd\ufffd.png".encode() + b"\x80",
    ],
)
def test_path_text_round_trips_any_file_name(name: bytes) -> None:
    path = os.fsdecode(b"/srv/photos/" + name)
    text = path_text(path)
    text.encode("utf-8")  # what a database can store
    assert fs_path(text) == path
    assert text.startswith(path_text(os.fsdecode(b"/srv/photos/")))  # folders stay prefixes


def test_a_name_that_is_not_utf8_is_indexed_like_any_other(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(1, (96, 72)).save(folder / "good.png")
    odd = os.fsencode(folder) + b"/bad\xff\xfename.png"
    with open(odd, "wb") as fh:
        fh.write(encode(photo(2, (96, 72))))
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as collection:
        report = collection.index([folder])
        assert (report.images_new, report.failed) == (2, 0)
        [best] = collection.search(os.fsdecode(odd), k=1)
        assert best.location == f"{path_text(folder.resolve())}/bad\ufffdFF\ufffdFEname.png"
        assert os.fsencode(fs_path(best.location)) == odd  # the real name, byte for byte
        data, _ = collection.original(best.image_id)
        assert data == Path(os.fsdecode(odd)).read_bytes()
        again = collection.index([folder])
        assert again.unchanged == 2 and again.images_new == 0  # reruns do not fail, nor re-read it
        os.remove(odd)
        assert collection.index([folder]).retired == 1


def test_an_archive_nested_past_max_depth_is_recorded_not_dropped(tmp_path: Path) -> None:
    deepest = zip_of({"d.png": encode(photo(3, (32, 32)))})
    middle = zip_of({"c.png": encode(photo(2, (32, 32))), "deeper.zip": deepest})
    outer = tmp_path / "outer.zip"
    outer.write_bytes(zip_of({"a.png": encode(photo(1, (32, 32))), "middle.zip": middle}))
    entry = next(walk([outer]))
    found = list(blobs(entry, ArchiveSettings(max_depth=1)))
    assert sorted(b.where.member or "" for b in found if isinstance(b, Blob)) == [
        "a.png",
        "middle.zip!/c.png",
    ]
    [rejected] = [r for r in found if isinstance(r, Rejected)]
    assert rejected.where.uri == f"{entry.path}!/middle.zip!/deeper.zip"
    assert rejected.failure.reason == "archive_too_deep" and "archive.max_depth" in rejected.failure.detail
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}, archive={"max_depth": 0}) as collection:
        report = collection.index([outer])
        assert report.images_new == 1 and dict(report.failures) == {"archive_too_deep": 1}
        assert collection.stats()["failures_by_reason"] == {"archive_too_deep": 1}


# ---- what a walk meets besides files -----------------------------------------------------------


def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "odd"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    photo(1, (48, 32)).save(folder / "good.png")
    photo(2, (48, 32)).save(folder / "sub" / "inner.png")
    photo(3, (48, 32)).save(tmp_path / "outside" / "secret.png")
    os.mkfifo(folder / "pipe.png")
    (folder / "dangling.png").symlink_to(folder / "missing.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "inside.png").symlink_to(folder / "sub" / "inner.png")
    (folder / "outside.png").symlink_to(tmp_path / "outside" / "secret.png")
    (folder / "linked-folder").symlink_to(tmp_path / "outside")
    return folder


def _outcomes(entries: list[FileEntry]) -> dict[str, str]:
    return {Path(e.path).name: e.skipped.reason.value if e.skipped else "read" for e in entries}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symbolic links")
def test_the_walk_accounts_for_links_fifos_and_loops(tmp_path: Path) -> None:
    folder = odd_folder(tmp_path)
    entries = list(walk([folder]))  # ingest.follow_symlinks=inside
    assert _outcomes(entries) == {
        "dangling.png": "broken_link",
        "good.png": "read",
        "inside.png": "read",
        "linked-folder": "link_not_followed",
        "loop.png": "broken_link",
        "outside.png": "link_not_followed",
        "pipe.png": "not_a_file",
        "inner.png": "read",
    }
    [outside] = [e for e in entries if e.path.endswith("outside.png")]
    assert outside.skipped and "ingest.follow_symlinks=all" in outside.skipped.detail
    assert _outcomes(list(walk([folder], follow="all")))["outside.png"] == "read"
    assert _outcomes(list(walk([folder], follow="none")))["inside.png"] == "link_not_followed"
    [rejected] = list(blobs(outside, ArchiveSettings()))
    assert isinstance(rejected, Rejected) and rejected.failure.reason == "link_not_followed"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symbolic links")
def test_skipped_entries_are_recorded_and_counted_once(tmp_path: Path) -> None:
    folder = odd_folder(tmp_path)
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as collection:
        for _ in range(2):  # a rerun records them again, not twice
            report = collection.index([folder])
            assert report.files == 8 and report.failed == 5
            stats = collection.stats()
            assert stats["failures_by_reason"] == {"broken_link": 2, "link_not_followed": 2, "not_a_file": 1}
            assert stats["images"] == 2 and stats["occurrences"] == 3  # inner.png is also seen as inside.png
        places = collection.catalog.images.occurrences(collection.catalog.images.ok_ids())
        uris = sorted(Path(o.uri).name for found in places.values() for o in found)
        assert uris == ["good.png", "inner.png", "inside.png"]  # nothing from outside the folder
