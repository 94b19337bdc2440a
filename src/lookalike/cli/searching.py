"""``lookalike search`` and ``similar``: finding images in the collection.

Results are a table on a terminal and ``score<TAB>location`` lines when piped (see
:mod:`lookalike.cli.render`); no result exits with 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from lookalike.cli.common import (
    DataOption,
    JsonOption,
    KOption,
    SafeOption,
    SignalsOption,
    console,
    errors,
    exit_codes,
    opened,
    split_signals,
    usage_error,
)
from lookalike.cli.progress import file_progress
from lookalike.cli.render import Table, note, readable, show
from lookalike.collection import open_folder
from lookalike.records import is_internal_field
from lookalike.search.notes import notes
from lookalike.search.planner import Result
from lookalike.search.tiers import HEADINGS, sections, worth_showing
from lookalike.usecases.crops import crop_search

__all__ = ["RESULTS", "register", "show_results"]

EXTRA_SHOWN = 4


def register(app: typer.Typer) -> None:
    app.command()(search)
    app.command()(similar)


QueryArgument = Annotated[
    str | None, typer.Argument(help="An image path, an image URL, or id:N. Leave out with --text.")
]
TextOption = Annotated[str | None, typer.Option("--text", "-t", help="Words to search for.")]
NoCollapseOption = Annotated[
    bool, typer.Option("--no-collapse", help="Show near-identical results one by one.")
]
InOption = Annotated[
    Path | None,
    typer.Option(
        "--in",
        help="Search inside this folder instead of the collection: it is indexed on the way into a "
        "cache collection (search.folder_cache), and later searches read only what changed.",
    ),
]
IncludeJunkOption = Annotated[
    bool,
    typer.Option(
        "--include-junk",
        help="Also show junk images (blank, tiny, spacer, placeholder), left out by default.",
    ),
]
AllOption = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Also show the weaker look-alikes (by default an image query stops where the matches stop).",
    ),
]


def search(
    query: QueryArgument = None,
    text: TextOption = None,
    k: KOption = None,
    signals: SignalsOption = None,
    no_collapse: NoCollapseOption = False,
    everything: AllOption = False,
    inside: InOption = None,
    include_junk: IncludeJunkOption = False,
    safe: SafeOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find copies and look-alikes of an image, and images matching words.

    An image query shows its exact copies, copies and crops, and the look-alikes a content
    model finds alike; --all shows the weaker results too (--json always has them all).
    With --in DIR the folder is searched instead of the collection: indexed on the way into
    a cache collection of its own, which later searches bring up to date.
    """
    if query is None and not text:
        usage_error("give an image (path, URL or id:N), --text WORDS, or both.")
    if query is not None and Path(query).is_dir():
        usage_error(f"{query} is a folder; search takes one image (to search inside a folder: --in {query})")
    names = split_signals(signals)
    chosen: dict[str, Any] = {
        "text": text,
        "k": k,
        "signals": names,
        "collapse": not no_collapse,
        "include_junk": include_junk,
        "safe": safe,
    }
    with _searched(data, names, inside, as_json) as collection:
        if query is not None and query.startswith("id:"):
            results = collection.search(image_id=_parse_id(query[3:]), **chosen)
        else:
            results = collection.search(query, **chosen)
        content = list(collection.signals.content())
        crops = crop_search(collection.app).note if query is not None else None
        said = notes(results, text=text, by_image=query is not None, content=content, crops=crops)
        show_results(results, as_json, content, everything, said, crops)


def similar(
    image_id: Annotated[int, typer.Argument(help="Id of an indexed image.")],
    k: KOption = None,
    signals: SignalsOption = None,
    everything: AllOption = False,
    include_junk: IncludeJunkOption = False,
    safe: SafeOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find images similar to an indexed image (its copies, crops and look-alikes; --all: every result)."""
    with opened(data, split_signals(signals)) as collection:
        found = collection.similar(
            image_id, k=k, signals=split_signals(signals), include_junk=include_junk, safe=safe
        )
        content = list(collection.signals.content())
        crops = crop_search(collection.app).note
        said = notes(found, text=None, by_image=True, content=content, crops=crops)
        show_results(found, as_json, content, everything, said, crops)


@contextmanager
def _searched(
    data: Path | None, names: list[str] | None, inside: Path | None, as_json: bool
) -> Iterator[Any]:
    """The collection a search reads: the one at ``data``, or with ``--in DIR`` the folder's
    cache collection, indexed first (only what changed since the last time)."""
    if inside is None:
        with opened(data, names) as collection:
            yield collection
        return
    if not inside.is_dir():
        usage_error(f"--in takes a folder; {inside} is {'a file' if inside.exists() else 'not there'}")
    with exit_codes(), open_folder(inside) as collection:
        with file_progress(as_json, f"indexing {inside}") as report_progress:
            report = collection.index([inside], progress=report_progress)
        note(
            f"{escape(str(inside))}: {report.files} files, {report.images_new} new images, "
            f"{report.unchanged} unchanged, {report.failed} failed (cached in {escape(str(collection.home))})",
            as_json,
        )
        yield collection


def _parse_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        usage_error(f"'{text}' is not an image id (a whole number).")


def show_results(
    results: list[Result],
    as_json: bool,
    content: list[str] | None = None,
    everything: bool = False,
    said: Sequence[str] = (),
    crops: str | None = None,
) -> None:
    """Print results down to where the matches stop (all with ``everything`` or ``--json``), then
    the notes ``said`` about them (:mod:`lookalike.search.notes`) on stderr; none exits with 1.
    With ``--json`` the other notes are left out, but not ``crops`` (crop search is off or
    partial: what results cannot hold), which goes to stderr as a JSON object ``{"note": ...}``."""
    shown, weaker = (results, []) if as_json or everything else worth_showing(results, content or [])
    show(shown, SECTIONED, as_json=as_json)
    for line in said:
        note(line[0].upper() + line[1:] + ".", as_json)
    if crops and as_json:
        errors.print(json.dumps({"note": crops}), markup=False, highlight=False, soft_wrap=True)
    if weaker:
        looks = "" if content else " (alike by colour only)"
        what = "No copies or crops found" if not shown else f"{len(weaker)} weaker look-alikes not shown"
        errors.print(f"{what}; --all shows {'them' if shown else f'the {len(weaker)} look-alikes'}{looks}.")
        if not shown:
            raise typer.Exit(1)
    if not results:
        errors.print("No results.")
        raise typer.Exit(1)


def _result_rows(results: list[Result], start: int = 1) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for rank, r in enumerate(results, start):
        where = "\n".join(_place(o) for o in r.occurrences) or "-"
        if r.collapsed:
            where += f"\n+{len(r.collapsed)} copies folded in:"
            where += "".join(f"\n  id {i}: {_place(o)}" for i, places in r.collapsed_places for o in places)
        why = ", ".join(_why(e) for e in r.why)
        why += "".join(f'\n{s.signal}: "{escape(_short(s.text, 60))}"' for s in r.snippets)
        why += f"\ntags: {escape(', '.join(r.auto_tags[:5]))}" if r.auto_tags else ""
        match = (
            f"{r.match.tier.value}\n[dim]{escape(r.match.evidence)}[/]"
            if r.match
            else "words"
            if r.words
            else "-"
        )
        match += "".join(f"\n[yellow]{flag}[/]: {escape(reason)}" for flag, reason in r.flags.items())
        rows.append((str(rank), f"{r.score:.3f}", match, str(r.image_id), why, where))
    return rows


def _piped_rows(results: list[Result]) -> list[tuple[str, ...]]:
    """One line per place: score, location, image id, and ``result`` or ``folded`` (a near-identical
    image folded into the result above, with its own score where known)."""
    rows: list[tuple[str, ...]] = []
    for r in results:
        rows += [(f"{r.score:.4f}", _located(o), str(r.image_id), "result") for o in r.occurrences or [None]]
        scores = dict(zip(r.collapsed, (s for s, _ in r.collapsed_matches), strict=False))
        for i, places in r.collapsed_places:
            score = f"{scores.get(i, r.score):.4f}"
            rows += [(score, _located(o), str(i), "folded") for o in places or [None]]
    return rows


def _located(o: Any) -> str:
    """A place as one piped cell: the tile's or frame's description, the uri, or '-' for none."""
    return "-" if o is None else o.describe_part() or o.uri


RESULTS = Table[list[Result]](("#", "score", "match", "id", "why", "where"), _result_rows, piped=_piped_rows)


class _Sections:
    """On a terminal, the results of an image query in sections by tier (same image, copies,
    crops, look-alikes), each under a line with its count; piped, :data:`RESULTS` as it is."""

    def print(self, results: list[Result]) -> None:
        worded = any(e.signal.endswith("text") for r in results for e in r.why)
        if not console.is_terminal or worded or not results:
            RESULTS.print(results)
            return
        start = 1
        for tier, part in sections(results, lambda r: r.match.tier if r.match else None):
            console.print(f"[bold]{HEADINGS[tier]}[/] ({len(part)})")
            Table[list[Result]](RESULTS.columns, partial(_result_rows, start=start)).print(part)
            start += len(part)


SECTIONED = _Sections()


def _why(e: Any) -> str:
    if e.match is not None:
        xs, ys = zip(*e.match.result_region, strict=True)
        box = f"{min(xs):.0%}-{max(xs):.0%} x {min(ys):.0%}-{max(ys):.0%}"
        mirrored = ", mirrored" if e.match.mirrored else ""
        if e.note:  # a sheet found by its tile: the tile's box
            return f"{e.signal} {e.note} (region {box} of it)"
        return f"{e.signal} {e.match.inliers} inliers (region {box} of it{mirrored})"
    if e.distance is not None:
        return f"{e.signal} {e.distance:.3g}"
    return f"{e.signal} {e.similarity:.2f}" + (f" ({e.note})" if e.note else "")


def _place(o: Any) -> str:
    """A place as rich markup: its data escaped, so that "photo[1].jpg" keeps its brackets."""
    parts = [o.uri]
    if o.box is not None:
        parts = [f"{o.describe_tile()} (id {o.parent_id})" if o.parent_id else o.describe_tile()]
    elif o.at is not None:
        parts = [f"{o.describe_frame()} (video id {o.parent_id})"]
    if o.url:
        parts.append(f"url {o.url}")
    if o.page_url:
        parts.append(f"page {o.page_url}")
    if extra := _extra(o.extra or {}):
        parts.append(extra)
    parts = [escape(part) for part in parts]
    if o.title:
        parts.insert(0, f"[bold]{escape(o.title)}[/]")
    return " · ".join(parts)


def _extra(extra: dict[str, Any]) -> str:
    """The first few metadata fields; a sidecar's ids and byte counts are not metadata (see info)."""
    fields = [(k, v) for k, v in extra.items() if not is_internal_field(k)]
    shown = [f"{k}={_short(readable(v))}" for k, v in fields[:EXTRA_SHOWN]]
    more = len(fields) - EXTRA_SHOWN
    return " ".join(shown) + (f" (+{more} more: lookalike info)" if more > 0 else "")


def _short(value: object, width: int = 40) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
