"""``lookalike map``: lay the collection out as an explore map and draw its tiles (the ``/map`` page).

A run after the first is incremental: new images go near their look-alikes, nothing placed
moves, and only the changed tiles are redrawn; ``--rebuild`` lays everything out afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lookalike.cli.common import DataOption, JsonOption, console, opened
from lookalike.cli.render import Lines, show
from lookalike.usecases import explore
from lookalike.usecases.explore import MapReport

__all__ = ["map_command", "register"]


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)


def map_command(
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild", help="Lay every image out afresh (images may move), not only the new ones."
        ),
    ] = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Build or update the explore map: look-alikes side by side on one zoomable picture (/map in serve).

    Uses a content model's embedding when one is indexed, else colours and perceptual hashes;
    the layout method is the map.method setting (t-SNE or UMAP need 'lookalike[map]').
    """
    with opened(data) as collection, _progress(as_json) as progress:
        report = explore.build(collection.app, rebuild=rebuild, progress=progress)
    show(report, DONE, as_json=as_json, data=MapReport.as_dict)


def _summary(report: MapReport) -> list[str]:
    how = "laid out afresh" if report.rebuilt else f"{report.added} new, {report.removed} removed"
    lines = [
        f"Mapped {report.images} images ({how}) on a {report.cols}×{report.rows} grid,"
        f" by {report.method} over {report.features}.",
        f"Tiles: {report.tiles_written} of {report.tiles} drawn, {report.levels} zoom levels,"
        f" in {report.seconds:.1f} s. See /map in `lookalike serve`.",
    ]
    if report.skipped:
        lines.append(
            f"{report.skipped} images lack these features and are not on the map (`lookalike index --signals NAME` computes them)."
        )
    return lines


DONE = Lines[MapReport](_summary)


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A bar: reading features, laying out, then tiles drawn of those to draw."""
    if quiet or not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("map: reading features", total=None)

        def update(event: str, amount: int) -> None:
            if event == "features":
                bar.update(task, description=f"map: laying out {amount} images")
            elif event == "tiles_total":
                bar.update(task, description="map: drawing tiles", total=amount, completed=0)
            elif event == "tile":
                bar.advance(task, amount)

        yield update
