"""``lookalike dupes``: groups of the same picture, the one to keep in each, and the clean-up.

The groups come from :mod:`lookalike.usecases.dupes`; moving, linking and trashing, their dry
run and their undo log from :mod:`lookalike.usecases.dedupe`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from lookalike.cli.common import (
    DataOption,
    JsonOption,
    console,
    errors,
    opened,
    split_signals,
    usage_error,
)
from lookalike.cli.render import Lines, Table, show
from lookalike.cli.searching import IncludeJunkOption

__all__ = ["dupes_summary", "register"]


def register(app: typer.Typer) -> None:
    app.command()(dupes)


MaxBitsOption = Annotated[
    int | None,
    typer.Option(
        help="Count as the same picture only images whose phash differs by at most this many of 576 bits "
        "[default: the copy tier: a calibrated probability of the same picture, mirror images too]."
    ),
]
KeepOption = Annotated[
    str | None,
    typer.Option(
        help="Rules that pick the image to keep in each group, first deciding: original (not a downscale or "
        "a crop of another member), largest, lossless, metadata, oldest [default: search.dupes_keep, else all "
        "five in that order]."
    ),
]
CropOption = Annotated[
    bool | None,
    typer.Option(
        "--crop/--no-crop",
        help="Also group a part of a picture with it (kind crop, verified by keypoints) "
        "[default: whether search.dupes_tiers has crop; it does not by default].",
    ),
]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV (one row per image and location).")]
MoveToOption = Annotated[
    Path | None,
    typer.Option("--move-to", help="Move every duplicate file but the kept one here, keeping the layout."),
]
LinkOption = Annotated[
    str | None,
    typer.Option("--link", help="Replace every duplicate file by a link to the kept one: hard or symbolic."),
]
DeleteOption = Annotated[
    bool, typer.Option("--delete", help="Move every duplicate file but the kept one to the trash.")
]
ApplyOption = Annotated[
    bool, typer.Option("--apply", help="Do it (without: a dry run that says what it would do).")
]
YesOption = Annotated[bool, typer.Option("--yes", help="Do not ask before doing it.")]
UndoOption = Annotated[
    Path | None, typer.Option("--undo", help="Put back what an applied run did (its undo log).")
]


def dupes(
    max_bits: MaxBitsOption = None,
    keep: KeepOption = None,
    crop: CropOption = None,
    as_csv: CsvOption = False,
    move_to: MoveToOption = None,
    link: LinkOption = None,
    delete: DeleteOption = False,
    apply: ApplyOption = False,
    yes: YesOption = False,
    undo: UndoOption = None,
    include_junk: IncludeJunkOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Groups of the same picture (exact copies and edited copies, mirrored and turned ones too;
    with --crop, crops too), with the one to keep in each and why each image is in its group.

    With --move-to DIR, --link or --delete, every other file of each group is moved, linked or
    trashed: a dry run unless --apply, asked first unless --yes, written to an undo log that
    --undo LOG plays back. Files inside archives and at URLs are never touched.
    """
    modes = [
        m for m, on in (("move", move_to is not None), ("link", link is not None), ("trash", delete)) if on
    ]
    if len(modes) > 1:
        usage_error("choose one of --move-to, --link and --delete")
    if link is not None and link not in ("hard", "symbolic"):
        usage_error("--link takes hard or symbolic")
    with opened(data) as collection:
        if undo is not None:
            show(collection.undo_dedupe(undo), UNDONE, as_json=as_json)
            return
        groups = collection.dupes(max_bits, split_signals(keep) or None, include_junk, crop)
        if modes:
            _dedupe(collection, groups, modes[0], move_to, link or "hard", apply, yes, as_json)
            return
    if as_csv:
        _print_csv(groups)
        return
    show(groups, DUPES, SUMMARY, as_json=as_json)


def _dedupe(
    collection: Any,
    groups: list[dict[str, Any]],
    mode: Any,
    move_to: Path | None,
    link: Any,
    apply: bool,
    yes: bool,
    as_json: bool,
) -> None:
    planned = collection.dedupe(mode, move_to, groups=groups)
    if (
        apply
        and planned["files"]
        and not yes
        and not typer.confirm(_summary(planned)[0] + "?", default=False)
    ):
        raise typer.Exit(1)
    if apply and planned["files"]:
        planned = collection.apply_dedupe(planned, link)
    show(planned | {"applied": apply}, DEDUPED, as_json=as_json)


def _summary(planned: dict[str, Any]) -> list[str]:
    verb = {"move": "move", "link": "replace by links", "trash": "move to the trash"}[planned["mode"]]
    done = "done" in planned
    lines = [
        f"{'' if done else 'would '}{verb} {planned['files']} files ({planned['bytes'] / 1e6:.1f} MB)"
        + ("" if done or planned.get("applied") else " (a dry run: add --apply to do it)")
    ]
    lines += [escape(f"  {a['source']} -> {a['target'] or a['keep']}") for a in planned["actions"][:20]]
    lines += [escape(f"  skipped {s['location']}: {s['why']}") for s in planned["skipped"]]
    lines += [escape(f"  failed {f['location']}: {f['why']}") for f in planned.get("failed", [])]
    if done:
        lines.append(
            escape(f"undo log: {planned['undo_log']} (lookalike dupes --undo {planned['undo_log']})")
        )
    return lines


DEDUPED = Lines[dict[str, Any]](_summary)
UNDONE = Lines[dict[str, Any]](
    lambda done: [
        f"restored {done['restored']} files",
        *(escape(f"  failed {f['location']}: {f['why']}") for f in done["failed"]),
    ]
)


def _dupe_rows(groups: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (
            str(number),
            group["kind"],
            "keep" if image["keep"] else "",
            str(image["id"]),
            f"{image['width']}x{image['height']} {image['format']}",
            str(image["distance"]),
            location,
            "; ".join(filter(None, [group["why"] if image["keep"] else "", _joined(image)])),
        )
        for number, group in enumerate(groups, 1)
        for image in group["images"]
        for location in image["locations"]
    ]


def _joined(image: dict[str, Any]) -> str:
    """What a member is and why it is in the group, for the why column: "a downscale of 41;
    copy of 41: phash distance 12/576"."""
    derived, match = image.get("derivative"), image.get("match")
    parts = [f"a {derived['how']} of {derived['of']}"] if derived else []
    if match:
        parts.append(f"{match['tier']} of {match['of']}: {match['evidence']}")
    return "; ".join(parts)


def _print_csv(groups: list[dict[str, Any]]) -> None:
    import csv
    import sys

    writer = csv.writer(sys.stdout)
    writer.writerow(DUPES.columns)
    writer.writerows(_dupe_rows(groups))


DUPES = Table[list[dict[str, Any]]](
    ("group", "kind", "keep", "id", "size", "distance", "location", "why"),
    _dupe_rows,
    piped=lambda groups: [(row[0], row[2], row[3], row[6]) for row in _dupe_rows(groups)],
    empty="no duplicates",
    markup=False,  # file names as they are: "photo[1].jpg" is no style tag
)


def dupes_summary(groups: list[dict[str, Any]]) -> dict[str, int]:
    """How many groups and files, how many files are not the kept one, and their bytes."""
    files = [(image, location) for g in groups for image in g["images"] for location in image["locations"]]
    kept = {
        (g["images"][0]["id"], g["images"][0]["locations"][0]) for g in groups if g["images"][0]["locations"]
    }
    spare = [image["bytes"] or 0 for image, location in files if (image["id"], location) not in kept]
    return {"groups": len(groups), "files": len(files), "to_remove": len(spare), "bytes": sum(spare)}


class _Summary:
    """The line under the table: on stdout on a terminal, on stderr when piped (the rows stay clean)."""

    def print(self, groups: list[dict[str, Any]]) -> None:
        if not groups:
            return
        n = dupes_summary(groups)
        line = (
            f"{n['groups']} groups, {n['files']} files, {n['to_remove']} to remove, "
            f"{n['bytes'] / 1e6:.1f} MB (all but the kept file of each group)"
        )
        (console if console.is_terminal else errors).print(line)


SUMMARY = _Summary()
