"""Looking after a collection: remove, rebuild (the same answers as a fresh index), info and stats."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lookalike
from lookalike.collection import Collection

from conftest import DEFAULT_SIGNALS, global_only, photo

N = 6


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "photos"
    (made / "sub").mkdir(parents=True)
    for seed in range(N):
        photo(seed, (128, 96)).save(made / ("sub" if seed >= 4 else "") / f"p{seed}.png")
    return made


def open_data(home: Path) -> Collection:
    return lookalike.open(home, ingest={"workers": 1})


def answers(collection: Collection, folder: Path) -> list[list[tuple[int, float]]]:
    return [
        [(r.image_id, round(r.score, 6)) for r in collection.search(path, k=N, collapse=False)]
        for path in sorted(folder.rglob("*.png"))
    ]


def id_of(collection: Collection, path: Path) -> int:
    return collection.catalog.images.ids_at(str(path.resolve()))[0]


def test_remove_by_id(tmp_path: Path, folder: Path) -> None:
    with open_data(tmp_path / "data") as collection:
        collection.index([folder])
        target = id_of(collection, folder / "p2.png")
        assert collection.remove(target) == [target]
        assert collection.stats()["images"] == N - 1
        assert collection.stats()["indexes"]["phash"]["vectors"] == N - 1
        assert target not in [r.image_id for r in collection.search(folder / "p2.png", k=N, collapse=False)]
        with pytest.raises(lookalike.NotFoundError):
            collection.remove(target)
        with pytest.raises(lookalike.NotFoundError):
            collection.info(target)


def test_remove_a_folder_removes_everything_under_it(tmp_path: Path, folder: Path) -> None:
    with open_data(tmp_path / "data") as collection:
        collection.index([folder])
        under = sorted(id_of(collection, folder / "sub" / f"p{s}.png") for s in (4, 5))
        assert sorted(collection.remove(str(folder / "sub"))) == under
        assert collection.stats()["images"] == N - 2 and collection.stats()["occurrences"] == N - 2
        with pytest.raises(lookalike.NotFoundError):
            collection.remove(str(folder / "sub"))
        again = collection.index([folder])  # the files are still there: a new scan brings them back
        assert again.images_new == 2 and again.unchanged == N - 2
        assert not set(collection.catalog.images.ok_ids()) & set(under)  # ids are never reused


def test_rebuild_gives_the_answers_of_the_indexes_it_replaces(tmp_path: Path, folder: Path) -> None:
    with open_data(tmp_path / "data") as collection:
        collection.index([folder])
        collection.remove(id_of(collection, folder / "p1.png"))  # removals are kept by a rebuild too
        before = answers(collection, folder)
        rebuilt = collection.rebuild()
        assert global_only(rebuilt) == {"phash": N - 1, "colour": N - 1}
        assert answers(collection, folder) == before


def test_indexes_made_afresh_from_the_catalog_answer_alike(tmp_path: Path, folder: Path) -> None:
    with open_data(tmp_path / "data") as collection:
        collection.index([folder])
        before = answers(collection, folder)
    shutil.rmtree(tmp_path / "data" / "indexes")  # derived data: lost, then rebuilt from the features
    with open_data(tmp_path / "data") as collection:
        assert answers(collection, folder) == before
        assert collection.stats()["indexes"]["phash"]["vectors"] == N
    fresh = tmp_path / "fresh"
    with open_data(fresh) as other:  # an index of the same files made from nothing
        other.index([folder])
        assert answers(other, folder) == before


def test_info_has_the_facts_the_places_and_the_features(tmp_path: Path, folder: Path) -> None:
    (folder / "again.png").write_bytes((folder / "p0.png").read_bytes())
    with open_data(tmp_path / "data") as collection:
        collection.index([folder])
        image_id = id_of(collection, folder / "p0.png")
        info = collection.info(image_id)
        assert info["image"]["id"] == image_id and (info["image"]["width"], info["image"]["height"]) == (
            128,
            96,
        )
        assert info["image"]["format"] == "PNG" and info["image"]["status"] == "ok"
        assert info["image"]["bytes"] == (folder / "p0.png").stat().st_size
        assert sorted(Path(o["uri"]).name for o in info["occurrences"]) == ["again.png", "p0.png"]
        assert info["features"] == dict.fromkeys(DEFAULT_SIGNALS, 1)
        assert "texts" not in info  # no text signal read anything


def test_stats_count_images_failures_indexes_and_disk(tmp_path: Path, folder: Path) -> None:
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with open_data(tmp_path / "data") as collection:
        report = collection.index([folder])
        stats = collection.stats()
        assert (stats["images"], stats["occurrences"], stats["failed"]) == (N, N, 1)
        assert stats["failures_by_reason"] == {"corrupt": 1}
        assert stats["features"] == dict.fromkeys(DEFAULT_SIGNALS, N)
        vectors = {name: i["vectors"] for name, i in stats["indexes"].items()}
        assert global_only(vectors) == {"phash": N, "colour": N}
        assert stats["last_change"] == N
        assert stats["last_scan"]["counts"] and str(report.images_new) in stats["last_scan"]["counts"]
        assert stats["disk_bytes"] >= stats["catalog_bytes"] > 0
        assert stats["home"] == str((tmp_path / "data").resolve()) and stats["catalog"].startswith("SQLite")
        assert "jobs" not in stats  # no queue used
        collection.enqueue([folder / "p0.png"])
        assert collection.stats()["jobs"]["file"]["pending"] == 1
