"""One contract suite for the catalog, run against every dialect: SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lookalike.catalog import Catalog
from lookalike.catalog.sqlite import SqliteDatabase
from lookalike.errors import Reason
from lookalike.ingest.pipeline import retire_unseen
from lookalike.records import Extracted, Failure, Provenance

from catalogs import Opener, extracted


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    Catalog(SqliteDatabase(tmp_path / "c.sqlite")).close()
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_migrations_run_once_and_agree(opener: Opener) -> None:
    first = opener()
    first.images.record([(Provenance("/a.png"), extracted("a"))], 1)
    again = opener()  # reopening applies nothing twice and loses nothing
    assert again.schema_version == first.schema_version == 12
    assert again.stats()["images"] == 1


def test_record_is_idempotent_and_logs_changes(catalog: Catalog) -> None:
    where = Provenance("/a.png", file="/a.png", title="A")
    assert len(catalog.images.record([(where, extracted("s1"))], 1)) == 1
    assert catalog.images.record([(where, extracted("s1"))], 1) == []  # same content again: nothing new
    assert catalog.stats()["images"] == 1 and catalog.stats()["occurrences"] == 1
    assert [op for _, _, op in catalog.changes.since(0)] == ["add"]
    catalog.images.record([(Provenance("/b.png", file="/b.png"), extracted("s1"))], 1)
    [image_id] = catalog.images.ok_ids()
    assert [o.uri for o in catalog.images.occurrences([image_id])[image_id]] == ["/a.png", "/b.png"]
    assert catalog.images.remove(image_id)
    assert [op for _, _, op in catalog.changes.since(1)] == ["remove"]
    assert catalog.stats()["images"] == 0


def test_failures_are_kept_with_reasons(catalog: Catalog) -> None:
    bad = Extracted("s2", 3, failure=Failure(Reason.CORRUPT, "truncated"))
    catalog.images.record(
        [(Provenance("/bad.png"), bad), (Provenance("/x.zip"), Failure(Reason.ARCHIVE_BOMB, "ratio"))], 1
    )
    assert catalog.stats()["failures_by_reason"] == {"corrupt": 1, "archive_bomb": 1}
    assert catalog.images.known(["s2"]) == {"s2": Failure(Reason.CORRUPT, "truncated")}
    assert catalog.changes.since(0) == []  # failed images never reach an index


def test_retire_keeps_what_the_scan_saw(catalog: Catalog) -> None:
    catalog.images.record(
        [
            (Provenance("/r/keep.png", file="/r/keep.png"), extracted("k")),
            (Provenance("/r/gone.png", file="/r/gone.png"), extracted("g")),
            (Provenance("/r2/other.png", file="/r2/other.png"), extracted("o")),
            (Provenance("/r/a.zip!/m.png", file="/r/a.zip", member="m.png"), extracted("m")),
        ],
        scan_id=1,
    )
    catalog.scans.mark_seen(["/r/keep.png", "/r/a.zip"], scan_id=2)
    removed = retire_unseen(catalog, ["/r"], scan_id=2)
    assert len(removed) == 1
    assert catalog.images.ids_at("/r/gone.png") == []
    assert len(catalog.images.ids_at("/r/a.zip")) == 1  # members live while their archive does
    assert len(catalog.images.ids_at("/r2")) == 1  # other roots are untouched


def test_text_search_ranks_titles_and_falls_back_to_any_word(catalog: Catalog) -> None:
    catalog.images.record(
        [
            (Provenance("/p/one.png", title="Red dragon", tags=("fire",)), extracted("1")),
            (Provenance("/p/red_dragon_sketch.png"), extracted("2")),
            (Provenance("/p/three.png", text="a blue knight"), extracted("3")),
        ],
        1,
    )
    hits = catalog.texts.search("red dragon")
    assert hits[0][0] == 1 and len(hits) == 2  # title outweighs the path
    assert [i for i, _ in catalog.texts.search("dragon knight")] != []  # no image has both: any word
    assert catalog.texts.search("knight")[0][0] == 3
    assert catalog.texts.search('"; DROP TABLE image; --') == []  # words are quoted, never SQL
    assert catalog.stats()["images"] == 3


def test_annotate_updates_metadata_and_search(catalog: Catalog) -> None:
    catalog.images.record([(Provenance("/p/x.png"), extracted("x"))], 1)
    assert catalog.texts.annotate("/p/x.png", Provenance("/p/x.png", title="Gold ring", extra={"price": "9"}))
    assert not catalog.texts.annotate("/p/missing.png", Provenance("/p/missing.png", title="no"))
    [(image_id, _)] = catalog.texts.search("ring")
    assert catalog.images.occurrences([image_id])[image_id][0].extra == {"price": "9"}


def test_scans_list_the_latest_runs_first(catalog: Catalog) -> None:
    first = catalog.scans.begin(["/photos"])
    catalog.scans.finish(first, {"files": 3, "images_new": 2})
    second = catalog.scans.begin(["/more", "/other"])
    scans = catalog.scans.recent(limit=5)
    assert [s["id"] for s in scans] == [second, first]
    assert scans[0]["roots"] == ["/more", "/other"] and scans[0]["finished_at"] is None
    assert scans[0]["counts"] is None and scans[1]["counts"] == {"files": 3, "images_new": 2}
    assert len(catalog.scans.recent(limit=1)) == 1


def test_image_ids_are_never_reused(catalog: Catalog) -> None:
    catalog.images.record([(Provenance("/a.png"), extracted("a")), (Provenance("/b.png"), extracted("b"))], 1)
    last = max(catalog.images.ok_ids())
    assert catalog.images.remove(last)
    catalog.images.record([(Provenance("/c.png"), extracted("c"))], 1)
    assert max(catalog.images.ok_ids()) == last + 1  # the removed id stays retired


def test_concurrent_job_claims_never_share_a_job(opener: Opener) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queue = opener()
    assert queue.jobs.add("file", [(f"/f{i}.png", None) for i in range(60)]) == 60
    assert queue.jobs.add("file", [("/f0.png", None)]) == 0  # pending already: not queued twice
    workers = [opener() for _ in range(3)]  # a connection each, as separate processes have

    def drain(n: int) -> list[int]:
        taken = []
        while jobs := workers[n].jobs.claim(f"w{n}", ["file"], 4, lease=60):
            taken += [j.id for j in jobs]
            workers[n].jobs.finish([j.id for j in jobs])
        return taken

    with ThreadPoolExecutor(3) as pool:
        taken = [i for got in pool.map(drain, range(3)) for i in got]
    assert len(taken) == len(set(taken)) == 60
    assert queue.jobs.counts()["file"] == {"pending": 0, "running": 0, "done": 60, "failed": 0}
    assert queue.jobs.add("file", [("/f0.png", None)]) == 1  # a finished job can be queued again


def test_a_lease_keeps_a_job_until_it_expires(catalog: Catalog) -> None:
    catalog.jobs.add("file", [("/a.png", None), ("/b.png", None)])
    [first] = catalog.jobs.claim("w1", ["file"], 1, lease=60)
    [second] = catalog.jobs.claim("w2", ["file"], 5, lease=60)
    assert first.key == "/a.png" and second.key == "/b.png"
    assert catalog.jobs.claim("w3", ["file"], 5, lease=60) == []
    assert catalog.jobs.counts()["file"]["running"] == 2
    assert catalog.jobs.extend([first.id], "w1", 60) == 1
    assert catalog.jobs.extend([first.id], "w2", 60) == 0  # not w2's to renew
    catalog.jobs.add("file", [("/c.png", None)])
    [dead] = catalog.jobs.claim("w4", ["file"], 1, lease=0)  # its worker died: the lease is over
    [again] = catalog.jobs.claim("w5", ["file"], 1, lease=60)
    assert again.id == dead.id and again.attempts == 2


def test_a_job_taken_too_often_fails_with_its_reason(catalog: Catalog) -> None:
    catalog.jobs.add("file", [("/poison.png", None)])
    for _ in range(3):
        assert catalog.jobs.claim("w", ["file"], 1, lease=0, max_attempts=3)
    assert catalog.jobs.claim("w", ["file"], 1, lease=0, max_attempts=3) == []
    [failed] = catalog.jobs.failures()
    assert failed["key"] == "/poison.png" and "gave up after 3 attempts" in failed["last_error"]
    catalog.jobs.add("crawl", [("https://example.org/", {"follow": "x"})])
    [crawl] = catalog.jobs.pending("crawl")
    assert crawl.payload == {"follow": "x"}


def test_frontier_leases_share_urls_between_crawlers(catalog: Catalog) -> None:
    from lookalike.records import CrawlUrl

    catalog.frontier.add([CrawlUrl(f"https://e.org/{i}", "file") for i in range(5)])
    one = catalog.frontier.claim(3, lease=60)
    two = catalog.frontier.claim(3, lease=60)
    assert [u.url for u in one] == [f"https://e.org/{i}" for i in range(3)]
    assert [u.url for u in two] == ["https://e.org/3", "https://e.org/4"]
    catalog.frontier.release([one[2].url])  # left for later: the next claim takes it
    assert [u.url for u in catalog.frontier.claim(3)] == ["https://e.org/2"]
    assert [u.url for u in catalog.frontier.claim(3)] == ["https://e.org/2"]  # no lease: held by no one
    catalog.frontier.release()
    assert len(catalog.frontier.claim(9)) == 5  # ...and a release frees every lease


def test_changes_keep_their_order_across_writers(opener: Opener) -> None:
    from concurrent.futures import ThreadPoolExecutor

    writers = [opener() for _ in range(3)]

    def write(n: int) -> None:
        for i in range(10):
            writers[n].images.record([(Provenance(f"/{n}/{i}.png"), extracted(f"{n}-{i}"))], None)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(write, range(3)))
    changes = writers[0].changes.since(0)
    assert [seq for seq, _, _ in changes] == sorted(seq for seq, _, _ in changes)
    assert sorted(i for _, i, _ in changes) == writers[0].images.ok_ids()  # one add per image


def test_index_state_and_thumbnails(catalog: Catalog) -> None:
    assert catalog.index_states.get("clip.v1") == {}
    catalog.index_states.put("clip.v1", "milvus", 7, None, 3)
    catalog.index_states.put("clip.v1", "milvus", 9, "w1", 4)
    assert catalog.index_states.get("clip.v1") == {
        "backend": "milvus",
        "applied_seq": 9,
        "transform": "w1",
        "count": 4,
    }
    catalog.thumbnails.put([("s1", b"\x89PNG"), ("s1", b"other")])
    assert catalog.thumbnails.get("s1") == b"\x89PNG" and catalog.thumbnails.get("s2") is None
    with catalog.lock("clip.v1"):
        pass


def test_flags_are_kept_with_their_reason_and_counted(catalog: Catalog) -> None:
    def judged(sha: str, reason: str | None) -> Extracted:
        return Extracted(
            sha, 10, 1, 1, "GIF", "P", {"junk": (1, (reason or "").encode())}, flags={"junk": reason}
        )

    catalog.images.record(
        [
            (Provenance("/spacer.gif"), judged("a", "spacer")),
            (Provenance("/white.png"), judged("b", "blank")),
            (Provenance("/grey.png"), judged("c", "blank")),
            (Provenance("/photo.jpg"), judged("d", None)),
        ],
        1,
    )
    spacer, white, grey, photo = catalog.images.ok_ids()
    assert catalog.flags.ids(["junk"]) == {spacer, white, grey} and catalog.flags.ids([]) == set()
    assert catalog.stats()["flags"] == {"junk": {"blank": 2, "spacer": 1}}
    assert catalog.flags.of([spacer, photo]) == {spacer: {"junk": "spacer"}}
    catalog.flags.replace("junk", [(grey, None), (photo, "tiny")])  # a backfill judges again
    assert catalog.flags.counts() == {"junk": {"blank": 1, "spacer": 1, "tiny": 1}}
    assert catalog.images.remove(white)  # a removed image takes its flags along
    assert catalog.flags.ids(["junk"]) == {spacer, photo}


def test_rows_copy_between_dialects_with_their_ids(opener: Opener, tmp_path: Path) -> None:
    from lookalike.catalog.schema import TABLES

    source = Catalog(SqliteDatabase(tmp_path / "source.sqlite"))
    source.images.record(
        [(Provenance(f"/{i}.png", title=f"t{i}"), extracted(f"s{i}")) for i in range(5)], None
    )
    source.flags.replace("junk", [(4, "blank")])
    source.images.remove(2)
    target = opener()
    for table in TABLES:
        after = None
        while rows := source.rows.export(table, after, 2):
            target.rows.import_(table, rows)
            after = rows[-1][0]
    target.rows.import_("image", source.rows.export("image", None, 10))  # a second copy changes nothing
    target.rows.after_import()
    assert target.images.ok_ids() == source.images.ok_ids() == [1, 3, 4, 5]
    assert target.changes.since(0) == source.changes.since(0)
    assert target.features.get("sig", 1, [1, 5]) == source.features.get("sig", 1, [1, 5])
    assert target.flags.counts() == source.flags.counts() == {"junk": {"blank": 1}}
    assert [i for i, _ in target.texts.search("t4")] == [5]  # /4.png, the fifth image
    target.images.record([(Provenance("/new.png"), extracted("new"))], None)
    assert max(target.images.ok_ids()) == 6  # new ids follow the copied ones


def test_an_older_sqlite_catalog_is_upgraded_in_place(tmp_path: Path) -> None:
    from lookalike.catalog.schema import migrations

    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    for number, script in migrations("sqlite")[:3]:  # a catalog made before the job queue existed
        old.executescript(f"{script}\nPRAGMA user_version = {number};")
    old.execute("INSERT INTO image(sha256, bytes, status, added_at) VALUES ('s', 1, 'ok', 0)")
    old.execute(
        "INSERT INTO occurrence(uri, image_id, status, seen_at, title) VALUES ('/a.png', 1, 'ok', 0, 'Gold')"
    )
    old.commit()
    old.close()
    catalog = Catalog(SqliteDatabase(path))
    assert catalog.schema_version == len(migrations("sqlite")) == 12
    assert catalog.images.ok_ids() == [1] and catalog.texts.search("gold")[0][0] == 1
    assert catalog.jobs.add("file", [("/b.png", None)]) == 1
