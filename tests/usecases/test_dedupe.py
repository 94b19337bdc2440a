"""Acting on duplicates: a dry run first, then move, link or trash, each undone from its log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lookalike
from lookalike.cli.main import app

from conftest import encode, photo, zip_of


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """Two photos, each kept as a PNG with a JPEG copy beside it; one more copy inside a zip."""
    root = tmp_path / "library"
    (root / "sub").mkdir(parents=True)
    for seed in (1, 2):
        image = photo(seed, (240, 180))
        image.save(root / f"p{seed}.png")
        image.save(root / "sub" / f"p{seed}-copy.jpg", quality=85)
    (root / "old.zip").write_bytes(zip_of({"p1-zipped.jpg": encode(photo(1, (240, 180)), "JPEG")}))
    return root


def run(*args: str, data: Path) -> dict:
    result = CliRunner().invoke(app, ["dupes", *args, "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def names(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_a_dry_run_touches_nothing_and_skips_archives(library: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with lookalike.open(data, ingest={"workers": 1}) as c:
        c.index([library])
    before = names(library)
    planned = run("--move-to", str(tmp_path / "dupes"), data=data)
    assert planned["files"] == 2 and not planned["applied"] and names(library) == before
    assert {Path(a["source"]).name for a in planned["actions"]} == {"p1-copy.jpg", "p2-copy.jpg"}
    assert {Path(a["keep"]).name for a in planned["actions"]} == {"p1.png", "p2.png"}  # lossless kept
    [skipped] = planned["skipped"]
    assert "p1-zipped.jpg" in skipped["location"] and "archives are never changed" in skipped["why"]


def test_moved_duplicates_leave_the_collection_and_come_back_on_undo(library: Path, tmp_path: Path) -> None:
    data, moved = tmp_path / "data", tmp_path / "dupes"
    with lookalike.open(data, ingest={"workers": 1}) as c:
        c.index([library])
        images = c.stats()["images"]
    done = run("--move-to", str(moved), "--apply", "--yes", data=data)
    assert done["done"] == 2 and not done["failed"]
    assert names(moved) == {"library/sub/p1-copy.jpg", "library/sub/p2-copy.jpg"}  # the layout kept
    assert not (library / "sub" / "p1-copy.jpg").exists()
    with lookalike.open(data, ingest={"workers": 1}) as c:
        assert c.stats()["images"] == images - 2  # the moved copies are no longer in the collection
    undone = CliRunner().invoke(app, ["dupes", "--undo", done["undo_log"], "--data", str(data), "--json"])
    assert json.loads(undone.stdout) == {"restored": 2, "failed": []}
    assert (library / "sub" / "p1-copy.jpg").is_file() and not list(moved.rglob("*.jpg"))
    with lookalike.open(data, ingest={"workers": 1}) as c:
        assert c.stats()["images"] == images  # indexed again


def test_linked_duplicates_become_the_kept_file(library: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with lookalike.open(data, ingest={"workers": 1}) as c:
        c.index([library])
    done = run("--link", "hard", "--apply", "--yes", data=data)
    assert done["done"] == 2
    copy, kept = library / "sub" / "p1-copy.jpg", library / "p1.png"
    assert copy.stat().st_ino == kept.stat().st_ino  # one file, two names
    with lookalike.open(data, ingest={"workers": 1}) as c:
        assert c.catalog.images.ids_at(str(copy)) == c.catalog.images.ids_at(str(kept))
    run("--undo", done["undo_log"], data=data)
    assert copy.stat().st_ino != kept.stat().st_ino and copy.read_bytes()[:2] == b"\xff\xd8"  # the JPEG again


def test_deleted_duplicates_go_to_the_trash_and_back(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    data = tmp_path / "data"
    with lookalike.open(data, ingest={"workers": 1}) as c:
        c.index([library])
    done = run("--delete", "--apply", "--yes", data=data)
    trash = tmp_path / "share" / "Trash"
    assert names(trash / "files") == {"p1-copy.jpg", "p2-copy.jpg"}
    info = (trash / "info" / "p1-copy.jpg.trashinfo").read_text()
    assert f"Path={(library / 'sub' / 'p1-copy.jpg').resolve()}" in info
    run("--undo", done["undo_log"], data=data)
    assert (
        (library / "sub" / "p1-copy.jpg").is_file()
        and not names(trash / "files")
        and not names(trash / "info")
    )


def test_one_action_at_a_time_and_a_question_before_acting(library: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with lookalike.open(data, ingest={"workers": 1}) as c:
        c.index([library])
    both = CliRunner().invoke(app, ["dupes", "--delete", "--link", "hard", "--data", str(data)])
    assert both.exit_code == 2 and "choose one" in both.output
    declined = CliRunner().invoke(app, ["dupes", "--delete", "--apply", "--data", str(data)], input="n\n")
    assert declined.exit_code == 1 and (library / "sub" / "p1-copy.jpg").is_file()
