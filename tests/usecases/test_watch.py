"""A watched folder, watched in a thread of the test: files added, changed, moved and removed while
the watcher runs, a burst of files, an archive, and workers taking what it queues; on SQLite and
PostgreSQL.  Waits poll the catalog with generous time limits, never fixed sleeps."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import lookalike
from lookalike.catalog import Catalog, open_catalog
from lookalike.usecases.reconcile import Pass
from lookalike.usecases.watch import Watcher
from lookalike.usecases.worker import Worker

from conftest import encode, photo, zip_of

pytest.importorskip("watchfiles")

WAIT = 90.0  # seconds: a busy two-core machine is slow, a working watcher far quicker
FAST = {"debounce_ms": 2000, "quiet_ms": 100, "save_seconds": 0}


def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``check`` until it gives something true; fail saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def places(catalog: Catalog) -> dict[str, str]:
    """Usable places (uri) and the sha256 of what they show."""
    rows = catalog.db.all(
        "SELECT o.uri, i.sha256 FROM occurrence o JOIN image i ON i.id = o.image_id WHERE o.status = 'ok'"
    )
    return {str(uri): str(sha) for uri, sha in rows}


def png(seed: int) -> bytes:
    return encode(photo(seed, (48, 32)))


def sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def options(where: str, **watch: Any) -> dict[str, Any]:
    return {"catalog": where, "ingest": {"workers": 1}, "watch": {**FAST, **watch}}


@contextmanager
def watching(home: Path, where: str, folder: Path, vectors: str = "", **watch: Any) -> Iterator[list[Pass]]:
    """A watcher over ``folder`` in a thread, caught up when this yields the passes it reports."""
    passes: list[Pass] = []
    with lookalike.open(home, vectors=vectors, **options(where, **watch)) as collection:
        logs: list[str] = []
        watcher = Watcher(collection.app, [folder], on_pass=passes.append, log=logs.append, processes=False)
        failed: list[BaseException] = []

        def run() -> None:
            try:
                watcher.run()
            except BaseException as exc:  # seen by the test, not lost in the thread
                failed.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            eventually(lambda: watcher.status.state == "watching" or failed, "the catch-up")
            assert not failed, failed
            yield passes
        finally:
            watcher.stop.set()
            thread.join(WAIT)
            print("watcher said:", logs, "passes:", [(p.catch_up, p.added, p.removed) for p in passes])
        assert not thread.is_alive() and not failed, failed
        assert not logs, logs  # a pass that failed says so


@pytest.fixture
def reader(where: str, tmp_path: Path) -> Iterator[Catalog]:
    (tmp_path / "data").mkdir(exist_ok=True)
    catalog = open_catalog(where, tmp_path / "data")
    yield catalog
    catalog.close()


def test_added_changed_moved_and_removed_files_are_followed(
    where: str, tmp_path: Path, reader: Catalog
) -> None:
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(png(1))
    home = tmp_path / "data"
    with watching(home, where, folder) as passes:
        a, b, c = (str(folder / "a.png"), str(folder / "b.png"), str(folder / "sub" / "c.png"))
        assert places(reader) == {a: sha(png(1))}  # the catch-up indexed what was there
        assert passes[0].catch_up and passes[0].added == 1

        (folder / "b.png").write_bytes(png(2))
        eventually(lambda: b in places(reader), "the new file")
        [(b_id, b_occurrence)] = reader.db.all("SELECT image_id, id FROM occurrence WHERE uri = ?", (b,))
        reader.texts.annotate_changes([(b, lookalike.Provenance(b, title="the blue one"))])

        (folder / "a.png").write_bytes(png(3))
        eventually(lambda: places(reader).get(a) == sha(png(3)), "the changed file")
        eventually(lambda: not reader.images.known([sha(png(1))]), "the old content swept")

        os.rename(folder / "b.png", folder / "sub" / "c.png")
        eventually(lambda: c in places(reader) and b not in places(reader), "the moved file")
        [(image_id, occurrence, title)] = reader.db.all(
            "SELECT image_id, id, title FROM occurrence WHERE uri = ?", (c,)
        )
        assert (image_id, occurrence, title) == (b_id, b_occurrence, "the blue one")  # moved, not read again

        (folder / "a.png").unlink()
        eventually(lambda: a not in places(reader), "the removed file")
        eventually(lambda: not reader.images.known([sha(png(3))]), "its image swept")
        assert places(reader) == {c: sha(png(2))}
        total = lambda key: sum(getattr(p, key) for p in passes)  # noqa: E731
        eventually(lambda: total("removed") == 1, "the last pass reported")  # reported once whole
        assert total("moved") == 1 and total("changed") == 1 and total("added") == 2
    with lookalike.open(home, **options(where)) as collection:  # what was watched is searchable
        [best, *_] = collection.search(folder / "sub" / "c.png", k=1)
        assert best.location == c
        assert collection.stats()["indexes"]["phash"]["vectors"] == 1


def test_a_burst_of_files_is_a_few_batches(where: str, tmp_path: Path, reader: Catalog) -> None:
    folder, n = tmp_path / "pics", 300
    folder.mkdir()
    blobs = [png(seed) for seed in range(n)]
    with watching(tmp_path / "data", where, folder, quiet_ms=500) as passes:  # pauses of a busy machine
        for seed, data in enumerate(blobs):
            (folder / f"p{seed:03d}.png").write_bytes(data)
        eventually(lambda: len(places(reader)) == n, f"{n} files", timeout=3 * WAIT)
        added = lambda: sum(p.added for p in passes if not p.catch_up)  # noqa: E731
        eventually(lambda: added() == n, "the batches' reports")  # a pass reports once it is whole
        batches = [p for p in passes if not p.catch_up and p.added]
        assert len(batches) <= 5, [p.added for p in batches]  # gathered, not one batch a file


def test_a_folder_moved_in_and_renamed_and_an_archive_changed(
    where: str, tmp_path: Path, reader: Catalog
) -> None:
    folder, outside = tmp_path / "pics", tmp_path / "outside"
    folder.mkdir()
    (outside / "set").mkdir(parents=True)
    for seed in range(3):
        (outside / "set" / f"s{seed}.png").write_bytes(png(10 + seed))
    with watching(tmp_path / "data", where, folder) as passes:
        (outside / "sheets.zip").write_bytes(zip_of({"x.png": png(20), "y.png": png(21)}))
        os.rename(outside / "sheets.zip", folder / "sheets.zip")  # dropped in whole
        zipped = str(folder / "sheets.zip")
        eventually(
            lambda: {f"{zipped}!/x.png", f"{zipped}!/y.png"} <= places(reader).keys(), "the archive's members"
        )

        os.rename(outside / "set", folder / "set")  # a folder moved in: one event for all its files
        eventually(lambda: sum("/set/" in uri for uri in places(reader)) == 3, "the folder moved in")
        os.rename(folder / "set", folder / "renamed")
        eventually(lambda: sum("/renamed/" in uri for uri in places(reader)) == 3, "the renamed folder")
        assert not any("/set/" in uri for uri in places(reader))
        eventually(lambda: sum(p.moved for p in passes) == 3, "three moves reported")

        (folder / "sheets.zip").write_bytes(zip_of({"x.png": png(20), "z.png": png(22)}))
        eventually(lambda: f"{zipped}!/z.png" in places(reader), "the changed archive")
        eventually(lambda: f"{zipped}!/y.png" not in places(reader), "the member it lost")
        (folder / "sheets.zip").unlink()
        eventually(lambda: not any(uri.startswith(zipped) for uri in places(reader)), "the removed archive")
    assert sorted(places(reader)) == sorted(str(folder / "renamed" / f"s{i}.png") for i in range(3))


def test_with_queue_the_workers_index_what_the_watcher_queues(tmp_path: Path) -> None:
    folder, home = tmp_path / "pics", tmp_path / "data"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(1))
    where = ""
    with watching(home, where, folder, queue=True) as passes, lookalike.open(home, **options(where)) as other:
        assert passes[0].queued == 1 and passes[0].images_new == 0
        (folder / "b.png").write_bytes(png(2))
        eventually(lambda: sum(p.queued for p in passes) == 2, "the second job")
        report = Worker(other.app, name="w1").run(drain=True)
        assert report.files == 2 and report.images_new == 2
        assert set(places(other.catalog)) == {str(folder / "a.png"), str(folder / "b.png")}
        os.rename(folder / "a.png", folder / "c.png")  # moves and removals are the watcher's own
        (folder / "b.png").unlink()
        eventually(lambda: set(places(other.catalog)) == {str(folder / "c.png")}, "the move and the removal")
        assert other.catalog.jobs.counts()["file"]["pending"] == 0


def test_a_name_that_is_not_utf8_is_indexed_and_the_watch_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    where = str(tmp_path / "c.sqlite")
    reader = open_catalog(where, tmp_path)
    try:
        with watching(tmp_path / "data", where, folder):
            with open(os.fsencode(folder) + b"/bad\xffname.png", "wb") as fh:  # watchfiles gives up on it
                fh.write(png(1))
            eventually(lambda: any("bad\ufffdFFname.png" in uri for uri in places(reader)), "the odd name")
            (folder / "after.png").write_bytes(png(2))
            eventually(lambda: str(folder / "after.png") in places(reader), "a file after it")
    finally:
        reader.close()


def test_on_postgresql_and_milvus_the_watched_files_are_searchable(tmp_path: Path, postgres_url: str) -> None:
    pytest.importorskip("pymilvus")
    folder, home = tmp_path / "pics", tmp_path / "data"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(2))  # png(1) is all but blank: junk, left out of results
    reader = open_catalog(postgres_url, tmp_path)
    try:
        with watching(home, postgres_url, folder, vectors="milvus.db"):
            (folder / "b.png").write_bytes(png(4))
            eventually(lambda: str(folder / "b.png") in places(reader), "the new file")
            os.rename(folder / "a.png", folder / "c.png")
            eventually(
                lambda: set(places(reader)) == {str(folder / "b.png"), str(folder / "c.png")}, "the move"
            )
    finally:
        reader.close()
    with lookalike.open(home, vectors="milvus.db", **options(postgres_url)) as collection:
        assert collection.stats()["indexes"]["phash"]["backend"] == "milvus"
        [best, *_] = collection.search(folder / "c.png", k=1)
        assert best.location == str(folder / "c.png")
