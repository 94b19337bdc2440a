"""Progress bars on a terminal; nothing when piped or with ``--json``.

Each context manager yields the ``progress(event, amount)`` callback the use cases take, or
None when there is nothing to show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from lookalike.cli.common import console

__all__ = ["crawl_progress", "file_progress"]

Update = Callable[[str, int], None]


@contextmanager
def file_progress(quiet: bool, label: str = "indexing") -> Iterator[Any]:
    """A bar of files done, with the images found and the failures."""
    if quiet or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[images]} images, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield _file_updates(progress, progress.add_task(label, total=None, images=0, failed=0))


def _file_updates(progress: Progress, task: TaskID) -> Update:
    counts = {"image": 0, "failed": 0}

    def update(event: str, amount: int) -> None:
        if event == "files_total":
            progress.update(task, total=amount)
        elif event == "file":
            progress.advance(task, amount)
        else:
            counts[event] = counts.get(event, 0) + amount
            progress.update(task, images=counts["image"], failed=counts["failed"])

    return update


_FINISHED = ("page", "file", "unchanged", "url_failed", "refused")  # events that finish one URL


@contextmanager
def crawl_progress(quiet: bool) -> Iterator[Any]:
    """A bar of the URLs finished out of those known (the total grows as pages add links), with
    the pages, files, images, refusals and failures so far."""
    if quiet or not console.is_terminal:
        yield None
        return
    counts = dict.fromkeys(("page", "item", "file", "unchanged", "image", "refused", "failed"), 0)

    def describe() -> str:
        items = "{item} items, " if counts["item"] else ""  # a recipe's API pages name items
        return (
            "{page} pages, "
            + items
            + "{file} files, {unchanged} unchanged, {image} images, {refused} refused, "
            "{failed} failed"
        ).format(**counts)

    columns = (
        TextColumn("crawling"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(describe(), total=None)
        total = [0]

        def update(event: str, amount: int) -> None:
            if event in ("pending", "queued"):
                total[0] += amount
                progress.update(task, total=total[0] or None)
                return
            # URLs and images that failed, together; refusals of pending URLs and of links as found
            name = {"url_failed": "failed", "refused_link": "refused"}.get(event, event)
            if name in counts:
                counts[name] += amount
            progress.update(task, description=describe(), advance=amount if event in _FINISHED else 0)

        yield update
