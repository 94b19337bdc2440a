"""``lookalike map``: builds the map, says what it did, updates incrementally, refuses an empty collection."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lookalike.cli.main import app

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    env = {"LOOKALIKE_INGEST__WORKERS": "1", "LOOKALIKE_MAP__METHOD": "pca"}
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_map_builds_then_updates_and_rebuilds(tmp_path: Path, photo_dir: Path) -> None:
    data = str(tmp_path / "data")
    run("index", str(photo_dir), "--data", data)
    first = json.loads(run("map", "--data", data, "--json"))
    assert first["images"] == first["added"] == 8 and first["rebuilt"]
    assert first["cols"] * first["rows"] >= 8 and first["tiles_written"] == first["tiles"] >= 1
    again = json.loads(run("map", "--data", data, "--json"))
    assert (again["added"], again["removed"], again["rebuilt"], again["tiles_written"]) == (0, 0, False, 0)
    text = run("map", "--data", data, "--rebuild")
    assert "Mapped 8 images (laid out afresh)" in text and "/map" in text
    assert (tmp_path / "data" / "map" / "layout.npz").is_file()


def test_map_of_nothing_says_how_to_index(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    data = str(tmp_path / "data")
    run("index", str(tmp_path / "empty"), "--data", data)
    assert "index some images first" in run("map", "--data", data, code=1)
    assert "no collection at" in run("map", "--data", str(tmp_path / "missing"), code=2)
