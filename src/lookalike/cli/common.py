"""What every command group shares: option aliases, the two consoles, exit codes, the collection.

Exit codes: 0 ok, 1 nothing found, 2 bad input or usage, 3 a backend failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import click
import typer
from rich.console import Console
from rich.markup import escape

from lookalike.collection import Collection
from lookalike.collection import open as open_collection
from lookalike.errors import BackendError, ConfigError, InputError, LookalikeError, NotFoundError

__all__ = [
    "HELP_MARKUP",
    "DataOption",
    "JsonOption",
    "KOption",
    "SafeOption",
    "SignalsOption",
    "console",
    "errors",
    "exit_codes",
    "opened",
    "split_signals",
    "usage_error",
]

#: Help is plain text, not Rich markup: markup would swallow every "[default: ...]" and
#: "'lookalike[ocr]'" as an unknown style tag (every Typer app of the CLI takes this).
HELP_MARKUP = None

console = Console()
errors = Console(stderr=True)
for _each in (console, errors):  # piped or captured, a line stays one line: no wrap at 80 columns
    _each.soft_wrap = not _each.is_terminal


def _unset_when_empty(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``LOOKALIKE_HOME=`` (set but empty) means the default folder, not the current one."""
    source = ctx.get_parameter_source(param.name or "")
    if source is click.core.ParameterSource.ENVIRONMENT and not os.environ.get("LOOKALIKE_HOME", "").strip():
        return None
    return value


DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        "-d",
        envvar="LOOKALIKE_HOME",
        callback=_unset_when_empty,
        help="Collection folder [default: ./lookalike-data].",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KOption = Annotated[int | None, typer.Option("--k", "-k", help="Number of results [default: 12].")]
SafeOption = Annotated[
    bool,
    typer.Option(
        "--safe", help="Leave out images the safety signal flagged (exposure; index --signals safety)."
    ),
]
SignalsOption = Annotated[
    str | None, typer.Option("--signals", "-s", help="Comma-separated signals, e.g. phash,colour.")
]


def usage_error(message: str) -> NoReturn:
    """Say what is wrong with the command line and exit with 2."""
    errors.print(f"[red]Error:[/] {message}")
    raise typer.Exit(2)


@contextmanager
def exit_codes() -> Iterator[None]:
    """Turn lookalike's errors into messages on stderr and exit codes (1 not found, 2 input, 3 backend)."""
    try:
        yield
    except NotFoundError as exc:
        errors.print(f"[red]Not found:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except (InputError, ConfigError) as exc:
        errors.print(f"[red]Error:[/] {escape(str(exc))}")  # "pip install 'lookalike[ocr]'" keeps its [ocr]
        raise typer.Exit(2) from None
    except (BackendError, LookalikeError) as exc:
        errors.print(f"[red]Failed:[/] {escape(str(exc))}")
        raise typer.Exit(3) from None


@contextmanager
def opened(data: Path | None, signals: list[str] | None = None, create: bool = False) -> Iterator[Collection]:
    """Open the collection, with lookalike's errors turned into messages and exit codes.

    ``signals``: signals the command needs beyond the ``ingest.signals`` setting (``--signals``).
    ``create``: make the collection if it is not there (the commands that write: index, crawl,
    demo); the others stop with "no collection at ..." instead of reading an empty one.
    """
    with exit_codes(), open_collection(data, extra_signals=signals or (), create=create) as collection:
        yield collection


def split_signals(value: str | None) -> list[str] | None:
    """``--signals phash, colour`` as a list of names (None when not given)."""
    return [s.strip() for s in value.split(",") if s.strip()] if value else None
