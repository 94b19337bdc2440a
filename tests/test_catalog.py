from __future__ import annotations

import sqlite3
from pathlib import Path

from lookalike.catalog import SqliteCatalog
from lookalike.errors import Reason
from lookalike.records import Extracted, Failure, Provenance


def extracted(sha: str, payload: bytes = b"\x01" * 8) -> Extracted:
    return Extracted(sha, 10, 4, 4, "PNG", "RGB", {"sig": (1, payload)})


def test_migrations_run_once_and_use_wal(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    assert catalog.schema_version >= 1
    catalog.close()
    again = SqliteCatalog(tmp_path / "c.sqlite")  # reopening applies nothing twice
    assert again.schema_version >= 1
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_record_is_idempotent_and_logs_changes(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    where = Provenance("/a.png", file="/a.png", title="A")
    assert len(catalog.record([(where, extracted("s1"))], 1)) == 1
    assert catalog.record([(where, extracted("s1"))], 1) == []  # same content again: nothing new
    assert catalog.stats()["images"] == 1 and catalog.stats()["occurrences"] == 1
    assert [op for _, _, op in catalog.changes_since(0)] == ["add"]
    catalog.record([(Provenance("/b.png", file="/b.png"), extracted("s1"))], 1)
    [image_id] = catalog.ok_image_ids()
    assert [o.uri for o in catalog.occurrences([image_id])[image_id]] == ["/a.png", "/b.png"]
    assert catalog.remove_image(image_id)
    assert [op for _, _, op in catalog.changes_since(1)] == ["remove"]
    assert catalog.stats()["images"] == 0


def test_failures_are_kept_with_reasons(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    bad = Extracted("s2", 3, failure=Failure(Reason.CORRUPT, "truncated"))
    catalog.record(
        [(Provenance("/bad.png"), bad), (Provenance("/x.zip"), Failure(Reason.ARCHIVE_BOMB, "ratio"))], 1
    )
    assert catalog.stats()["failures_by_reason"] == {"corrupt": 1, "archive_bomb": 1}
    assert catalog.known_images(["s2"]) == {"s2": Failure(Reason.CORRUPT, "truncated")}
    assert catalog.changes_since(0) == []  # failed images never reach an index


def test_retire_keeps_what_the_scan_saw(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    catalog.record(
        [
            (Provenance("/r/keep.png", file="/r/keep.png"), extracted("k")),
            (Provenance("/r/gone.png", file="/r/gone.png"), extracted("g")),
            (Provenance("/r2/other.png", file="/r2/other.png"), extracted("o")),
            (Provenance("/r/a.zip!/m.png", file="/r/a.zip", member="m.png"), extracted("m")),
        ],
        scan_id=1,
    )
    catalog.mark_files_seen(["/r/keep.png", "/r/a.zip"], scan_id=2)
    removed = catalog.retire(["/r"], scan_id=2)
    assert len(removed) == 1
    assert catalog.image_ids_at("/r/gone.png") == []
    assert len(catalog.image_ids_at("/r/a.zip")) == 1  # members live while their archive does
    assert len(catalog.image_ids_at("/r2")) == 1  # other roots are untouched


def test_text_search_ranks_titles_and_falls_back_to_any_word(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    catalog.record(
        [
            (Provenance("/p/one.png", title="Red dragon", tags=("fire",)), extracted("1")),
            (Provenance("/p/red_dragon_sketch.png"), extracted("2")),
            (Provenance("/p/three.png", text="a blue knight"), extracted("3")),
        ],
        1,
    )
    hits = catalog.text_search("red dragon")
    assert hits[0][0] == 1 and len(hits) == 2  # title outweighs the path
    assert [i for i, _ in catalog.text_search("dragon knight")] != []  # no image has both: any word
    assert catalog.text_search("knight")[0][0] == 3
    assert catalog.text_search('"; DROP TABLE image; --') == []  # words are quoted, never SQL
    assert catalog.stats()["images"] == 3


def test_annotate_updates_metadata_and_search(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    catalog.record([(Provenance("/p/x.png"), extracted("x"))], 1)
    assert catalog.annotate("/p/x.png", Provenance("/p/x.png", title="Gold ring", extra={"price": "9"}))
    assert not catalog.annotate("/p/missing.png", Provenance("/p/missing.png", title="no"))
    [(image_id, _)] = catalog.text_search("ring")
    assert catalog.occurrences([image_id])[image_id][0].extra == {"price": "9"}


def test_scans_list_the_latest_runs_first(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    first = catalog.begin_scan(["/photos"])
    catalog.finish_scan(first, {"files": 3, "images_new": 2})
    second = catalog.begin_scan(["/more", "/other"])
    scans = catalog.scans(limit=5)
    assert [s["id"] for s in scans] == [second, first]
    assert scans[0]["roots"] == ["/more", "/other"] and scans[0]["finished_at"] is None
    assert scans[0]["counts"] is None and scans[1]["counts"] == {"files": 3, "images_new": 2}
    assert len(catalog.scans(limit=1)) == 1


def test_image_ids_are_never_reused(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    catalog.record([(Provenance("/a.png"), extracted("a")), (Provenance("/b.png"), extracted("b"))], 1)
    last = max(catalog.ok_image_ids())
    assert catalog.remove_image(last)
    catalog.record([(Provenance("/c.png"), extracted("c"))], 1)
    assert max(catalog.ok_image_ids()) == last + 1  # the removed id stays retired
