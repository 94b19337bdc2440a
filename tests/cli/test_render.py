"""The CLI's one renderer: JSON with --json, a table on a terminal, tab-separated values piped."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
from rich.console import Console

from lookalike.cli import render
from lookalike.cli.render import Lines, Part, Table, jsonable, show


@dataclass
class Hit:
    id: int
    where: str

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "where": self.where}


HITS = [Hit(1, "a\tb.png"), Hit(22, "two\nlines.png")]
TABLE = Table[list[Hit]](["id", "where"], lambda hits: [(str(h.id), h.where) for h in hits], empty="nothing")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(
        render, "console", Console(file=out, force_terminal=True, width=60, color_system=None)
    )
    return out


class Piped:
    """What the command wrote to standard output, which is not a terminal."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def getvalue(self) -> str:
        return self.capsys.readouterr().out


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Piped:
    monkeypatch.setattr(render, "console", Console(force_terminal=False, width=60))  # writes to sys.stdout
    return Piped(capsys)


def test_json_uses_as_dict_and_ignores_the_views(piped: Piped) -> None:
    show(HITS, TABLE, as_json=True)
    assert json.loads(piped.getvalue()) == [
        {"id": 1, "where": "a\tb.png"},
        {"id": 22, "where": "two\nlines.png"},
    ]
    show(HITS, TABLE, as_json=True, data=lambda hits: {"count": len(hits)})
    assert json.loads(piped.getvalue()) == {"count": 2}


def test_piped_tables_are_one_tab_separated_line_per_row(piped: Piped) -> None:
    show(HITS, TABLE, as_json=False)
    assert piped.getvalue() == "1\ta b.png\n22\ttwo lines.png\n"  # no header; cells stay one field


def test_piped_rows_can_differ_from_the_cells(piped: Piped) -> None:
    table = Table[list[Hit]](
        ["id"], lambda hits: [(str(h.id),) for h in hits], piped=lambda hits: [(h.id, "x") for h in hits]
    )
    table.print(HITS)
    assert piped.getvalue() == "1\tx\n22\tx\n"


def test_a_terminal_gets_a_table_with_a_header(terminal: io.StringIO) -> None:
    show(HITS, TABLE, as_json=False)
    text = terminal.getvalue()
    assert "id" in text.splitlines()[1] and "where" in text.splitlines()[1]
    assert "22" in text and "─" in text  # a bordered table, not tab-separated lines
    assert "\t" not in text


def test_empty_tables_print_their_message(piped: Piped) -> None:
    show([], TABLE, as_json=False)
    assert piped.getvalue().strip() == "nothing"


def test_lines_and_parts_print_in_order(piped: Piped) -> None:
    report = {"hits": HITS, "seconds": 1.5}
    show(
        report,
        Lines[dict[str, object]](lambda r: [f"took {r['seconds']} s"]),
        Part(TABLE, lambda r: r["hits"]),  # type: ignore[arg-type, return-value]
        as_json=False,
    )
    assert piped.getvalue().splitlines() == ["took 1.5 s", "1\ta b.png", "22\ttwo lines.png"]


def test_jsonable_turns_records_into_dicts_and_leaves_the_rest() -> None:
    assert jsonable((Hit(3, "c"),)) == [{"id": 3, "where": "c"}]
    assert jsonable({"plain": 1}) == {"plain": 1}
