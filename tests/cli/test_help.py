"""Help and hints keep their square brackets: every default shows in ``--help``, and doctor's
install hints name the extra (``pip install 'lookalike[ocr]'``), on a terminal and piped."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from lookalike.cli import common, maintenance, render
from lookalike.cli.main import app

runner = CliRunner()


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the CLI with the words that call it (groups and their subcommands)."""
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))
    yield path, command


def flat(text: str) -> str:
    return " ".join(text.split())


EVERY = [(path, command) for path, command in commands(typer.main.get_command(app)) if path]


@pytest.mark.parametrize(("path", "command"), EVERY, ids=[" ".join(path) for path, _ in EVERY])
def test_every_default_shows_in_help(path: tuple[str, ...], command: Any) -> None:
    shown = flat(runner.invoke(app, [*path, "--help"], terminal_width=100).stdout)
    options = [p for p in command.params if type(p).__name__.endswith("Option") and p.name != "help"]
    for option in options:
        written = re.findall(r"\[default: [^\]]+\]", option.help or "")
        for default in written:  # a default the help states itself (the option's value is None)
            assert flat(default) in shown, f"{' '.join(path)} {option.opts[0]}: {default} is missing"
        if option.default not in (None, False) and not option.is_flag:
            assert re.search(rf"\[default: {re.escape(str(option.default))}[];]", shown), (
                f"{' '.join(path)} {option.opts[0]}"
            )


def test_options_that_default_to_a_setting_say_so() -> None:
    search = flat(runner.invoke(app, ["search", "--help"], terminal_width=100).stdout)
    assert "Number of results [default: 12]" in search and "[default: ./lookalike-data]" in search
    crawl = flat(runner.invoke(app, ["crawl", "--help"], terminal_width=100).stdout)
    assert "[default: crawl.max_pages]" in crawl


def test_doctor_hints_keep_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    found = [{"name": "rapidocr", "ok": False, "detail": "OCR engine", "fix": "pip install 'lookalike[ocr]'"}]
    monkeypatch.setattr("lookalike.usecases.doctor.checks", lambda plugins: found)
    piped = runner.invoke(app, ["doctor"])
    assert piped.stdout.split("\t")[-1].strip() == "pip install 'lookalike[ocr]'"
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=120, color_system=None)
    monkeypatch.setattr(render, "console", terminal)
    maintenance.DOCTOR.print(found)
    assert "pip install 'lookalike[ocr]'" in out.getvalue()


def test_error_messages_keep_their_brackets(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "errors", Console(file=out, width=200, color_system=None))
    with pytest.raises(typer.Exit), common.exit_codes():
        from lookalike.errors import ModelError

        raise ModelError("the OCR signal needs RapidOCR: pip install 'lookalike[ocr]'")
    assert "pip install 'lookalike[ocr]'" in out.getvalue()
