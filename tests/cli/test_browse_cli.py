"""``lookalike browse``: the collection without a query, piped, as JSON, filtered, sorted and paged."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import lookalike
from lookalike.cli.main import app

runner = CliRunner()


def run(*args: str, code: int = 0) -> tuple[str, str]:
    result = runner.invoke(app, list(args), env={"LOOKALIKE_INGEST__WORKERS": "1"})
    assert result.exit_code == code, result.output
    return result.stdout, result.stderr


def test_browse_pipes_sorts_filters_and_pages(tmp_path: Path, photo_dir: Path) -> None:
    data = str(tmp_path / "data")
    run("index", str(photo_dir), "--data", data, "--json")
    out, _ = run("browse", "--data", data, "--sort", "path")
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == 8 and all(len(r) == 2 and r[0].isdigit() for r in rows)  # id<TAB>location
    assert [Path(r[1]).name for r in rows][:2] == ["photo1.png", "photo3.jpg"]  # nested/ sorts before photo0
    jpegs = json.loads(
        run("browse", "--data", data, "--format", "jpeg", "--sort", "-path", "--json", "--facets")[0]
    )
    assert [Path(r["occurrences"][0]["uri"]).name for r in jpegs["results"]] == [
        "photo6.jpg",
        "photo0.jpg",
        "photo3.jpg",
    ]
    assert jpegs["total"] == 3 and {f["value"] for f in jpegs["facets"]["format"]} == {"JPEG", "PNG"}
    paged = json.loads(run("browse", "--data", data, "-k", "3", "--page", "3", "--json")[0])
    assert len(paged["results"]) == 2 and paged["offset"] == 6 and paged["sort"] == "-added"
    _, said = run("browse", "--data", data, "--tag", "nothing", code=1)
    assert "No image matches these filters" in said
    run("browse", "--data", data, "--sort", "newest", code=2)
    run("browse", "--data", data, "--filter", "licence", code=2)


def test_browse_an_empty_collection_says_how_to_index(tmp_path: Path) -> None:
    lookalike.open(tmp_path / "empty").close()
    _, said = run("browse", "--data", str(tmp_path / "empty"), code=1)
    assert "lookalike index DIR" in said
    _, said = run("browse", "--data", str(tmp_path / "nowhere"), code=2)
    assert "no collection at" in said
