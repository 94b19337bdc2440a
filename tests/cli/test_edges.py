"""The CLI's rough edges, filed off: no collection made by a command that only reads, counts
that add up, every place of every result when piped and in JSON, folders named where an image
belongs, sidecars found beside the images, dupes summed up, info readable, and ``--in DIR``."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from lookalike.cli import render
from lookalike.cli.main import app

from conftest import photo

runner = CliRunner()
QUIET = {"LOOKALIKE_INGEST__WORKERS": "1", "LOOKALIKE_HOME": None}


def run(*args: str, code: int = 0, **env: str) -> tuple[str, str]:
    """Standard output, and standard error with its lines joined (rich wraps at 80 columns)."""
    result = runner.invoke(app, list(args), env={**QUIET, **env})
    assert result.exit_code == code, result.output
    return result.stdout, " ".join(result.stderr.split())


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Four photos, a smaller copy of the first, and a second place of the same bytes."""
    folder = tmp_path / "shots"
    (folder / "again").mkdir(parents=True)
    for seed in range(4):
        photo(seed).save(folder / f"p{seed}.png")
    photo(0).save(folder / "again" / "p0.png")
    photo(0).resize((200, 150)).save(folder / "p0-small.png")
    return folder


# ---- 1: only the commands that write make a collection ----------------------------------


def test_reading_commands_need_a_collection(
    tmp_path: Path, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in (["search", str(shots / "p1.png")], ["similar", "1"], ["info", "1"], ["stats"], ["dupes"]):
        _, said = run(*command, code=2)
        assert "no collection at ./lookalike-data (use --data DIR or LOOKALIKE_HOME)" in said
    run("serve", code=2)
    run("search", "--text", "x", "--data", str(tmp_path / "elsewhere"), code=2)
    assert not (tmp_path / "lookalike-data").exists() and not (tmp_path / "elsewhere").exists()
    run("index", str(shots))  # a command that writes makes it
    assert run("stats", "--json")[0] and (tmp_path / "lookalike-data" / "catalog.sqlite").is_file()


def test_serve_says_when_the_collection_is_empty(
    tmp_path: Path, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append(app))
    empty = tmp_path / "empty"
    empty.mkdir()
    run("index", str(empty), "--data", str(tmp_path / "data"))
    _, said = run("serve", "--data", str(tmp_path / "data"))
    assert served and "The collection is empty" in said and "lookalike index" in said


def test_the_page_of_an_empty_collection_says_how_to_fill_it(tmp_path: Path, shots: Path) -> None:
    pytest.importorskip("fastapi")
    import lookalike
    from lookalike.api import create_app

    from asgi_client import serving

    with lookalike.open(tmp_path / "data") as empty, serving(create_app(empty)) as client:
        assert "The collection is empty" in client.get("/").text
        empty.index([shots])
        assert "The collection is empty" not in client.get("/").text


# ---- 3: every place of every result, piped and in JSON -----------------------------------


def test_piped_and_json_results_hold_every_place(tmp_path: Path, shots: Path) -> None:
    data = str(tmp_path / "data")
    run("index", str(shots), "--data", data)
    out, _ = run("search", str(shots / "p0.png"), "--data", data)
    rows = [line.split("\t") for line in out.splitlines()]
    assert all(len(row) == 4 for row in rows)
    places = {(Path(row[1]).relative_to(shots).as_posix(), row[3]) for row in rows}
    assert places == {("p0.png", "result"), ("again/p0.png", "result"), ("p0-small.png", "folded")}
    [result] = json.loads(run("search", str(shots / "p0.png"), "--data", data, "--json")[0])[:1]
    [member] = result["collapsed_members"]
    assert result["collapsed"] == [member["id"]]
    assert member["id"] == int(next(row[2] for row in rows if row[3] == "folded"))
    assert member["match"]["tier"] == "copy" and 0.5 < member["score"] <= 1
    assert [Path(o["uri"]).name for o in member["occurrences"]] == ["p0-small.png"]


# ---- 4: a folder where an image belongs; a missing path among others ---------------------


def test_a_folder_is_not_an_image_and_missing_paths_do_not_stop_the_rest(tmp_path: Path, shots: Path) -> None:
    data = str(tmp_path / "data")
    _, said = run("search", str(shots), "--data", data, code=2)
    assert "is a folder; search takes one image" in said and "--in" in said
    out, said = run("index", str(shots), str(tmp_path / "nope"), "--data", data, "--json", code=1)
    assert json.loads(out)["images_new"] == 5 and json.loads(out)["missing"] == [str(tmp_path / "nope")]
    assert "no such file or folder" in said and "nope" in said
    run("index", str(tmp_path / "nope"), "--data", data, code=1)


# ---- 5: every file counted, every format Pillow decodes safely ---------------------------


def test_every_file_is_counted_and_netpbm_targa_icons_are_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    for seed, name in enumerate(["a.ppm", "b.tga", "c.ico", "d.pcx", "e.qoi", "f.sgi", "g.dds"]):
        photo(seed, (64, 48)).save(folder / name)
    photo(8, (64, 48)).convert("L").save(folder / "h.pgm")
    photo(9, (64, 48)).convert("1").save(folder / "i.pbm")
    (folder / "notes.txt").write_text("not an image")
    (folder / "meta.json").write_text("{}")
    (folder / "broken.ppm").write_bytes(b"P6\n64 48\n255\n" + b"\x00" * 10)
    data = str(tmp_path / "data")
    report = json.loads(run("index", str(folder), "--data", data, "--json")[0])
    assert report["files"] == 12 and report["not_images"] == 2 and report["files_read"] == 10
    assert report["images_new"] == 9 and report["failed"] == 1
    assert report["files"] == report["unchanged"] + report["not_images"] + report["files_read"]
    again = json.loads(run("index", str(folder), "--data", data, "--json")[0])
    assert again["files"] == again["unchanged"] == 12
    out, _ = run("index", str(folder), "--data", data)
    assert "12 files: 0 read, 12 unchanged (skipped), 0 not images (skipped)" in " ".join(out.split())
    images = [json.loads(run("info", str(i), "--data", data, "--json")[0])["image"] for i in range(1, 11)]
    assert {i["format"] for i in images if i["status"] == "ok"} == {
        "PPM",
        "TGA",
        "ICO",
        "PCX",
        "QOI",
        "SGI",
        "DDS",
    }


# ---- 6: a sidecar beside the images --------------------------------------------------------


def test_a_sidecar_beside_the_images_is_applied_and_says_what_it_changed(tmp_path: Path, shots: Path) -> None:
    lines = [
        {"path": "p1.png", "title": "Red kite", "tags": ["bird", "sky"]},
        {"path": "p2.png", "title": "Old mill"},
    ]
    (shots / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    data = str(tmp_path / "data")
    out, _ = run("index", str(shots), "--data", data)
    assert f"metadata from {shots / 'metadata.jsonl'}" in out
    assert "metadata: changed 2 of the 2 places it describes" in out
    assert run("search", "--text", "kite", "--data", data)[0].split("\t")[1] == str(shots / "p1.png")
    again = json.loads(run("index", str(shots), "--data", data, "--json")[0])
    assert again["metadata_changed"] == 0 and again["metadata_matched"] == 2
    lines[1]["title"] = "New mill"
    own = tmp_path / "own.jsonl"
    own.write_text("".join(json.dumps({**line, "path": str(shots / line["path"])}) + "\n" for line in lines))
    third = json.loads(run("index", str(shots), "--metadata", str(own), "--data", data, "--json")[0])
    assert third["metadata"] == [str(own)] and third["metadata_changed"] == 1


# ---- 7: dupes sum up ---------------------------------------------------------------------


def test_dupes_says_how_many_groups_files_and_bytes(tmp_path: Path, shots: Path) -> None:
    data = str(tmp_path / "data")
    run("index", str(shots), "--data", data)
    out, said = run("dupes", "--data", data)
    assert len(out.splitlines()) == 3 and "1 groups, 3 files, 2 to remove" in said and "MB" in said


# ---- 8: info reads like metadata, not Python -----------------------------------------------


def test_info_prints_lists_and_nested_fields_readably(tmp_path: Path, shots: Path) -> None:
    line = {"path": "p1.png", "tags": ["bird", "sky"], "shop": {"price": "9", "currency": "EUR"}}
    line |= {"sha256": "abc", "bytes": 123, "flickr_photo_id": "77", "licence": "CC0"}
    (shots / "metadata.jsonl").write_text(json.dumps(line) + "\n")
    data = str(tmp_path / "data")
    run("index", str(shots), "--data", data)
    [found] = [r for r in json.loads(run("search", "--text", "bird", "--data", data, "--json")[0])]
    out, _ = run("info", str(found["id"]), "--data", data)
    assert "    tags: bird, sky" in out and "    licence: CC0" in out
    assert "    shop:\n      price: 9\n      currency: EUR" in out
    assert "('bird'" not in out and "{" not in out  # no tuple or dict reprs
    assert "sha256: abc" not in out and "bytes: 123" not in out and "photo_id" not in out


def test_the_results_table_shows_metadata_readably(
    tmp_path: Path, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = {"path": "p1.png", "title": "Red kite", "tags": ["bird"], "flickr_photo_id": "77", "id": 5}
    line |= {"sizes": ["s", "m"], "licence": "CC0"}
    (shots / "metadata.jsonl").write_text(json.dumps(line) + "\n")
    data = str(tmp_path / "data")
    run("index", str(shots), "--data", data)
    out = io.StringIO()  # the table a terminal gets (CliRunner's output is piped)
    monkeypatch.setattr(
        render, "console", Console(file=out, force_terminal=True, width=200, color_system=None)
    )
    run("search", "--text", "kite", "--data", data)
    shown = " ".join(out.getvalue().split())
    assert "sizes=s, m" in shown and "licence=CC0" in shown
    assert "['s'" not in shown and "photo_id" not in shown and "id=5" not in shown


# ---- 9: search inside a folder -------------------------------------------------------------


def test_search_in_a_folder_indexes_it_into_a_cache_once(
    tmp_path: Path, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the folder --data defaults to must stay absent: not the caller's own
    cache = tmp_path / "cache"
    env = {"LOOKALIKE_SEARCH__FOLDER_CACHE": str(cache)}
    out, said = run("search", str(shots / "p2.png"), "--in", str(shots), **env)
    assert Path(out.splitlines()[0].split("\t")[1]) == shots / "p2.png"
    assert "6 files, 5 new images" in said
    [home] = list(cache.iterdir())
    assert (home / "FOLDER").read_text().strip() == str(shots.resolve())
    photo(7).save(shots / "p7.png")
    found = json.loads(run("search", str(shots / "p7.png"), "--in", str(shots), "--json", **env)[0])
    assert Path(found[0]["occurrences"][0]["uri"]).name == "p7.png"
    _, said = run("search", "--text", "p3", "--in", str(shots), **env)
    assert "7 files, 0 new images, 7 unchanged" in said
    assert list(cache.iterdir()) == [home] and not (Path(os.getcwd()) / "lookalike-data").exists()
    run("search", str(shots / "p2.png"), "--in", str(shots / "p2.png"), code=2, **env)


def test_a_broken_image_in_a_piped_table_keeps_its_brackets(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / "tiny[1].png")
    data = str(tmp_path / "data")
    run("index", str(folder), "--data", data)
    out, _ = run(
        "search", str(folder / "tiny[1].png"), "--data", data, "--all", "--include-junk"
    )  # 4x4 px: junk
    assert out.split("\t")[1].endswith("tiny[1].png")
