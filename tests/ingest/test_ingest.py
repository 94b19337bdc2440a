from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import lookalike
from lookalike.app import make_signals, signal_names
from lookalike.ingest.extract import decode_size
from lookalike.ingest.workers import CHUNK, CHUNK_BYTES, _chunks
from lookalike.plugins import load_plugins
from lookalike.settings import load_settings

from conftest import encode, photo


def test_chunks_are_bounded_by_count_and_bytes() -> None:
    small = [(f"s{i}", b"x" * 10, "u") for i in range(CHUNK + 3)]
    assert [len(c) for c in _chunks(small)] == [CHUNK, 3]
    big = [(f"b{i}", b"x" * (CHUNK_BYTES // 2 + 1), "u") for i in range(3)]
    assert [len(c) for c in _chunks(big)] == [1, 1, 1]  # each alone: two would pass CHUNK_BYTES
    huge = [("h", b"x" * (CHUNK_BYTES * 2), "u")]
    assert [len(c) for c in _chunks(huge)] == [1]
    assert list(_chunks([])) == []


def test_decode_size_covers_signals_and_thumbnails() -> None:
    plugins = load_plugins()
    settings = load_settings()
    signals = dict(make_signals(settings, signal_names(settings, plugins), plugins))
    keypoints = signals.pop("keypoints", None)  # a default where OpenCV is installed
    assert decode_size(settings, signals) == 240
    assert decode_size(load_settings(ingest={"thumbnail_size": 0}), signals) == 96
    if keypoints is not None:  # keypoints read a larger view (512 pixels)
        signals["keypoints"] = keypoints
        assert decode_size(settings, signals) == 512


# ---- a batch through the pipeline, end to end ------------------------------------------------


GOOD = 4
BAD = {  # file name -> the reason it is rejected with
    "truncated.png": "corrupt",
    "truncated.jpg": "corrupt",
    "empty.png": "empty",
    "words.png": "not_an_image",
    "drawing.svg": "not_an_image",  # a format lookalike does not read (vector)
}


def mixed_folder(root: Path) -> Path:
    folder = root / "mixed"
    folder.mkdir()
    for seed in range(GOOD):
        photo(seed, (96, 72)).save(folder / f"good{seed}.png")
    (folder / "truncated.png").write_bytes(encode(photo(90, (96, 72)))[:300])
    (folder / "truncated.jpg").write_bytes(encode(photo(91, (96, 72)), "JPEG")[:400])
    (folder / "empty.png").write_bytes(b"")
    (folder / "words.png").write_bytes(b"hello, these are words and not pixels")
    (folder / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    return folder


def open_data(home: Path, **ingest: object) -> lookalike.Collection:
    return lookalike.open(home, ingest={"workers": 1, **ingest})


def test_each_bad_file_is_recorded_with_its_reason_and_the_good_ones_are_indexed(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path)
    with open_data(tmp_path / "data") as collection:
        report = collection.index([folder])
        assert report.images_new == GOOD and report.failed == len(BAD)
        assert dict(report.failures) == {"corrupt": 2, "empty": 1, "not_an_image": 2}
        stats = collection.stats()
        assert stats["images"] == GOOD and stats["occurrences"] == GOOD and stats["failed"] == len(BAD)
        assert stats["failures_by_reason"] == dict(report.failures)
        failures = {Path(f["uri"]).name: f for f in collection.catalog.images.failures()}
        assert {name: f["reason"] for name, f in failures.items()} == BAD
        assert all(f["detail"] for f in failures.values())  # a reason for people too
        assert stats["indexes"]["phash"]["vectors"] == GOOD  # failures never reach an index
        for seed in range(GOOD):
            [best] = collection.search(folder / f"good{seed}.png", k=1)
            assert best.location.endswith(f"good{seed}.png")


def test_unchanged_files_are_skipped_on_a_rerun(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path)
    with open_data(tmp_path / "data") as collection:
        first = collection.index([folder])
        again = collection.index([folder])
        assert again.unchanged == again.files == first.files
        assert again.images_new == again.images_known == again.failed == again.retired == 0
        assert collection.stats()["failures_by_reason"] == dict(first.failures)  # failures are kept
        photo(50, (96, 72)).save(folder / "good0.png")  # a changed file is read again
        changed = collection.index([folder])
        assert changed.unchanged == first.files - 1 and changed.images_new == 1
        assert collection.stats()["images"] == GOOD  # the old content is seen nowhere now


class Killed(Exception):
    """Raised from the progress callback: the run stops there, as a killed one would."""


def test_an_interrupted_run_leaves_no_duplicates_and_a_rerun_finishes_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    n = 12
    for seed in range(n):
        photo(seed, (64, 48)).save(folder / f"p{seed:02d}.png")
    (folder / "p99-broken.png").write_bytes(encode(photo(99, (64, 48)))[:200])
    files = sorted(str(p.resolve()) for p in folder.iterdir())
    seen: list[tuple[str, int]] = []

    def progress(event: str, amount: int) -> None:
        seen.append((event, amount))
        if event == "file" and sum(a for e, a in seen if e == "file") >= 4:
            raise Killed

    with open_data(tmp_path / "data", batch_size=2) as collection:
        with pytest.raises(Killed):
            collection.index([folder], progress=progress)
        done = [path for path in files if collection.catalog.scans.unchanged(path, *_size_mtime(path))]
        images_before = collection.stats()["images"]
        assert 0 < len(done) < len(files) and 0 < images_before < n
    with open_data(tmp_path / "data", batch_size=2) as collection:
        report = collection.index([folder])
        assert report.unchanged == len(done) and report.files == len(files)
        assert report.images_new == n - images_before  # what the first run committed is not new again
        stats = collection.stats()
        assert stats["images"] == n and stats["occurrences"] == n
        assert stats["failures_by_reason"] == {"corrupt": 1}
        assert stats["indexes"]["phash"]["vectors"] == n
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*), count(DISTINCT sha256) FROM image").fetchone() == (n + 1, n + 1)
        assert db.execute("SELECT count(*), count(DISTINCT uri) FROM occurrence").fetchone() == (n + 1, n + 1)


def _size_mtime(path: str) -> tuple[int, float]:
    st = Path(path).stat()
    return st.st_size, st.st_mtime


def test_removed_files_are_retired_unless_kept(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(3):
        photo(seed, (96, 72)).save(folder / f"p{seed}.png")
    with open_data(tmp_path / "data") as collection:
        collection.index([folder])
        gone = str((folder / "p1.png").resolve())
        [gone_id] = collection.catalog.images.ids_at(gone)
        (folder / "p1.png").unlink()
        kept = collection.index([folder], retire=False)
        assert kept.retired == 0 and collection.stats()["images"] == 3
        assert collection.catalog.images.ids_at(gone) == [gone_id]
        retired = collection.index([folder])
        assert retired.retired == 1 and collection.stats()["images"] == 2
        assert collection.catalog.images.ids_at(gone) == [] and collection.catalog.images.get(gone_id) is None
        assert collection.stats()["indexes"]["phash"]["vectors"] == 2
        assert gone_id not in [r.image_id for r in collection.search(folder / "p0.png", k=10, collapse=False)]


def test_a_file_retired_elsewhere_keeps_a_copy_seen_at_another_place(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(1, (96, 72)).save(folder / "a.png")
    (folder / "copy-of-a.png").write_bytes((folder / "a.png").read_bytes())
    with open_data(tmp_path / "data") as collection:
        report = collection.index([folder])
        assert report.images_new == 1 and report.images_known == 1
        (folder / "a.png").unlink()
        assert collection.index([folder]).retired == 0  # the content is still seen at its copy
        [image_id] = collection.catalog.images.ok_ids()
        assert [o.uri for o in collection.catalog.images.occurrences([image_id])[image_id]] == [
            str((folder / "copy-of-a.png").resolve())
        ]


def test_a_backfill_in_worker_processes_stores_what_one_process_does(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for seed in range(4 * CHUNK + 6):  # enough work to start the worker processes
        photo(seed, (48, 40)).save(folder / f"p{seed}.png")
    stored = {}
    for workers in (1, 2):
        home = tmp_path / f"data{workers}"
        with lookalike.open(home, ingest={"workers": workers, "signals": ["phash"]}) as collection:
            collection.index([folder])
        with lookalike.open(home, ingest={"workers": workers, "signals": ["phash", "colour"]}) as collection:
            report = collection.backfill(["colour"])
            assert report["computed"] == {"colour": 4 * CHUNK + 6} and report["failed"] == 0
            assert collection.backfill(["colour"])["computed"] == {"colour": 0}  # resumable: done is done
            assert collection.thumbnail(1)  # the ingest's thumbnail, not replaced by the backfill
            ids = collection.catalog.images.ok_ids()
            stored[workers] = collection.catalog.features.get(
                "colour", collection.signals["colour"].spec.version, ids
            )
    assert stored[1] == stored[2]
