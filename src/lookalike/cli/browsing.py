"""``lookalike browse``: the collection without a query, filtered, sorted and paged.

The same listing as ``GET /api/images`` and the ``/browse`` page.  On a terminal a table;
piped, ``id<TAB>location`` lines; ``--json`` the page with every image's facts and places.
An empty page exits with 1.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from lookalike.cli.common import DataOption, JsonOption, errors, opened, usage_error
from lookalike.cli.render import Lines, Part, Table, show
from lookalike.usecases.browse import DEFAULT_SORT, SORTS, Browsed

__all__ = ["browse", "register"]


def register(app: typer.Typer) -> None:
    app.command()(browse)


def browse(
    sort: Annotated[
        str, typer.Option("--sort", metavar="SORT", help=f"One of {', '.join(SORTS)} ('-': descending).")
    ] = DEFAULT_SORT,
    source: Annotated[
        list[str] | None,
        typer.Option(metavar="SOURCE", help="Only from this source (a folder, archive or host)."),
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(metavar="TAG", help="Only with this tag.")] = None,
    format: Annotated[
        list[str] | None, typer.Option("--format", metavar="FORMAT", help="Only in this format, e.g. JPEG.")
    ] = None,
    size: Annotated[
        list[str] | None, typer.Option(metavar="SIZE", help="Only this size: small, medium or large.")
    ] = None,
    filter: Annotated[
        list[str] | None,
        typer.Option("--filter", metavar="FIELD:VALUE", help="field:value on extra metadata."),
    ] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, metavar="N", help="Images per page.")] = 50,
    page: Annotated[int, typer.Option("--page", min=1, metavar="N", help="Which page of k images.")] = 1,
    facets: Annotated[
        bool, typer.Option("--facets", help="Also count images per source, tag, format, size.")
    ] = False,
    include_junk: Annotated[
        bool, typer.Option("--include-junk", help="Also list junk images (blank, tiny, spacer, placeholder).")
    ] = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the collection without a query: newest first, or by --sort; filters as on the web page.

    Repeat a filter for any of its values (--tag cat --tag dog); different filters all apply.
    """
    if sort not in SORTS:
        usage_error(f"--sort takes one of {', '.join(SORTS)}, not '{sort}'")
    given = {"source": source, "tag": tag, "format": format, "size": size}
    filters = {name: list(values) for name, values in given.items() if values}
    for item in filter or []:
        name, sep, value = item.partition(":")
        if not (sep and name.strip() and value.strip()):
            usage_error(f"--filter takes field:value, not '{item}'")
        filters.setdefault(name.strip(), []).append(value.strip())
    with opened(data) as collection:
        found = collection.browse(
            sort, filters, offset=(page - 1) * k, k=k, facets=facets, include_junk=include_junk
        )
    if found.results or as_json:
        show(found, LISTED, *([COUNTS] if facets else []), as_json=as_json, data=Browsed.as_dict)
    if not found.results:
        errors.print(_nothing(found, bool(filters)))
        raise typer.Exit(1)


def _nothing(found: Browsed, filtered: bool) -> str:
    if found.total:
        return (
            f"No images on this page: {found.total} in all, {-(-found.total // found.k)} pages of {found.k}."
        )
    if filtered:
        return "No image matches these filters."
    return "Nothing indexed yet: `lookalike index DIR` indexes a folder."


def _rows(found: Browsed) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for n, r in enumerate(found.results, found.offset + 1):
        image = r.image
        shape = f"{image.width}×{image.height} {image.format or ''}".strip() if image and image.width else "-"
        entry = found.entry(r)
        rows.append(
            (str(n), str(r.image_id), shape, str(image.bytes if image else "-"), _when(entry), r.location)
        )
    return rows


def _when(entry: dict[str, object]) -> str:
    added = entry["added_at"]
    if not isinstance(added, int | float):
        return "-"
    return dt.datetime.fromtimestamp(added, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _count_lines(found: Browsed) -> list[str]:
    lines = []
    for field, counts in (found.facets or {}).items():
        if counts:
            shown = ", ".join(f"{value} ({n})" for value, n in counts[:10])
            lines.append(f"[bold]{field}[/]: {shown}" + (" ..." if len(counts) > 10 else ""))
    return lines


LISTED = Table[Browsed](
    ("#", "id", "size", "bytes", "added (UTC)", "where"),
    _rows,
    piped=lambda found: [(r.image_id, r.location) for r in found.results],
)
COUNTS = Part[Browsed, Browsed](Lines(_count_lines), lambda found: found)
