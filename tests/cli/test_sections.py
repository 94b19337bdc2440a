"""An image query's table in sections by tier on a terminal, one line per result when piped, and
the notes on stderr (``lookalike search`` and ``lookalike similar``)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import lookalike
from lookalike.cli import render, searching
from lookalike.cli.main import app

from conftest import photo


@pytest.fixture
def data(tmp_path: Path) -> str:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(4):
        photo(seed).save(folder / f"p{seed}.png")
    photo(0).resize((200, 150)).save(folder / "p0-small.jpg", quality=85)
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as opened:
        opened.index([folder])
    return str(tmp_path / "data")


def test_a_terminal_table_has_a_line_per_tier(
    data: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=200, color_system=None)
    monkeypatch.setattr(render, "console", terminal)
    monkeypatch.setattr(searching, "console", terminal)
    with lookalike.open(data) as opened:
        results = opened.search(tmp_path / "photos" / "p0.png", collapse=False)
    searching.show_results(results, False, [], everything=True)
    heads = [line for line in out.getvalue().splitlines() if line.endswith(")") and "(" in line[:20]]
    assert heads == ["Same image (1)", "Copies (1)", "Look-alikes (3)"]
    cells = [line.split("│")[1].strip() for line in out.getvalue().splitlines() if line.startswith("│")]
    ranks = [cell for cell in cells if cell]
    assert ranks == ["1", "2", "3", "4", "5"]  # one count across the sections


def test_piped_output_and_notes_on_stderr(data: str, tmp_path: Path) -> None:
    found = CliRunner().invoke(
        app, ["search", str(tmp_path / "photos" / "p0.png"), "--no-collapse", "--data", data]
    )
    assert found.exit_code == 0
    assert [line.split("\t")[1].rsplit("/", 1)[-1] for line in found.stdout.splitlines()] == [
        "p0.png",
        "p0-small.jpg",
    ]
    assert "No look-alikes." in found.stderr and "install a content model" in found.stderr
    alone = CliRunner().invoke(app, ["similar", "3", "--data", data])
    assert alone.exit_code == 1 and alone.stdout == ""
    assert "No look-alikes." in alone.stderr and "docs/models.md" in " ".join(alone.stderr.split())
    worded = CliRunner().invoke(app, ["search", "--text", "p1 p2", "--data", data])
    assert "any of them may match: 2 of these results" in " ".join(worded.stderr.split())
