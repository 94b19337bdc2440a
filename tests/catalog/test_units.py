"""The catalog's unit of work on SQLite and PostgreSQL: one transaction across repositories,
nested blocks that join it, the texts repository, and backend failures as BackendError."""

from __future__ import annotations

from pathlib import Path

import pytest

import lookalike
from lookalike.catalog import Catalog, open_catalog
from lookalike.errors import BackendError
from lookalike.records import Provenance, TextField

from catalogs import Opener, extracted


def record(catalog: Catalog, uri: str, sha: str, **meta: object) -> int:
    catalog.images.record([(Provenance(uri, file=uri, **meta), extracted(sha))], 1)  # type: ignore[arg-type]
    return catalog.images.ids_at(uri)[0]


# ---- the unit of work ---------------------------------------------------------------------


def test_a_failed_unit_of_work_rolls_back_every_repository(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError, match="stop"), catalog.transaction():
        catalog.images.record([(Provenance("/a.png", file="/a.png"), extracted("a"))], 1)
        catalog.jobs.add("file", [("/queued.png", None)])
        catalog.scans.files_done([("/a.png", 10, 1.0)], 1)
        raise RuntimeError("stop")
    assert catalog.stats()["images"] == 0 and catalog.stats()["occurrences"] == 0
    assert catalog.changes.since(0) == [] and catalog.features.by_signal() == {}
    assert not catalog.jobs.left()
    assert not catalog.scans.unchanged("/a.png", 10, 1.0)


def test_a_unit_of_work_commits_every_repository_together(catalog: Catalog, opener: Opener) -> None:
    other = opener()
    with catalog.transaction():
        catalog.images.record([(Provenance("/a.png", file="/a.png"), extracted("a"))], 1)
        catalog.jobs.add("file", [("/queued.png", None)])
        assert other.stats()["images"] == 0 and not other.jobs.left()  # not visible before the commit
    assert other.stats()["images"] == 1 and other.jobs.left()
    assert [op for _, _, op in other.changes.since(0)] == ["add"]


def test_a_nested_transaction_joins_the_outer_one(catalog: Catalog, opener: Opener) -> None:
    other = opener()
    with catalog.transaction() as outer:
        with catalog.transaction() as inner:
            assert inner is outer
            catalog.jobs.add("file", [("/one.png", None)])
        assert not other.jobs.left()  # the inner block's end commits nothing
    assert other.jobs.left()


def test_an_error_in_a_nested_block_rolls_back_the_outer_writes(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="inner"), catalog.transaction():
        catalog.jobs.add("file", [("/outer.png", None)])
        with catalog.transaction():
            catalog.images.record([(Provenance("/b.png"), extracted("b"))], 1)
            raise ValueError("inner")
    assert not catalog.jobs.left() and catalog.stats()["images"] == 0
    with catalog.transaction():  # the catalog is usable after it
        catalog.jobs.add("file", [("/after.png", None)])
    assert catalog.jobs.left()


def test_a_failing_statement_is_a_backend_error_and_rolls_back(catalog: Catalog) -> None:
    with pytest.raises(BackendError), catalog.transaction() as tx:
        catalog.jobs.add("file", [("/x.png", None)])
        tx.execute("INSERT INTO no_such_table VALUES (?)", (1,))
    assert not catalog.jobs.left()
    assert catalog.stats()["images"] == 0  # the connection still works


# ---- texts -----------------------------------------------------------------------------


def test_annotate_sets_metadata_on_known_places_only(catalog: Catalog) -> None:
    image_id = record(catalog, "/p/a.png", "a")
    assert catalog.texts.annotate(
        "/p/a.png", Provenance("/p/a.png", title="Harbour at dawn", tags=("boats",))
    )
    assert not catalog.texts.annotate("/p/missing.png", Provenance("/p/missing.png", title="nothing"))
    [place] = catalog.images.occurrences([image_id])[image_id]
    assert place.title == "Harbour at dawn" and place.tags == ("boats",)
    found = catalog.texts.annotate_many(
        [("/p/a.png", Provenance("/p/a.png", text="fishing")), ("/nope", Provenance("/nope", text="x"))]
    )
    assert found == {"/p/a.png"}
    [place] = catalog.images.occurrences([image_id])[image_id]
    assert place.title == "Harbour at dawn" and place.text == "fishing"  # unset fields keep their value
    assert [i for i, _ in catalog.texts.search("harbour")] == [image_id]


def test_annotate_counts_the_places_it_changed(catalog: Catalog) -> None:
    record(catalog, "/p/a.png", "a")
    record(catalog, "/p/b.png", "b", title="Old mill")
    sidecar = [
        ("/p/a.png", Provenance("/p/a.png", title="Red kite", tags=("bird", "sky"), extra={"price": "9"})),
        ("/p/b.png", Provenance("/p/b.png", title="Old mill")),  # already so
        ("/nope", Provenance("/nope", title="x")),
    ]
    assert catalog.texts.annotate_changes(sidecar) == ({"/p/a.png", "/p/b.png"}, 1)
    assert catalog.texts.annotate_changes(sidecar) == ({"/p/a.png", "/p/b.png"}, 0)  # the same again
    changed = [("/p/b.png", Provenance("/p/b.png", text="by the river"))]
    assert catalog.texts.annotate_changes(changed) == ({"/p/b.png"}, 1)


def test_put_replace_and_of(catalog: Catalog) -> None:
    image_id = record(catalog, "/p/a.png", "a")
    with catalog.transaction() as tx:
        catalog.texts.put(
            tx, image_id, "ocr", [TextField("line", "OPEN DAILY", 0.9), TextField("line", "  ", 0.5)]
        )
        catalog.texts.put(tx, image_id, "tags", [TextField("tag", "shop", 0.7)])
    assert catalog.texts.of(image_id) == [
        ("ocr", TextField("line", "OPEN DAILY", 0.9)),  # blank text is not kept
        ("tags", TextField("tag", "shop", 0.7)),
    ]
    catalog.texts.replace(image_id, "ocr", [TextField("line", "CLOSED", 0.8)])
    assert catalog.texts.of(image_id) == [
        ("tags", TextField("tag", "shop", 0.7)),
        ("ocr", TextField("line", "CLOSED", 0.8)),
    ]
    assert catalog.texts.of(image_id + 100) == []


def test_read_texts_are_found_by_keyword_and_replaced_ones_are_not(catalog: Catalog) -> None:
    first = record(catalog, "/p/a.png", "a")
    second = record(catalog, "/p/b.png", "b")
    catalog.texts.replace(first, "ocr", [TextField("line", "lighthouse keeper", 1.0)])
    catalog.texts.replace(second, "ocr", [TextField("line", "mountain", 1.0)])
    assert [i for i, _ in catalog.texts.search("lighthouse")] == [first]
    catalog.texts.replace(first, "ocr", [TextField("line", "mountain", 1.0)])
    assert catalog.texts.search("lighthouse") == []
    assert {i for i, _ in catalog.texts.search("mountain")} == {first, second}


def test_texts_written_in_a_failed_unit_of_work_are_gone(catalog: Catalog) -> None:
    image_id = record(catalog, "/p/a.png", "a")
    with pytest.raises(RuntimeError), catalog.transaction() as tx:
        catalog.texts.put(tx, image_id, "ocr", [TextField("line", "ghost", 1.0)])
        catalog.texts.annotate("/p/a.png", Provenance("/p/a.png", title="ghost title"))
        raise RuntimeError
    assert catalog.texts.of(image_id) == [] and catalog.texts.search("ghost") == []


# ---- backend failures ---------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_a_backend_error(tmp_path: Path) -> None:
    (tmp_path / "c.sqlite").write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(BackendError, match=r"c\.sqlite"):
        open_catalog(str(tmp_path / "c.sqlite"), tmp_path)
    with pytest.raises(BackendError):
        lookalike.open(tmp_path / "data", catalog=str(tmp_path / "c.sqlite"))


def test_a_catalog_in_a_missing_folder_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError):
        open_catalog(str(tmp_path / "no" / "such" / "c.sqlite"), tmp_path)


def test_an_unreachable_postgresql_is_a_backend_error(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://someone:secret@127.0.0.1:1/nothing"  # nothing listens on port 1
    with pytest.raises(BackendError, match="cannot connect") as raised:
        open_catalog(url, tmp_path)
    assert "secret" not in str(raised.value)  # the message hides the password


def test_a_lost_postgresql_connection_is_a_backend_error_then_reconnects(
    postgres_url: str, tmp_path: Path
) -> None:
    import psycopg

    catalog = open_catalog(postgres_url, tmp_path)
    try:
        record(catalog, "/p/a.png", "a")
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(BackendError):
            catalog.stats()
        assert catalog.stats()["images"] == 1  # the next call connects again
    finally:
        catalog.close()


def test_read_words_form_a_vocabulary_for_typos_with_boxes_kept(catalog: Catalog) -> None:
    image_id = record(catalog, "/p/sign.png", "s" * 64)
    box = (0.1, 0.2, 0.5, 0.2, 0.5, 0.3, 0.1, 0.3)
    catalog.texts.replace(image_id, "ocr", [TextField("line", "Dragon Castle, level 42", 0.9, box)])
    catalog.texts.replace(
        image_id, "ocr", [TextField("line", "Dragon Castle", 0.9, box)]
    )  # replaced, words kept
    [(signal, field)] = catalog.texts.of(image_id)
    assert signal == "ocr" and field.box == box and field.text == "Dragon Castle"
    assert catalog.texts.of_many([image_id, 999]) == {image_id: [("ocr", field)]}
    assert catalog.texts.known_words(["dragon", "castle", "knight", "42"]) == {"dragon", "castle"}
    assert catalog.texts.near_words("dargon", 2) == [("dragon", 1)]  # a swap is one edit
    assert catalog.texts.near_words("castel", 1) == [("castle", 1)]
    assert catalog.texts.near_words("knight", 2) == []
    assert [i for i, _ in catalog.texts.search("castle")] == [image_id]


def test_a_word_with_alternatives_matches_any_of_them_and_the_other_words_still_must(
    catalog: Catalog,
) -> None:
    base = record(catalog, "/p/base.png", "b" * 64)
    basket = record(catalog, "/p/basket.png", "c" * 64)
    other = record(catalog, "/p/other.png", "d" * 64)
    catalog.texts.replace(base, "ocr", [TextField("line", "red base", 0.9)])
    catalog.texts.replace(basket, "ocr", [TextField("line", "red basket", 0.9)])
    catalog.texts.replace(other, "ocr", [TextField("line", "blue basket", 0.9)])
    assert catalog.texts.near_words("baset", 1) == [("base", 1), ("basket", 1)]
    assert catalog.texts.search("baset") == []
    either = {"baset": ["base", "basket"]}
    assert {i for i, _ in catalog.texts.search("red baset", alternatives=either)} == {base, basket}
    assert {i for i, _ in catalog.texts.search("baset", alternatives=either)} == {base, basket, other}
