"""Paths into JSON documents, as crawl recipes write them, and templates made of them.

A path is names joined by dots, with list indexes and wildcards in brackets::

    data.products          the value at data → products
    images[0].src          the first image's src
    images[*].src          the src of every image (a list of values)
    variants[-1].price     the last variant's price
    ["odd key"].x          a key that is not a plain name (quoted, in brackets)
    *                      every value of an object or a list

A leading ``$`` or ``$.`` (JSONPath's root) is allowed and means nothing more; the empty
path is the document itself.  A path gives every value it reaches, in order: nothing when
a key is missing or an index is out of range, never an error.

A template is text with paths in braces, ``/products/{handle}``, ``{{`` and ``}}`` for
literal braces; it renders only when every path in it has a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Path", "Template", "parse_path", "scalar_text"]

_NAME = re.compile(r"[A-Za-z_@$][\w@$:-]*")
_INDEX = re.compile(r"\[\s*(-?\d+|\*|\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*\]")
_WILD = "*"
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

Step = str | int  # a key, a list index, or the wildcard "*"


@dataclass(frozen=True)
class Path:
    """A parsed path: its steps, and the text it was written as."""

    text: str
    steps: tuple[Step, ...]

    def values(self, document: Any) -> list[Any]:
        """Every value the path reaches in ``document`` (none when it reaches nothing)."""
        found = [document]
        for step in self.steps:
            found = [value for node in found for value in _step(node, step)]
        return [value for value in found if value is not None]

    def first(self, document: Any) -> Any:
        """The first value the path reaches, or None."""
        found = self.values(document)
        return found[0] if found else None


def parse_path(text: str) -> Path:
    """Parse a path; ValueError says where it goes wrong."""
    source = text.strip()
    rest = source[1:] if source.startswith("$") else source
    steps: list[Step] = []
    position = 0
    expect_name = True  # at the start, or after a dot
    while position < len(rest):
        if rest[position] == "[":
            if expect_name and steps:
                raise ValueError(f"bad path {text!r}: a dot before '[' at {position} (write a[0], not a.[0])")
            match = _INDEX.match(rest, position)
            if match is None:
                raise ValueError(
                    f"bad path {text!r}: '[' at {position} needs an index, '*' or a quoted key and ']'"
                )
            steps.append(_bracket(match.group(1)))
            position, expect_name = match.end(), False
        elif rest[position] == ".":
            if expect_name and steps:
                raise ValueError(f"bad path {text!r}: an empty name at {position}")
            position, expect_name = position + 1, True
            if position == len(rest):
                raise ValueError(f"bad path {text!r}: it ends with a dot")
        elif expect_name:
            if rest[position] == _WILD:
                steps.append(_WILD)
                position += 1
            else:
                match = _NAME.match(rest, position)
                if match is None:
                    raise ValueError(
                        f"bad path {text!r}: {rest[position]!r} at {position} cannot start a name"
                    )
                steps.append(match.group(0))
                position = match.end()
            expect_name = False
        else:
            raise ValueError(f"bad path {text!r}: {rest[position]!r} at {position}: expected '.' or '['")
    return Path(source, tuple(steps))


def _bracket(inner: str) -> Step:
    if inner == _WILD:
        return _WILD
    if inner[0] == '"':
        return str(json.loads(inner))
    if inner[0] == "'":
        return inner[1:-1]
    return int(inner)


def _step(node: Any, step: Step) -> Iterator[Any]:
    if step == _WILD:
        if isinstance(node, Mapping):
            yield from node.values()
        elif isinstance(node, list):
            yield from node
    elif isinstance(step, int):
        if isinstance(node, list) and -len(node) <= step < len(node):
            yield node[step]
    elif isinstance(node, Mapping) and step in node:
        yield node[step]


@dataclass(frozen=True)
class Template:
    """Text with ``{path}`` placeholders, filled from a JSON value."""

    text: str
    parts: tuple[str | Path, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Parse a template; ValueError names a bad path or a lone brace."""
        parts: list[str | Path] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(text[position : match.start()])
            token = match.group(0)
            if token in ("{{", "}}"):
                parts.append(token[0])
            elif match.group(1) is None:
                raise ValueError(
                    f"bad template {text!r}: a lone {token!r} (write {token * 2!r} for the brace)"
                )
            elif not match.group(1).strip():
                raise ValueError(f"bad template {text!r}: empty braces")
            else:
                parts.append(parse_path(match.group(1)))
            position = match.end()
        parts.append(text[position:])
        return cls(text, tuple(p for p in parts if p != ""))

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(part for part in self.parts if isinstance(part, Path))

    def render(self, document: Any) -> str | None:
        """The text with each path's first value, or None if any path has none."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.first(document)
            if value is None or isinstance(value, Mapping | list):
                return None
            out.append(scalar_text(value))
        return "".join(out)


def scalar_text(value: Any) -> str:
    """A JSON scalar as text: ``true``, ``19.5``, the string itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
