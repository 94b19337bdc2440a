"""Junk through the command line: flagged at ingest, hidden from search, shown when asked, counted;
on SQLite and on PostgreSQL, and for a collection indexed before the junk signal (a backfill)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from lookalike.cli.main import app

from conftest import photo

runner = CliRunner()
JUNK = {"spacer.gif", "white.png", "white-small.jpg", "button.png"}


def run(*args: str, code: int = 0, **env: str) -> str:
    result = runner.invoke(app, list(args), env={"LOOKALIKE_INGEST__WORKERS": "1", **env})
    assert result.exit_code == code, result.output
    return result.stdout


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three photos, a copy of one, and junk: a spacer GIF, a white page (twice), a button."""
    root = tmp_path / "site"
    root.mkdir()
    for seed in range(3):
        photo(seed).save(root / f"photo{seed}.png")
    photo(0).resize((256, 192)).save(root / "photo0-small.jpg", quality=90)
    Image.new("P", (1, 1)).save(root / "spacer.gif")
    Image.new("RGB", (320, 240), (250, 250, 250)).save(root / "white.png")
    Image.new("RGB", (160, 120), (250, 250, 250)).save(root / "white-small.jpg", quality=90)
    button = Image.new("RGB", (100, 30), (30, 90, 200))
    ImageDraw.Draw(button).text((10, 8), "Buy now", fill=(255, 255, 255))
    button.save(root / "button.png")
    return root


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment naming the catalog under test."""
    return {} if request.param == "sqlite" else {"LOOKALIKE_CATALOG": request.getfixturevalue("postgres_url")}


def located(results: list[dict[str, object]]) -> set[str]:
    return {Path(str(r["occurrences"][0]["uri"])).name for r in results}  # type: ignore[index]


def test_junk_is_hidden_shown_when_asked_and_counted(
    folder: Path, tmp_path: Path, catalog: dict[str, str]
) -> None:
    data = str(tmp_path / "data")
    run("index", str(folder), "--data", data, "--json", **catalog)
    stats = json.loads(run("stats", "--data", data, "--json", **catalog))
    assert stats["flags"] == {"junk": {"blank": 2, "placeholder": 1, "spacer": 1}}
    assert "junk 4 images (left out of results): blank 2" in run("stats", "--data", data, **catalog)

    query = str(folder / "white.png")
    hidden = json.loads(run("search", query, "--data", data, "--json", "-k", "20", **catalog))
    assert located(hidden) and not located(hidden) & JUNK  # only the photos
    shown = json.loads(
        run("search", query, "--include-junk", "--no-collapse", "--data", data, "--json", **catalog)
    )
    assert {"white.png", "spacer.gif", "button.png"} <= located(shown)

    assert json.loads(run("search", "--text", "spacer", "--data", data, "--json", code=1, **catalog)) == []
    worded = json.loads(
        run("search", "--text", "spacer", "--include-junk", "--data", data, "--json", **catalog)
    )
    assert located(worded) == {"spacer.gif"}  # a word search leaves junk out too, unless asked

    white = next(r["id"] for r in shown if located([r]) == {"white.png"})
    assert json.loads(run("info", str(white), "--data", data, "--json", **catalog))["flags"] == {
        "junk": "blank"
    }
    near = json.loads(run("similar", str(white), "--data", data, "--json", "-k", "20", **catalog))
    assert not located(near) & JUNK
    near = json.loads(run("similar", str(white), "--include-junk", "--data", data, "--json", **catalog))
    assert "white-small.jpg" in located(near)


def test_dupes_leave_junk_out_unless_asked(folder: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("index", str(folder), "--data", data)
    groups = json.loads(run("dupes", "--data", data, "--json"))
    places = [{Path(p).name for i in g["images"] for p in i["locations"]} for g in groups]
    assert places == [{"photo0.png", "photo0-small.jpg"}]
    groups = json.loads(run("dupes", "--include-junk", "--data", data, "--json"))
    assert {"white.png", "white-small.jpg"} in [
        {Path(p).name for i in g["images"] for p in i["locations"]} for g in groups
    ]


def test_a_collection_indexed_before_junk_gets_it_by_a_backfill(folder: Path, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    run("index", str(folder), "--data", data, LOOKALIKE_INGEST__SIGNALS='["phash","colour"]')
    assert json.loads(run("stats", "--data", data, "--json"))["flags"] == {}
    done = json.loads(run("index", "--signals", "junk", "--data", data, "--json"))
    assert done["backfill"]["computed"]["junk"] == 8
    assert json.loads(run("stats", "--data", data, "--json"))["flags"]["junk"]["blank"] == 2
    again = json.loads(run("index", "--signals", "junk", "--data", data, "--json"))
    assert again["backfill"]["computed"]["junk"] == 0  # every image was judged: nothing to do
