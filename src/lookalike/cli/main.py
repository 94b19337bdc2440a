"""The ``lookalike`` command: the Typer app assembled from the command groups.

Each group lives in its own module (:mod:`~lookalike.cli.indexing`, :mod:`~lookalike.cli.searching`,
:mod:`~lookalike.cli.maintenance`, :mod:`~lookalike.cli.serving`, :mod:`~lookalike.cli.models`);
output goes through :mod:`~lookalike.cli.render`, exit codes through :mod:`~lookalike.cli.common`.
"""

from __future__ import annotations

import typer

from lookalike.cli import browsing, dupes, exploring, indexing, maintenance, searching, serving, watching
from lookalike.cli.common import HELP_MARKUP
from lookalike.cli.models import models_app

__all__ = ["app", "main"]

app = typer.Typer(
    help="lookalike: find copies, edits and look-alikes of an image in your own collection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=HELP_MARKUP,
)
indexing.register(app)
watching.register(app)
searching.register(app)
dupes.register(app)
browsing.register(app)
exploring.register(app)
maintenance.register(app)
serving.register(app)
app.add_typer(models_app, name="models")


def main() -> None:
    """Entry point of the ``lookalike`` command."""
    app()
