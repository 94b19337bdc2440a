"""``lookalike index`` and ``lookalike crawl``: putting images into the collection.

``index`` has four modes, each one function: queue the files (or a backfill) for workers, backfill signals,
fetch URLs, index paths (the last three can be combined).  ``crawl URL...`` crawls and
``crawl status`` is a subcommand beside it (see :class:`CrawlGroup`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from lookalike.cli.common import (
    HELP_MARKUP,
    DataOption,
    JsonOption,
    errors,
    opened,
    split_signals,
    usage_error,
)
from lookalike.cli.progress import crawl_progress, file_progress
from lookalike.cli.render import Lines, note, show

if TYPE_CHECKING:
    from lookalike.collection import Collection
    from lookalike.ingest.pipeline import IngestReport
    from lookalike.sources.crawl import CrawlReport

__all__ = ["crawl_app", "register"]


def register(app: typer.Typer) -> None:
    app.command()(index)
    app.add_typer(crawl_app, name="crawl")


# ---- index ------------------------------------------------------------------------------

PathsArgument = Annotated[list[Path] | None, typer.Argument(help="Files, folders and archives to index.")]
MetadataOption = Annotated[
    Path | None,
    typer.Option(
        help="JSONL sidecar: one object per file with path, title, text, tags, url, ... "
        "[default: a metadata.jsonl at the top of an indexed folder, if there is one]."
    ),
]
UrlsOption = Annotated[
    Path | None,
    typer.Option(help="File of image or archive URLs to fetch: one URL, or one JSON object, per line."),
]
KeepOption = Annotated[bool, typer.Option("--keep", help="Keep images no longer found under the folders.")]
QueueFilesOption = Annotated[
    bool,
    typer.Option(
        "--queue",
        help="Queue the work for `lookalike worker` processes instead of doing it here: the files, or "
        "with --signals or --ocr alone, the images that lack those signals.",
    ),
]
BackfillOption = Annotated[
    str | None,
    typer.Option(
        "--signals",
        "-s",
        help="Comma-separated signals to compute besides the ingest.signals setting (e.g. keypoints, "
        "embedding, clip), also for images already indexed that lack them (a backfill; metadata is "
        "not read again). Alone, without paths: backfill only.",
    ),
]
OcrOption = Annotated[
    bool,
    typer.Option(
        "--ocr",
        help="Read the text inside images (the ocr signal; same as --signals ocr): alone, a resumable "
        "OCR pass over the images indexed so far; with paths, also for the new ones.",
    ),
]


def index(
    paths: PathsArgument = None,
    metadata: MetadataOption = None,
    urls: UrlsOption = None,
    keep: KeepOption = False,
    queue: QueueFilesOption = False,
    signals: BackfillOption = None,
    ocr: OcrOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Index images in files, folders (recursively) and archives (zip, tar, 7z, rar), or at URLs.

    Unchanged files are skipped; images no longer under an indexed folder are retired.
    Stopping and rerunning continues where it stopped.
    """
    if ocr:
        signals = ",".join(filter(None, [signals, "ocr"]))
    if not paths and urls is None and not signals:
        usage_error("name files or folders to index, --urls FILE, or --signals (or --ocr) to backfill")
    names = split_signals(signals)
    if queue and names and not paths:
        _queue_backfill(data, names, urls is not None or metadata is not None, as_json)
        return
    if queue:
        _queue_files(data, paths, urls is not None or metadata is not None or bool(names), as_json)
        return
    if names:
        _backfill(data, names, bool(paths or urls), as_json)
    if paths or urls is not None:
        _index_sources(data, names, paths or [], urls, metadata, keep, as_json)


def _queue_files(data: Path | None, paths: list[Path] | None, other_sources: bool, as_json: bool) -> None:
    """``index --queue``: the files become jobs for ``lookalike worker`` processes."""
    if not paths or other_sources:
        usage_error(
            "--queue takes files and folders (no --urls, --metadata or --signals), or --signals (or --ocr) alone"
        )
    with opened(data, create=True) as collection:
        queued = collection.enqueue(paths)
    show({"queued": queued}, QUEUED_FILES, as_json=as_json)


QUEUED_FILES = Lines[dict[str, int]](
    lambda done: [f"queued {done['queued']} files; `lookalike worker` processes index them"]
)


def _queue_backfill(data: Path | None, names: list[str], other_sources: bool, as_json: bool) -> None:
    """``index --signals NAMES --queue`` (or ``--ocr --queue``): the backfill becomes jobs for workers."""
    if other_sources:
        usage_error("--queue with --signals (or --ocr) takes no paths, --urls or --metadata")
    with opened(data, names) as collection:
        queued = collection.enqueue_backfill(names)
    show(queued, QUEUED_BACKFILL, as_json=as_json)


QUEUED_BACKFILL = Lines[dict[str, int]](
    lambda done: [
        f"queued {done['queued']} jobs for {done['images']} images; `lookalike worker` processes compute them"
    ]
)


def _backfill(data: Path | None, names: list[str], more: bool, as_json: bool) -> None:
    """``index --signals``: compute ``names`` for every indexed image that lacks them."""
    with (
        opened(data, names, create=more) as collection,
        file_progress(as_json, "backfilling") as report_progress,
    ):
        report = collection.backfill(names, progress=report_progress)
        configured = collection.app.configured
    if not (as_json and more):  # with paths or URLs too, their JSON is the output
        show({"backfill": report}, BACKFILLED, as_json=as_json)
    missing = [n for n in names if n not in configured]
    if missing:
        note(
            f"[yellow]note:[/] add {', '.join(missing)} to ingest.signals (LOOKALIKE_INGEST__SIGNALS) so that "
            "new images get them and searches use them",
            as_json,
        )


def _backfilled(done: dict[str, Any]) -> list[str]:
    report = done["backfill"]
    computed = ", ".join(f"{name} {n}" for name, n in report["computed"].items())
    could_not = ", ".join(f"{name} {n}" for name, n in report.get("signal_failed", {}).items() if n)
    return [
        f"backfill: {computed} images computed, {report['unreadable']} no longer readable, "
        f"{report['failed']} failed"
        + (f"; could not read: {could_not} (lookalike stats --failures)" if could_not else "")
    ]


BACKFILLED = Lines(_backfilled)


def _index_sources(
    data: Path | None,
    names: list[str] | None,
    paths: list[Path],
    urls: Path | None,
    metadata: Path | None,
    keep: bool,
    as_json: bool,
) -> None:
    """Fetch the URLs listed in ``urls``, then index ``paths``; one report of both."""
    with opened(data, names, create=True) as collection:
        fetched = _fetch_urls(collection, urls, as_json) if urls is not None else None
        indexed = _index_paths(collection, paths, metadata, keep, as_json) if paths else None
    show((indexed, fetched), Lines(_sources_lines), as_json=as_json, data=_sources_json)
    if indexed and indexed.missing:  # the rest was indexed; the command still failed
        errors.print(f"[red]Not found:[/] no such file or folder: {escape(', '.join(indexed.missing))}")
        raise typer.Exit(1)


def _fetch_urls(collection: Collection, urls: Path, as_json: bool) -> CrawlReport:
    """``index --urls FILE``: the URLs go through the crawl frontier."""
    with crawl_progress(quiet=as_json) as report_progress:
        return collection.index_urls(urls, progress=report_progress)


def _index_paths(
    collection: Collection, paths: list[Path], metadata: Path | None, keep: bool, as_json: bool
) -> IngestReport:
    """``index PATH...``: files, folders and archives."""
    with file_progress(quiet=as_json) as report_progress:
        return collection.index(paths, metadata=metadata, retire=not keep, progress=report_progress)


Sources = tuple["IngestReport | None", "CrawlReport | None"]


def _sources_json(sources: Sources) -> dict[str, Any]:
    indexed, fetched = sources
    return {**(indexed.as_dict() if indexed else {}), **({"urls": fetched.as_dict()} if fetched else {})}


def _sources_lines(sources: Sources) -> list[str]:
    indexed, fetched = sources
    return [*(_crawled(fetched) if fetched else []), *(_indexed(indexed) if indexed else [])]


def _indexed(report: IngestReport) -> list[str]:
    """The files, then the images in the files read: each count once, so both add up."""
    return [
        *(f"metadata from {escape(file)}" for file in report.metadata),
        f"[bold]{report.files}[/] files: {report.files_read} read, {report.unchanged} unchanged (skipped), "
        f"{report.not_images} not images (skipped)",
        f"[bold]{report.images_new + report.images_known + report.failed}[/] images in the files read: "
        f"{report.images_new} new, {report.images_known} already known, {report.failed} failed; "
        f"{report.retired} retired ({report.seconds:.1f} s)",
        *(f"  failed [yellow]{reason}[/]: {count}" for reason, count in report.failures.most_common()),
        *(["  (details: lookalike stats --failures)"] if report.failed else []),
        *(
            [
                f"metadata: changed {report.metadata_changed} of the {report.metadata_matched} places it describes"
            ]
            if report.metadata
            else []
        ),
    ]


def _crawled(report: CrawlReport) -> list[str]:
    return [
        f"[bold]{report.pages}[/] pages, {report.files} files ({report.bytes / 1e6:.1f} MB): "
        f"{report.images_new} new images, {report.images_known} already known, "
        f"{report.not_modified} not modified, {report.robots_skipped} refused by robots.txt, "
        f"{report.failed} failed ({report.seconds:.1f} s)",
        *(f"  failed [yellow]{reason}[/]: {count}" for reason, count in report.failures.most_common()),
    ]


# ---- crawl ------------------------------------------------------------------------------


class CrawlGroup(TyperGroup):
    """``lookalike crawl URL...`` runs the group's own callback (the crawl); ``lookalike crawl
    status`` runs the subcommand.  A first argument that names a subcommand goes to it, with
    the crawl's options left at their defaults; anything else is the crawl's URLs and options.
    """

    allow_interspersed_args = True  # options may follow the URLs, as in a plain command

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: the (vendored) click Context
        if args and args[0] in self.commands:
            super(TyperGroup, self).parse_args(ctx, [])  # the crawl's own parameters at their defaults
            ctx._protected_args, ctx.args = args[:1], args[1:]  # what TyperGroup.parse_args sets
            return args[1:]
        return super().parse_args(ctx, args)


crawl_app = typer.Typer(
    cls=CrawlGroup,
    invoke_without_command=True,
    subcommand_metavar="| lookalike crawl status [OPTIONS]",
    rich_markup_mode=HELP_MARKUP,
)

UrlsArgument = Annotated[
    list[str] | None, typer.Argument(help="Start URLs (pages).", metavar="URLS", show_default=False)
]
FollowOption = Annotated[str | None, typer.Option(help="Regex: only pages whose URL matches are walked.")]
FilesOption = Annotated[
    str | None,
    typer.Option(help="Regex: file links to fetch [default: images on pages, image and archive links]."),
]
MaxPagesOption = Annotated[
    int | None, typer.Option(help="Most pages fetched in this run [default: crawl.max_pages].")
]
MaxDepthOption = Annotated[
    int | None, typer.Option(help="Most links followed from a start URL [default: crawl.max_depth].")
]
MaxBytesOption = Annotated[
    int | None, typer.Option(help="Most bytes downloaded in this run [default: crawl.max_bytes].")
]
RecrawlOption = Annotated[
    bool, typer.Option("--recrawl", help="Fetch finished URLs again (conditional requests).")
]
QueueCrawlOption = Annotated[
    bool, typer.Option("--queue", help="Queue the crawl for `lookalike worker` processes, which share it.")
]


@crawl_app.callback()
def crawl(
    ctx: typer.Context,
    urls: UrlsArgument = None,
    follow: FollowOption = None,
    files: FilesOption = None,
    max_pages: MaxPagesOption = None,
    max_depth: MaxDepthOption = None,
    max_bytes: MaxBytesOption = None,
    recrawl: RecrawlOption = False,
    queue: QueueCrawlOption = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Crawl websites: walk pages from the start URLs and index the images and archives they link to.

    Stopping and rerunning continues with the pending URLs; finished pages are not fetched again.
    `lookalike crawl status` shows the frontier.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not urls:
        ctx.fail("Missing argument 'urls'.")
    limits = {"follow": follow, "files": files, "max_pages": max_pages, "max_depth": max_depth}
    _crawl(data, urls, recrawl, queue, {**limits, "max_bytes": max_bytes}, as_json)


def _crawl(
    data: Path | None, urls: list[str], recrawl: bool, queue: bool, limits: dict[str, Any], as_json: bool
) -> None:
    """Crawl here, or with ``--queue`` leave the crawl to ``lookalike worker`` processes."""
    with opened(data, create=True) as collection:
        if queue:
            queued = collection.enqueue_crawl(urls, recrawl, **limits)
            show({"queued": queued}, QUEUED_CRAWL, as_json=as_json)
            return
        with crawl_progress(quiet=as_json) as report_progress:
            report = collection.crawl(urls, recrawl=recrawl, progress=report_progress, **limits)
        show(report, Lines(_crawled), as_json=as_json)


QUEUED_CRAWL = Lines[dict[str, int]](
    lambda done: ["crawl queued; `lookalike worker` processes run it" if done["queued"] else "already queued"]
)


@crawl_app.command("status")
def status(data: DataOption = None, as_json: JsonOption = False) -> None:
    """The crawl frontier: URLs by kind and state, and the latest failures."""
    with opened(data) as collection:
        show(collection.crawl_status(), Lines(_status_lines), as_json=as_json)


def _status_lines(status: dict[str, Any]) -> list[str]:
    return [
        *(
            f"{kind}s: " + ", ".join(f"{n} {state}" for state, n in counts.items())
            for kind, counts in status["urls"].items()
        ),
        *(escape(f"  failed\t{item['url']}\t{item['last_error']}") for item in status["failures"]),
    ]
