"""``lookalike watch``: keep the collection in step with folders as files come, change, move and go."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from lookalike.cli.common import DataOption, JsonOption, console, errors, exit_codes, opened
from lookalike.cli.render import note

if TYPE_CHECKING:
    from lookalike.usecases.reconcile import Pass
    from lookalike.usecases.watch import WatchStatus

__all__ = ["pass_line", "register"]


def register(app: typer.Typer) -> None:
    app.command()(watch)


FoldersArgument = Annotated[
    list[Path], typer.Argument(help="Folders to watch (recursively).", metavar="FOLDERS", show_default=False)
]
QueueOption = Annotated[
    bool,
    typer.Option(
        "--queue",
        help="Queue new and changed files for `lookalike worker` processes instead of indexing them here "
        "[default: watch.queue].",
    ),
]


def watch(
    folders: FoldersArgument, queue: QueueOption = False, data: DataOption = None, as_json: JsonOption = False
) -> None:
    """Watch folders and index what comes, changes, moves and goes, within seconds (needs the 'watch' extra).

    It first catches up with what changed while it was not running (as `lookalike index` does),
    then indexes each batch of changes: a burst of copied files is one batch. A moved file keeps
    its image (nothing is read again). Prints a line per batch (--json: one JSON object per line).
    Ctrl-C or SIGTERM stops it after the batch in hand; killed outright, it loses nothing.
    """
    from lookalike.usecases.watch import Watcher

    with opened(data, create=True) as collection, exit_codes():
        emit = _json_line if as_json else _plain_line
        watcher = Watcher(
            collection.app,
            folders,
            queue=queue or None,
            on_pass=emit,
            log=lambda line: errors.print(escape(line)),
        )
        _stop_on_signals(watcher.stop)
        mode = "queueing changes for workers" if watcher.queue else "indexing changes"
        note(f"watching {escape(', '.join(watcher.status.folders))} ({mode}; Ctrl-C stops)", as_json)
        try:
            status = watcher.run()
        except KeyboardInterrupt:  # a second Ctrl-C: at once; what was committed stays
            errors.print("stopped at once; the next start catches up with the rest")
            raise typer.Exit(130) from None
    _stopped(status, as_json)


def _stop_on_signals(stop: Any) -> None:
    """The first Ctrl-C (or SIGTERM) stops after the batch in hand; a second one at once."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def pass_line(done: Pass) -> str:
    """One pass as a person reads it: files by what happened, then the images of the files read."""
    what = "caught up" if done.catch_up else time.strftime("%H:%M:%S")
    files = f"{done.added} added, {done.changed} changed, {done.moved} moved, {done.removed} removed"
    queued = f"; {done.queued} queued for workers" if done.queued else ""
    images = f"{done.images_new} new images, {done.images_known} known, {done.failed} failed, {done.retired} retired"
    failures = "".join(f" ({reason} {n})" for reason, n in done.failures.most_common())
    return f"{what}: {files}{queued}: {images}{failures} ({done.seconds:.1f} s)"


def _plain_line(done: Pass) -> None:
    console.print(escape(pass_line(done)))


def _json_line(done: Pass) -> None:
    _write({"event": "catch_up" if done.catch_up else "batch", "at": time.time(), **done.as_dict()})


def _write(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value, default=str) + "\n")
    sys.stdout.flush()


def _stopped(status: WatchStatus, as_json: bool) -> None:
    if as_json:
        _write({"event": "stopped", "at": time.time(), "passes": status.passes, "totals": status.totals})
        return
    totals = status.totals
    errors.print(
        f"stopped: {status.passes} batches, {totals.get('added', 0)} added, {totals.get('changed', 0)} changed, "
        f"{totals.get('moved', 0)} moved, {totals.get('removed', 0)} removed"
    )
