"""The one renderer of command output: JSON, a rich table, tab-separated values, or lines.

A command hands :func:`show` its value and how a person reads it (one view or several,
printed in order):

- with ``--json`` the value is printed as JSON (indented by 2; an object with ``as_dict()``,
  or a list of them, becomes dicts; anything else JSON cannot hold becomes its ``str``), and
  the views are not used;
- a :class:`Table` is a rich table when standard output is a terminal, and tab-separated
  values (one line per row, no header) when it is not: piped into ``cut``, ``sort`` or
  ``xargs``, or captured, as typer's ``CliRunner`` does in the tests;
- :class:`Lines` are lines of rich markup, printed the same way on a terminal and piped.

Notes for a person (hints, progress of a worker) go to stderr through :func:`note`, and
never with ``--json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from rich.table import Table as RichTable
from rich.text import Text

from lookalike.cli.common import console, errors

__all__ = ["Lines", "Part", "Table", "View", "jsonable", "note", "print_json", "readable", "show"]

T = TypeVar("T")
U = TypeVar("U")
T_contra = TypeVar("T_contra", contravariant=True)


class View(Protocol[T_contra]):
    """How a person sees a value."""

    def print(self, value: T_contra) -> None: ...


@dataclass(frozen=True)
class Lines(Generic[T]):
    """Lines of rich markup made from the value."""

    lines: Callable[[T], Iterable[str]]

    def print(self, value: T) -> None:
        for line in self.lines(value):
            console.print(line)


@dataclass(frozen=True)
class Table(Generic[T]):
    """Rows made from the value: a rich table on a terminal, tab-separated values when piped.

    Cells are rich markup (data in them escaped), or plain text with ``markup`` off.
    ``piped`` gives the tab-separated rows where they differ from the table's cells (else
    the cells' plain text); ``empty`` is printed instead of a table without rows; ``plain``
    drops the header and the borders.
    """

    columns: Sequence[str]
    rows: Callable[[T], Iterable[Sequence[str]]]
    piped: Callable[[T], Iterable[Sequence[object]]] | None = None
    empty: str | None = None
    plain: bool = False
    markup: bool = True

    def print(self, value: T) -> None:
        rows = list(self.rows(value))
        if not rows and self.empty is not None:
            console.print(self.empty)
        elif console.is_terminal:
            console.print(self._rich(rows))
        else:
            lines = (
                self.piped(value) if self.piped else [[self._text(c).plain for c in cells] for cells in rows]
            )
            sys.stdout.write("".join("\t".join(map(_cell, cells)) + "\n" for cells in lines))

    def _rich(self, rows: list[Sequence[str]]) -> RichTable:
        chosen: dict[str, Any] = {"show_header": False, "box": None, "pad_edge": False} if self.plain else {}
        table = RichTable(**chosen)
        for column in self.columns:
            table.add_column(column, overflow="fold")
        for cells in rows:
            table.add_row(*(self._text(c) for c in cells))
        return table

    def _text(self, cell: str) -> Text:
        return Text.from_markup(cell) if self.markup else Text(cell)


@dataclass(frozen=True)
class Part(Generic[T, U]):
    """A view of one part of the value (e.g. a table of the results within a report)."""

    view: View[U]
    part: Callable[[T], U]

    def print(self, value: T) -> None:
        self.view.print(self.part(value))


def _cell(value: object) -> str:
    """A value as one tab-separated cell: tabs and line breaks become spaces."""
    return " ".join(str(value).replace("\t", " ").splitlines())


def show(value: T, *views: View[T], as_json: bool, data: Callable[[T], object] | None = None) -> None:
    """Print ``value``: as JSON (``data(value)`` when given) with ``--json``, else through ``views``."""
    if as_json:
        print_json(data(value) if data else jsonable(value))
        return
    for view in views:
        view.print(value)


def jsonable(value: object) -> object:
    """``value`` with objects that have ``as_dict()`` (alone or in a list) turned into dicts."""
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    as_dict = getattr(value, "as_dict", None)
    return as_dict() if callable(as_dict) else value


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def readable(value: Any) -> str:
    """A metadata value as a person reads it: a list as 'a, b, c', nothing for None (not reprs)."""
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {readable(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def note(message: str, as_json: bool = False) -> None:
    """A hint for a person on stderr; left out with ``--json``."""
    if not as_json:
        errors.print(message)
