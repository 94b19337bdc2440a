"""Past one machine: a PostgreSQL catalog, workers sharing a job queue, migrating a collection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from PIL import ImageOps

import lookalike
from lookalike.usecases.worker import Worker

from conftest import DEFAULT_SIGNALS, photo
from fake_site import Site, _expected, _indexed


def _open(home: Path, catalog: str = "", **more: object) -> lookalike.Collection:
    return lookalike.open(home, catalog=catalog, ingest={"workers": 1}, **more)  # type: ignore[arg-type]


def test_a_collection_on_postgresql_indexes_searches_and_removes(
    tmp_path: Path, photo_dir: Path, postgres_url: str
) -> None:
    with _open(tmp_path / "data", postgres_url) as collection:
        assert collection.catalog.shared
        report = collection.index([photo_dir])
        assert report.images_new == 8 and report.failed == 0
        edited = tmp_path / "edited.jpg"
        ImageOps.mirror(photo(3)).resize((200, 150)).save(edited, quality=70)
        [best, *_] = collection.search(edited, k=3)
        assert best.location.endswith("photo3.jpg")
        assert collection.thumbnail(best.image_id)  # thumbnails live in the shared catalog
        assert not (tmp_path / "data" / "thumbs.sqlite").exists()
        [(hit, _)] = collection.catalog.texts.search("photo5")
        assert collection.catalog.images.occurrences([hit])[hit][0].uri.endswith("photo5.png")
        collection.remove(best.image_id)
        assert all(r.image_id != best.image_id for r in collection.search(edited, k=8))


def test_two_servers_over_one_catalog_see_each_others_writes(
    tmp_path: Path, photo_dir: Path, postgres_url: str
) -> None:
    from lookalike.api.service import Query, Service

    with _open(tmp_path / "a", postgres_url) as writer, _open(tmp_path / "b", postgres_url) as reader:
        service = Service(reader)  # an API server on another machine: its own index files
        writer.index([photo_dir])
        data = (photo_dir / "photo2.png").read_bytes()
        [first] = service.search(Query(image=data, k=1)).results
        assert first.location.endswith("photo2.png")
        writer.remove(first.image_id)
        [then] = service.search(Query(image=data, k=1)).results
        assert then.image_id != first.image_id


def test_a_worker_drains_the_queue_once(tmp_path: Path, photo_dir: Path) -> None:
    (photo_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with _open(tmp_path / "data") as collection:
        assert collection.enqueue([photo_dir]) == 9
        assert collection.enqueue([photo_dir]) == 0  # queued already
        report = Worker(collection.app, "w").run(drain=True)
        assert (report.files, report.images_new, report.failed) == (9, 8, 1)
        assert collection.jobs()["jobs"]["file"]["done"] == 9
        assert collection.stats()["images"] == 8
        assert collection.enqueue([photo_dir]) == 9  # done jobs can be queued again...
        again = Worker(collection.app, "w").run(drain=True)
        assert again.images_new == 0 and collection.stats()["images"] == 8  # ...and change nothing
        (photo_dir / "photo0.jpg").unlink()
        collection.enqueue([photo_dir / "photo2.png"])
        collection.catalog.jobs.add("file", [(str(photo_dir / "photo0.jpg"), None)])
        gone = Worker(collection.app, "w").run(drain=True)
        assert gone.jobs_failed == 1 and "no such file" in collection.jobs()["failures"][0]["last_error"]


def test_workers_share_a_queued_crawl(tmp_path: Path, site: Site) -> None:
    settings = {"fetch": {"allow_networks": ["127.0.0.0/8"]}, "crawl": {"delay": 0}}
    with _open(tmp_path / "data", **settings) as collection:
        assert collection.enqueue_crawl([site.base + "/"]) == 1
        Worker(collection.app, "w").run(drain=True)
        assert _indexed(collection) == _expected(site.base)
        assert collection.jobs()["jobs"]["crawl"]["done"] == 1


def _pg_count(url: str, sql: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
        return int(row[0]) if row else 0


def test_three_workers_one_killed_index_every_image_exactly_once(tmp_path: Path, postgres_url: str) -> None:
    n = 36
    folder = tmp_path / "queue"
    folder.mkdir()
    for seed in range(n):
        photo(seed, (900, 600)).save(folder / f"p{seed:03d}.png")  # large enough that a job takes a while
    with _open(tmp_path / "queuer", postgres_url) as collection:
        assert collection.enqueue([folder]) == n
    env = {
        **os.environ,
        "LOOKALIKE_CATALOG": postgres_url,
        "LOOKALIKE_INGEST__WORKERS": "1",
        "LOOKALIKE_WORKER__BATCH": "2",
        "LOOKALIKE_WORKER__LEASE": "3",
        "LOOKALIKE_WORKER__POLL": "0.2",
    }
    workers = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lookalike",
                "worker",
                "--drain",
                "--json",
                "--name",
                name,
                "--data",
                str(tmp_path / f"home-{name}"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2", "w3")
    }
    held = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # kill w1 while it holds a job, after it has finished one
        done = _pg_count(postgres_url, "SELECT count(*) FROM job WHERE worker = 'w1' AND state = 'done'")
        held = _pg_count(
            postgres_url,
            "SELECT coalesce(min(id), 0) FROM job WHERE worker = 'w1' AND state = 'pending'"
            " AND lease_until > extract(epoch FROM clock_timestamp())",
        )
        if done and held:
            workers["w1"].send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    assert held, "w1 should have been killed while holding a job"
    workers["w1"].wait()
    for name in ("w2", "w3"):
        _, err = workers[name].communicate(timeout=120)
        assert workers[name].returncode == 0, err
    count = lambda sql: _pg_count(postgres_url, sql)  # noqa: E731
    assert count("SELECT count(*) FROM job WHERE state = 'done'") == n
    assert count("SELECT count(*) FROM image") == n
    assert count("SELECT count(*) FROM occurrence") == n
    assert count("SELECT count(DISTINCT uri) FROM occurrence") == n
    assert count("SELECT count(*) FROM feature WHERE signal = 'phash'") == n
    assert count("SELECT count(*) FROM change WHERE op = 'add'") == n  # each image reached the indexes once
    assert count(f"SELECT attempts FROM job WHERE id = {held}") >= 2  # taken again after the kill
    assert count(f"SELECT count(*) FROM job WHERE id = {held} AND worker != 'w1'") == 1
    with _open(tmp_path / "searcher", postgres_url) as collection:
        assert collection.search(folder / "p007.png", k=1)[0].location.endswith("p007.png")


def test_migrate_moves_a_collection_without_recomputing(
    tmp_path: Path, photo_dir: Path, postgres_url: str
) -> None:
    from lookalike.usecases.migrate import migrate

    with _open(tmp_path / "data") as source:
        source.index([photo_dir])
        source.catalog.scans.files_done([("/elsewhere/x.png", 1, 1.0, None)], 1)
        want = [(r.image_id, r.location) for r in source.search(photo_dir / "photo4.png", k=5)]
        ids = source.catalog.images.ok_ids()
    for path in photo_dir.rglob("*.*"):
        path.unlink()  # no pixels to compute features from: the copy must take the stored ones
    with _open(tmp_path / "data") as source, _open(tmp_path / "data", postgres_url) as target:
        done = migrate(source.app, target.app)
        assert done["copied"]["image"] == 8 and done["copied"]["feature"] == 8 * len(DEFAULT_SIGNALS)
        assert done["copied"]["thumbnail"] == 8 and done["indexes"]["phash"] == 8
        assert migrate(source.app, target.app)["copied"]["image"] == 8  # again: nothing doubles
        assert target.catalog.images.ok_ids() == ids
        assert target.stats()["images"] == 8
        got = [(r.image_id, r.location) for r in target.similar(want[0][0], k=4)]
        assert got == want[1:5]
        assert target.thumbnail(ids[0]) == source.thumbnail(ids[0])
        assert target.catalog.scans.unchanged("/elsewhere/x.png", 1, 1.0)
        with _open(tmp_path / "back") as back:  # and back again, to an embedded collection
            assert migrate(target.app, back.app)["copied"]["thumbnail"] == 8
            assert [(r.image_id, r.location) for r in back.similar(want[0][0], k=4)] == want[1:5]
            assert back.thumbnail(ids[0]) == source.thumbnail(ids[0])


def test_migrate_refuses_a_target_that_holds_another_collection(
    tmp_path: Path, photo_dir: Path, postgres_url: str
) -> None:
    from lookalike.errors import ConfigError
    from lookalike.usecases.migrate import migrate

    with _open(tmp_path / "other", postgres_url) as other:
        other.index([photo_dir / "nested"])
    with _open(tmp_path / "data") as source, _open(tmp_path / "data", postgres_url) as target:
        source.index([photo_dir / "photo0.jpg"])
        with pytest.raises(ConfigError, match="another collection"):
            migrate(source.app, target.app)


def test_a_postgresql_that_is_not_there_is_a_clear_error(tmp_path: Path) -> None:
    from lookalike.errors import BackendError

    with pytest.raises(
        BackendError, match=r"cannot connect to the catalog at postgresql://u:\*\*\*@127.0.0.1:1"
    ):
        _open(tmp_path / "data", "postgresql://u:secret@127.0.0.1:1/db")


def test_a_lost_connection_is_a_backend_error_and_the_next_call_reconnects(postgres_url: str) -> None:
    from lookalike.catalog import open_catalog
    from lookalike.errors import BackendError

    catalog = open_catalog(postgres_url, Path("."))
    assert catalog.stats()["images"] == 0
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:  # the server drops our session
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid != pg_backend_pid()",
            (database,),
        )
    with pytest.raises(BackendError, match="failed"):
        catalog.stats()
    assert catalog.stats()["images"] == 0
    catalog.close()


def test_postgresql_and_milvus_a_worker_writes_and_another_process_searches(
    tmp_path: Path, photo_dir: Path, postgres_url: str
) -> None:
    pytest.importorskip("pymilvus")
    vectors = str(tmp_path / "v.db")
    with _open(tmp_path / "queuer", postgres_url, vectors=vectors) as queuer:
        queuer.enqueue([photo_dir])
        Worker(queuer.app, "w").run(drain=True)  # the worker's own process applies the changes to Milvus
        assert not list((tmp_path / "queuer" / "indexes").glob("*.faiss"))  # and keeps no index files
        state = queuer.catalog.index_states.get("phash.v1")
        assert state["backend"] == "milvus" and state["applied_seq"] == queuer.catalog.changes.last_seq()
        queuer.indexes.get("colour").add(np.array([10**6]), np.zeros((1, 64), np.float32))  # a marker
    with _open(tmp_path / "server", postgres_url, vectors=vectors) as server:  # another machine's home
        assert len(server.indexes.get("colour")) == 9  # the shared index is used as it is, not rebuilt
        [best] = server.search(photo_dir / "photo2.png", k=1)
        assert best.location.endswith("photo2.png")
        described = server.stats()["indexes"]["phash"]
        assert described["vectors"] == 8 and described["bytes"] is None  # on the server, not a local size
        server.remove(best.image_id)
        assert server.catalog.index_states.get("phash.v1")["count"] == 7  # applied to the shared index once
    with _open(tmp_path / "queuer", postgres_url, vectors=vectors) as again:
        assert all(r.image_id != best.image_id for r in again.search(photo_dir / "photo2.png", k=8))
        assert (
            again.indexes.get("phash").search(np.zeros(72, np.uint8), 9)[1].tolist().count(best.image_id) == 0
        )


def test_serve_with_several_processes_over_one_catalog(tmp_path: Path, postgres_url: str) -> None:
    import socket

    import httpx

    from conftest import encode

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with _open(tmp_path / "data", postgres_url) as collection:  # something to find besides the upload
        for seed in range(3):
            collection.add(encode(photo(seed)), lookalike.records.Provenance(f"upload:{seed}"))
    env = {**os.environ, "LOOKALIKE_CATALOG": postgres_url, "LOOKALIKE_INGEST__WORKERS": "1"}
    command = [
        sys.executable,
        "-m",
        "lookalike",
        "serve",
        "--workers",
        "2",
        "--port",
        str(port),
        "--data",
        str(tmp_path / "data"),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        image = encode(photo(42))
        added = httpx.post(f"{base}/api/images", files={"file": ("new.png", image)}, timeout=30)
        assert added.status_code == 201, added.text
        new_id = added.json()["id"]
        for _ in range(8):  # a new connection each: the processes take turns accepting them
            found = httpx.post(f"{base}/api/search", files={"file": ("q.png", image)}, timeout=30).json()
            assert found["results"][0]["id"] == new_id
        assert httpx.delete(f"{base}/api/images/{new_id}", timeout=30).status_code == 200
        for _ in range(8):
            found = httpx.post(f"{base}/api/search", files={"file": ("q.png", image)}, timeout=30).json()
            assert all(r["id"] != new_id for r in found["results"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_collection_page_shows_the_shared_catalog_and_the_queue(
    tmp_path: Path, photo_dir: Path, postgres_url: str
) -> None:
    from fastapi.testclient import TestClient

    from lookalike.api.app import create_app

    with _open(tmp_path / "data", postgres_url) as collection:
        collection.enqueue([photo_dir])
        collection.catalog.jobs.claim("box-b:977", ["file"], 3, lease=600)
        with TestClient(create_app(collection)) as client:
            page = client.get("/collection").text
            stats = client.get("/api/stats").json()
    assert "catalog: PostgreSQL postgresql://postgres@127.0.0.1" in page and "in PostgreSQL" in page
    assert "Job queue" in page
    assert stats["jobs"]["file"] == {"pending": 5, "running": 3, "done": 0, "failed": 0}


def test_two_processes_catching_up_one_shared_index_agree_with_the_catalog(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    import threading

    from conftest import encode

    vectors, catalog = str(tmp_path / "v.db"), str(tmp_path / "catalog.sqlite")
    with (
        _open(tmp_path / "a", catalog, vectors=vectors) as a,
        _open(tmp_path / "b", catalog, vectors=vectors) as b,
    ):
        b.indexes.open_all()
        done = threading.Event()

        def follow() -> None:  # another server, catching up as fast as it can
            while not done.is_set():
                b.indexes.catch_up()

        follower = threading.Thread(target=follow)
        follower.start()
        removed = []
        try:
            for seed in range(12):
                image_id, _ = a.add(
                    encode(photo(seed, (64, 48))), lookalike.records.Provenance(f"upload:{seed}")
                )
                if seed % 2:
                    a.remove(image_id)
                    removed.append(image_id)
        finally:
            done.set()
            follower.join()
        b.indexes.catch_up()
        index = b.indexes.get("phash")
        assert len(index) == 6
        assert not set(index._present(np.array(removed)))  # type: ignore[attr-defined]  # none came back
        assert a.catalog.index_states.get("phash.v1")["applied_seq"] == a.catalog.changes.last_seq()


def test_doctor_checks_the_catalog_without_changing_it(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lookalike.app import discover
    from lookalike.usecases.doctor import checks

    monkeypatch.setenv("LOOKALIKE_CATALOG", postgres_url)
    [found] = [c for c in checks(discover()) if c["name"] == "catalog"]
    assert found["ok"] and "schema version 0" in found["detail"]
    assert _pg_count(postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
    monkeypatch.setenv("LOOKALIKE_CATALOG", "postgresql://nobody@127.0.0.1:1/x")
    [down] = [c for c in checks(discover()) if c["name"] == "catalog"]
    assert not down["ok"] and "127.0.0.1:1" in down["detail"]
