"""The CLI as a contract: every command has help and docs; output pipes; --json parses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookalike.cli.main import app

from conftest import DEFAULT_SIGNALS, encode, photo

runner = CliRunner()
DOCS = Path(__file__).parents[2] / "docs" / "cli.md"
COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)  # type: ignore[union-attr]
GROUPS = {
    g.name: sorted(c.name or c.callback.__name__ for c in g.typer_instance.registered_commands)  # type: ignore[union-attr]
    for g in app.registered_groups
    if g.name and g.typer_instance
}


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"LOOKALIKE_INGEST__WORKERS": "1"})
    assert result.exit_code == code, result.output
    return result.stdout


def test_every_command_has_help_and_is_documented() -> None:
    documented = set(re.findall(r"^## `lookalike (\w+)", DOCS.read_text(encoding="utf-8"), re.M))
    assert set(COMMANDS) | set(GROUPS) == documented
    for command in COMMANDS:
        assert "Usage" in run(command, "--help")
    for group, commands in GROUPS.items():
        subs = set(re.findall(rf"^### `lookalike {group} (\w+)", DOCS.read_text(encoding="utf-8"), re.M))
        assert set(commands) == subs
        for command in commands:
            assert "Usage" in run(group, command, "--help")


@pytest.fixture
def indexed(tmp_path: Path, photo_dir: Path) -> Path:
    data = tmp_path / "data"
    out = json.loads(run("index", str(photo_dir), "--data", str(data), "--json"))
    assert out["images_new"] == 8
    return data


def test_search_pipes_score_tab_location(indexed: Path, photo_dir: Path, tmp_path: Path) -> None:
    query = tmp_path / "q.jpg"
    query.write_bytes(encode(photo(3).resize((160, 120)), "JPEG", quality=50))
    lines = run("search", str(query), "--data", str(indexed), "-k", "3").splitlines()
    score, location, image_id, part = lines[0].split("\t")
    assert (
        location.endswith("photo3.jpg")
        and 0.5 < float(score) <= 1
        and image_id.isdigit()
        and part == "result"
    )


def test_search_json_by_id_and_similar(indexed: Path) -> None:
    results = json.loads(run("search", "id:1", "--data", str(indexed), "--json"))
    assert results and all(r["id"] != 1 for r in results)
    assert {"phash", "colour"} <= set(results[0]["why"])
    similar = json.loads(run("similar", "1", "--data", str(indexed), "--json", "-k", "2"))
    assert [r["id"] for r in similar] == [r["id"] for r in results[:2]]


def test_text_search_and_no_results_exit_code(indexed: Path) -> None:
    assert "nested" in run("search", "--text", "nested", "--data", str(indexed))
    run("search", "--text", "zzzunknownzzz", "--data", str(indexed), code=1)
    run("search", "--data", str(indexed), code=2)
    run("search", "id:x", "--data", str(indexed), code=2)
    run("search", "id:999", "--data", str(indexed), code=1)
    run("search", "/no/such/file.png", "--data", str(indexed), code=1)


def test_info_stats_dupes_remove_rebuild(indexed: Path, photo_dir: Path) -> None:
    info = json.loads(run("info", "2", "--data", str(indexed), "--json"))
    assert set(info["features"]) == set(DEFAULT_SIGNALS)
    stats = json.loads(run("stats", "--data", str(indexed), "--json"))
    assert stats["images"] == 8 and stats["indexes"]["phash"]["vectors"] == 8
    assert json.loads(run("dupes", "--data", str(indexed), "--json")) == []
    removed = json.loads(run("remove", str(photo_dir / "nested"), "--data", str(indexed), "--json"))
    assert len(removed["removed"]) == 4
    rebuilt = json.loads(run("rebuild", "--data", str(indexed), "--json"))
    assert {n: rebuilt.pop(n) for n in ("colour", "phash")} == {"colour": 4, "phash": 4}
    assert set(rebuilt) == set(DEFAULT_SIGNALS) - {"colour", "phash", "junk"}  # keypoints: a row each
    run("remove", "999", "--data", str(indexed), code=1)


def test_failures_are_listed(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    data = str(tmp_path / "data")
    out = json.loads(run("index", str(folder), "--data", data, "--json"))
    assert out["failures"] == {"corrupt": 1}
    stats = json.loads(run("stats", "--failures", "--data", data, "--json"))
    assert stats["failure_list"][0]["uri"].endswith("broken.png")


def test_bad_setting_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stats", "--data", str(tmp_path)], env={"LOOKALIKE_SEARCH__K": "lots"})
    assert result.exit_code == 2
    assert "LOOKALIKE_SEARCH__K" in result.output and "lots" in result.output


def test_doctor_reports_parts() -> None:
    parts = {p["name"]: p for p in json.loads(run("doctor", "--json"))}
    assert parts["sqlite"]["ok"] and parts["faiss-cpu"]["ok"]
    assert "phash" in parts["signals"]["detail"]


def test_demo_runs_offline(tmp_path: Path) -> None:
    out = json.loads(run("demo", "--data", str(tmp_path / "demo"), "--json"))
    assert out["index"]["images_new"] > 20 and out["index"]["failed"] == 0
    assert out["results"][0]["score"] > 0.5
    first = out["results"][0]["occurrences"][0]["uri"]
    assert "coffee" in first or "pattern0" in first


def test_queue_work_and_migrate(tmp_path: Path, photo_dir: Path, postgres_url: str) -> None:
    data = str(tmp_path / "data")
    assert json.loads(run("index", str(photo_dir), "--queue", "--data", data, "--json")) == {"queued": 8}
    assert "8 pending" in run("jobs", "--data", data)
    report = json.loads(run("worker", "--drain", "--name", "cli", "--data", data, "--json"))
    assert report["name"] == "cli" and report["images_new"] == 8
    assert json.loads(run("jobs", "--data", data, "--json"))["jobs"]["file"]["done"] == 8
    run("index", str(photo_dir), "--queue", "--urls", "x.txt", "--data", data, code=2)
    run("migrate", "--data", data, code=2)  # no target named
    moved = json.loads(run("migrate", "--catalog", postgres_url, "--data", data, "--json"))
    assert moved["copied"]["image"] == 8 and moved["indexes"]["phash"] == 8
    found = run("search", str(photo_dir / "photo2.png"), "-k", "1", "--data", data)
    assert found.split("\t")[1].endswith("photo2.png")
    run("migrate", "--catalog", "postgresql://nobody@127.0.0.1:1/x", "--data", data, code=3)
