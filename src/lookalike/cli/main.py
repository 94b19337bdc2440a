"""The ``lookalike`` command: nouns and verbs over one :class:`Collection`.

Lists print a table on a terminal, ``score<TAB>location`` lines when piped, and
JSON with ``--json``.  Exit codes: 0 ok, 1 nothing found, 2 bad input or usage,
3 a backend failed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lookalike.catalog.postgres import safe_url
from lookalike.collection import Collection
from lookalike.collection import open as open_collection
from lookalike.errors import BackendError, ConfigError, InputError, LookalikeError, NotFoundError
from lookalike.search.planner import Result
from lookalike.settings import load_settings

if TYPE_CHECKING:
    from lookalike.sources.crawl import CrawlReport

__all__ = ["app", "main"]

app = typer.Typer(
    help="lookalike: find copies, edits and look-alikes of an image in your own collection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", "-d", envvar="LOOKALIKE_HOME", help="Collection folder [default: ./lookalike-data]."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KOption = Annotated[int | None, typer.Option("--k", "-k", help="Number of results [default: 12].")]
SignalsOption = Annotated[
    str | None, typer.Option("--signals", "-s", help="Comma-separated signals, e.g. phash,colour.")
]


@contextmanager
def _collection(data: Path | None, signals: list[str] | None = None) -> Iterator[Collection]:
    """Open the collection and turn lookalike's errors into messages and exit codes.

    ``signals``: signals the command needs beyond the ``ingest.signals`` setting (``--signals``).
    """
    try:
        with open_collection(data, extra_signals=signals or ()) as collection:
            yield collection
    except NotFoundError as exc:
        errors.print(f"[red]Not found:[/] {exc}")
        raise typer.Exit(1) from None
    except (InputError, ConfigError) as exc:
        errors.print(f"[red]Error:[/] {exc}")
        raise typer.Exit(2) from None
    except (BackendError, LookalikeError) as exc:
        errors.print(f"[red]Failed:[/] {exc}")
        raise typer.Exit(3) from None


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _signals(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


# ---- index ------------------------------------------------------------------------------


@app.command()
def index(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files, folders and archives to index.")] = None,
    metadata: Annotated[
        Path | None,
        typer.Option(help="JSONL sidecar: one object per file with path, title, text, tags, url, ..."),
    ] = None,
    urls: Annotated[
        Path | None,
        typer.Option(help="File of image or archive URLs to fetch: one URL, or one JSON object, per line."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep images no longer found under the folders.")
    ] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue", help="Queue the files for `lookalike worker` processes instead of indexing them here."
        ),
    ] = False,
    signals: Annotated[
        str | None,
        typer.Option(
            "--signals",
            "-s",
            help="Comma-separated signals to compute besides the ingest.signals setting (e.g. keypoints, "
            "embedding, clip), also for images already indexed that lack them (a backfill; metadata is "
            "not read again). Alone, without paths: backfill only.",
        ),
    ] = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Index images in files, folders (recursively) and archives (zip, tar, 7z, rar), or at URLs.

    Unchanged files are skipped; images no longer under an indexed folder are retired.
    Stopping and rerunning continues where it stopped.
    """
    if not paths and urls is None and not signals:
        errors.print("[red]Error:[/] name files or folders to index, --urls FILE, or --signals to backfill")
        raise typer.Exit(2)
    if queue:
        if not paths or urls is not None or metadata is not None:
            errors.print("[red]Error:[/] --queue takes files and folders (no --urls or --metadata)")
            raise typer.Exit(2)
        with _collection(data) as collection:
            queued = collection.enqueue(paths)
        if as_json:
            _print_json({"queued": queued})
        else:
            console.print(f"queued {queued} files; `lookalike worker` processes index them")
        return
    if signals:
        _backfill(data, _signals(signals) or [], bool(paths or urls), as_json)
        if not paths and urls is None:
            return
    with _collection(data, _signals(signals)) as collection:
        fetched = None
        if urls is not None:
            with _crawl_progress(quiet=as_json) as report_progress:
                fetched = collection.index_urls(urls, progress=report_progress)
            if not paths:
                if as_json:
                    _print_json({"urls": fetched.as_dict()})
                else:
                    _print_crawl(fetched)
                return
        with _progress(quiet=as_json) as report_progress:
            report = collection.index(
                paths or [], metadata=metadata, retire=not keep, progress=report_progress
            )
        if as_json:
            _print_json({**report.as_dict(), **({"urls": fetched.as_dict()} if fetched else {})})
            return
        if fetched:
            _print_crawl(fetched)
        console.print(
            f"[bold]{report.files}[/] files: {report.images_new} new images, "
            f"{report.images_known} already known, {report.unchanged} unchanged files skipped, "
            f"{report.failed} failed, {report.retired} retired ({report.seconds:.1f} s)"
        )
        for reason, count in report.failures.most_common():
            console.print(f"  failed [yellow]{reason}[/]: {count}")
        if report.failed:
            console.print("  (details: lookalike stats --failures)")


def _backfill(data: Path | None, names: list[str], more: bool, as_json: bool) -> None:
    """Compute ``names`` for every indexed image that lacks them (``index --signals``)."""
    with _collection(data, names) as collection, _progress(as_json, "backfilling") as report_progress:
        report = collection.backfill(names, progress=report_progress)
        configured = collection.app.configured
    if as_json and not more:
        _print_json({"backfill": report})
    elif not as_json:
        computed = ", ".join(f"{name} {n}" for name, n in report["computed"].items())
        console.print(
            f"backfill: {computed} images computed, {report['unreadable']} no longer readable, "
            f"{report['failed']} failed"
        )
    missing = [n for n in names if n not in configured]
    if missing and not as_json:
        errors.print(
            f"[yellow]note:[/] add {', '.join(missing)} to ingest.signals (LOOKALIKE_INGEST__SIGNALS) so that "
            "new images get them and searches use them"
        )


@contextmanager
def _progress(quiet: bool, label: str = "indexing") -> Iterator[Any]:
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
        task = progress.add_task(label, total=None, images=0, failed=0)
        counts = {"image": 0, "failed": 0}

        def update(event: str, amount: int) -> None:
            if event == "files_total":
                progress.update(task, total=amount)
            elif event == "file":
                progress.advance(task, amount)
            else:
                counts[event] = counts.get(event, 0) + amount
                progress.update(task, images=counts["image"], failed=counts["failed"])

        yield update


# ---- crawl ------------------------------------------------------------------------------


@app.command()
def crawl(
    urls: Annotated[
        list[str], typer.Argument(help="Start URLs (pages), or 'status' for the frontier's counts.")
    ],
    follow: Annotated[
        str | None, typer.Option(help="Regex: only pages whose URL matches are walked.")
    ] = None,
    files: Annotated[
        str | None,
        typer.Option(help="Regex: file links to fetch (default: images on pages, image and archive links)."),
    ] = None,
    max_pages: Annotated[
        int | None, typer.Option(help="Most pages fetched in this run (default: crawl.max_pages).")
    ] = None,
    max_depth: Annotated[
        int | None, typer.Option(help="Most links followed from a start URL (default: crawl.max_depth).")
    ] = None,
    max_bytes: Annotated[
        int | None, typer.Option(help="Most bytes downloaded in this run (default: crawl.max_bytes).")
    ] = None,
    recrawl: Annotated[
        bool, typer.Option("--recrawl", help="Fetch finished URLs again (conditional requests).")
    ] = False,
    queue: Annotated[
        bool, typer.Option("--queue", help="Queue the crawl for `lookalike worker` processes, which share it.")
    ] = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Crawl websites: walk pages from the start URLs and index the images and archives they link to.

    Stopping and rerunning continues with the pending URLs; finished pages are not fetched again.
    `lookalike crawl status` shows the frontier.
    """
    with _collection(data) as collection:
        if urls == ["status"]:
            _crawl_status(collection.crawl_status(), as_json)
            return
        if queue:
            queued = collection.enqueue_crawl(
                urls, recrawl, follow=follow, files=files, max_pages=max_pages, max_depth=max_depth,
                max_bytes=max_bytes,
            )
            if as_json:
                _print_json({"queued": queued})
            else:
                console.print("crawl queued; `lookalike worker` processes run it" if queued else "already queued")
            return
        with _crawl_progress(quiet=as_json) as report_progress:
            report = collection.crawl(
                urls,
                follow=follow,
                files=files,
                max_pages=max_pages,
                max_depth=max_depth,
                max_bytes=max_bytes,
                recrawl=recrawl,
                progress=report_progress,
            )
        if as_json:
            _print_json(report.as_dict())
            return
        _print_crawl(report)


def _print_crawl(report: CrawlReport) -> None:
    console.print(
        f"[bold]{report.pages}[/] pages, {report.files} files ({report.bytes / 1e6:.1f} MB): "
        f"{report.images_new} new images, {report.images_known} already known, "
        f"{report.not_modified} not modified, {report.robots_skipped} refused by robots.txt, "
        f"{report.failed} failed ({report.seconds:.1f} s)"
    )
    for reason, count in report.failures.most_common():
        console.print(f"  failed [yellow]{reason}[/]: {count}")


def _crawl_status(status: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(status)
        return
    for kind, counts in status["urls"].items():
        console.print(f"{kind}s: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    for item in status["failures"]:
        console.print(f"  failed\t{item['url']}\t{item['last_error']}")


@contextmanager
def _crawl_progress(quiet: bool) -> Iterator[Any]:
    if quiet or not console.is_terminal:
        yield None
        return
    counts = dict.fromkeys(("page", "file", "image", "failed"), 0)
    columns = (TextColumn("crawling: {task.description}"), TimeElapsedColumn())

    def describe() -> str:
        return "{page} pages, {file} files, {image} images, {failed} failed".format(**counts)

    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(describe(), total=None)

        def update(event: str, amount: int) -> None:
            if event in counts:
                counts[event] += amount
                progress.update(task, description=describe())

        yield update


# ---- search -----------------------------------------------------------------------------


@app.command()
def search(
    query: Annotated[
        str | None, typer.Argument(help="An image path, an image URL, or id:N. Leave out with --text.")
    ] = None,
    text: Annotated[str | None, typer.Option("--text", "-t", help="Words to search for.")] = None,
    k: KOption = None,
    signals: SignalsOption = None,
    no_collapse: Annotated[
        bool, typer.Option("--no-collapse", help="Show near-identical results one by one.")
    ] = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find copies and look-alikes of an image, and images matching words."""
    if query is None and not text:
        errors.print("[red]Error:[/] give an image (path, URL or id:N), --text WORDS, or both.")
        raise typer.Exit(2)
    with _collection(data, _signals(signals)) as collection:
        if query is not None and query.startswith("id:"):
            image_id = _parse_id(query[3:])
            results = collection.search(
                image_id=image_id, text=text, k=k, signals=_signals(signals), collapse=not no_collapse
            )
        else:
            results = collection.search(
                query, text=text, k=k, signals=_signals(signals), collapse=not no_collapse
            )
        _show_results(results, as_json)


@app.command()
def similar(
    image_id: Annotated[int, typer.Argument(help="Id of an indexed image.")],
    k: KOption = None,
    signals: SignalsOption = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find images similar to an indexed image."""
    with _collection(data, _signals(signals)) as collection:
        _show_results(collection.similar(image_id, k=k, signals=_signals(signals)), as_json)


def _parse_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        errors.print(f"[red]Error:[/] '{text}' is not an image id (a whole number).")
        raise typer.Exit(2) from None


def _show_results(results: list[Result], as_json: bool) -> None:
    if as_json:
        _print_json([r.as_dict() for r in results])
    elif not console.is_terminal:
        for r in results:
            sys.stdout.write(f"{r.score:.4f}\t{r.location}\n")
    else:
        _results_table(results)
    if not results:
        errors.print("No results.")
        raise typer.Exit(1)


def _results_table(results: list[Result]) -> None:
    table = Table(show_lines=False)
    for column in ("#", "score", "id", "why", "where"):
        table.add_column(column, overflow="fold")
    for rank, r in enumerate(results, 1):
        why = ", ".join(_why(e) for e in r.why)
        where = "\n".join(_place(o) for o in r.occurrences) or "-"
        if r.collapsed:
            where += f"\n(+{len(r.collapsed)} near-identical: {', '.join(map(str, r.collapsed))})"
        table.add_row(str(rank), f"{r.score:.3f}", str(r.image_id), why, where)
    console.print(table)


def _why(e: Any) -> str:
    if e.match is not None:
        xs, ys = zip(*e.match.result_region, strict=True)
        box = f"{min(xs):.0%}-{max(xs):.0%} x {min(ys):.0%}-{max(ys):.0%}"
        mirrored = ", mirrored" if e.match.mirrored else ""
        return f"{e.signal} {e.match.inliers} inliers (region {box} of it{mirrored})"
    return f"{e.signal} {e.distance:.3g}" if e.distance is not None else f"{e.signal} {e.similarity:.2f}"


def _place(o: Any) -> str:
    parts = [o.uri]
    if o.box is not None:
        parts = [f"{o.describe_tile()} (id {o.parent_id})" if o.parent_id else o.describe_tile()]
    if o.title:
        parts.insert(0, f"[bold]{o.title}[/]")
    if o.url:
        parts.append(f"url {o.url}")
    if o.page_url:
        parts.append(f"page {o.page_url}")
    if o.extra:
        shown = [f"{k}={_short(v)}" for k, v in list(o.extra.items())[:EXTRA_SHOWN]]
        more = len(o.extra) - EXTRA_SHOWN
        parts.append(" ".join(shown) + (f" (+{more} more: lookalike info)" if more > 0 else ""))
    return " · ".join(parts)


EXTRA_SHOWN = 4


def _short(value: object, width: int = 40) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- looking after the collection ------------------------------------------------------


@app.command()
def remove(
    target: Annotated[str, typer.Argument(help="An image id, or a path, folder, archive or URL.")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove an image by id, or everything indexed from a path."""
    with _collection(data) as collection:
        removed = collection.remove(int(target) if target.isdigit() else target)
        if as_json:
            _print_json({"removed": removed})
        else:
            console.print(f"removed {len(removed)} image(s)")


@app.command()
def info(
    image_id: Annotated[int, typer.Argument(help="Id of an indexed image.")],
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show an image's facts, every place it was seen, and its features."""
    with _collection(data) as collection:
        facts = collection.info(image_id)
        if as_json:
            _print_json(facts)
            return
        image = facts["image"]
        console.print(
            f"[bold]image {image['id']}[/] {image['width']}x{image['height']} {image['format']} "
            f"{image['mode']}, {image['bytes']} bytes, sha256 {image['sha256']}"
        )
        console.print(f"features: {', '.join(f'{k} v{v}' for k, v in facts['features'].items())}")
        for o in facts["occurrences"]:
            console.print(f"  {o['uri']}")
            for key in ("title", "url", "page_url", "tags", "text", "extra"):
                if key in o:
                    console.print(f"    {key}: {o[key]}")


@app.command()
def stats(
    failures: Annotated[bool, typer.Option("--failures", help="List failed files with reasons.")] = False,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Counts, failures by reason, index sizes and disk use."""
    with _collection(data) as collection:
        facts = collection.stats()
        if failures:
            facts["failure_list"] = collection.catalog.images.failures(limit=1000)
        if as_json:
            _print_json(facts)
            return
        console.print(f"[bold]{facts['home']}[/] (catalog: {facts['catalog']})")
        console.print(
            f"images {facts['images']}, places {facts['occurrences']}, failed {facts['failed']}, "
            f"disk {facts['disk_bytes'] / 1e6:.1f} MB, catalog {facts['catalog_bytes'] / 1e6:.1f} MB"
        )
        for reason, count in facts["failures_by_reason"].items():
            console.print(f"  failed [yellow]{reason}[/]: {count}")
        for name, index in facts["indexes"].items():
            size = "on its server" if index["bytes"] is None else f"{index['bytes'] / 1e6:.2f} MB"
            console.print(f"index {name}: {index['vectors']} vectors, {size} ({index['backend']})")
        _print_jobs(facts.get("jobs", {}))
        for item in facts.get("failure_list", []):
            console.print(f"  {item['reason']}\t{item['uri']}\t{item['detail']}")


@app.command()
def dupes(
    max_bits: Annotated[
        int | None, typer.Option(help="Largest phash distance (of 576 bits) counted as near-identical.")
    ] = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Groups of exact copies and near-identical images."""
    with _collection(data) as collection:
        groups = collection.dupes(max_bits)
        if as_json:
            _print_json(groups)
            return
        for number, group in enumerate(groups, 1):
            console.print(f"[bold]group {number}[/] ({group['kind']})")
            for image in group["images"]:
                for location in image["locations"]:
                    sys.stdout.write(f"{number}\t{image['id']}\t{image['distance']}\t{location}\n")
        if not groups:
            console.print("no duplicates")


@app.command()
def rebuild(data: DataOption = None, as_json: JsonOption = False) -> None:
    """Rebuild every index from the catalog (the catalog is the truth)."""
    with _collection(data) as collection:
        counts = collection.rebuild()
        if as_json:
            _print_json(counts)
        else:
            for name, count in counts.items():
                console.print(f"index {name}: {count} vectors")


@app.command()
def doctor(as_json: JsonOption = False) -> None:
    """What is installed, which optional parts are missing, and how to add them."""
    from lookalike.app import discover
    from lookalike.usecases.doctor import checks

    found = checks(discover())
    if as_json:
        _print_json(found)
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    for column in ("status", "part", "detail"):
        table.add_column(column, overflow="fold")
    for item in found:
        mark = "[green]ok[/]" if item["ok"] else "[yellow]missing[/]"
        detail = item["detail"] + (f"\n→ {item['fix']}" if not item["ok"] and item.get("fix") else "")
        table.add_row(mark, item["name"], detail)
    console.print(table)


@app.command()
def demo(
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Build a small offline demo collection (sample photos and edited copies) and search it."""
    from lookalike.usecases.demo import build_demo

    target = data or Path("lookalike-data")
    with _collection(target) as collection:
        with _progress(quiet=as_json) as report_progress:
            query, report = build_demo(collection.app, report_progress)
        results = collection.search(query, k=6)
        if as_json:
            _print_json(
                {"index": report.as_dict(), "query": str(query), "results": [r.as_dict() for r in results]}
            )
            return
        console.print(
            f"Indexed {report.images_new + report.images_known} images from {report.files} files "
            f"into {collection.home}."
        )
        console.print(
            f"Searching with [bold]{query}[/] (a smaller, brighter, re-encoded copy of a sample photo):"
        )
        _results_table(results)
        console.print(
            f"Next: lookalike search --data {target} {query}   ·   lookalike similar --data {target} "
            f"{results[0].image_id if results else 1}   ·   lookalike search --data {target} --text coffee"
        )


# ---- many machines ----------------------------------------------------------------------


@app.command()
def worker(
    drain: Annotated[
        bool, typer.Option("--drain", help="Stop when no job is pending, instead of waiting for more.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Name shown on claimed jobs [default: host:pid].")] = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Index what the job queue holds, beside any number of other workers on any machines.

    Queue work with `lookalike index --queue` and `lookalike crawl --queue`. Use a shared catalog
    (LOOKALIKE_CATALOG=postgresql://...) for workers on several machines. Stops cleanly on
    Ctrl-C or SIGTERM; a worker killed outright has its jobs taken again when their lease expires.
    """
    import signal

    from lookalike.usecases.worker import Worker

    with _collection(data) as collection:
        chosen = Worker(collection.app, name, log=None if as_json else lambda line: errors.print(line))
        signal.signal(signal.SIGTERM, lambda *_: chosen.stop.set())
        if not as_json:
            errors.print(f"worker {chosen.name} started{' (until the queue is empty)' if drain else ''}")
        try:
            report = chosen.run(drain)
        except KeyboardInterrupt:
            chosen.stop.set()
            raise typer.Exit(130) from None
    if as_json:
        _print_json(report.as_dict())
        return
    console.print(
        f"worker {report.name}: {report.files} files, {report.images_new} new images, {report.failed} failed, "
        f"{report.jobs_failed} jobs failed, {report.crawls} crawl rounds ({report.seconds:.1f} s)"
    )


@app.command()
def jobs(data: DataOption = None, as_json: JsonOption = False) -> None:
    """The job queue: files and crawls by state (pending, running, done, failed), latest failures."""
    with _collection(data) as collection:
        status = collection.jobs()
    if as_json:
        _print_json(status)
        return
    _print_jobs(status["jobs"])
    for item in status["failures"]:
        console.print(f"  failed\t{item['key']}\t{item['last_error']}")


def _print_jobs(jobs: dict[str, dict[str, int]]) -> None:
    for kind, counts in jobs.items():
        console.print(f"{kind} jobs: " + ", ".join(f"{n} {state}" for state, n in counts.items()))


@app.command()
def migrate(
    catalog: Annotated[
        str | None, typer.Option(help="The target catalog, e.g. postgresql://user@host/db [default: the same].")
    ] = None,
    vectors: Annotated[
        str | None, typer.Option(help="The target vectors, e.g. milvus://host:19530 [default: the same].")
    ] = None,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move the collection to other backends (SQLite+FAISS to PostgreSQL+Milvus) without recomputing.

    Copies every catalog row with its id, the thumbnails, then builds the target's indexes from the
    copied features. Running it again after a stop finishes the copy. Afterwards, set
    LOOKALIKE_CATALOG and LOOKALIKE_VECTORS to the targets.
    """
    from lookalike.app import build
    from lookalike.usecases.migrate import migrate as run_migration

    if catalog is None and vectors is None:
        errors.print("[red]Error:[/] name a target: --catalog URL and/or --vectors URI")
        raise typer.Exit(2)
    with _collection(data) as source:
        targets = {k: v for k, v in {"catalog": catalog, "vectors": vectors}.items() if v is not None}
        settings = source.settings.model_copy(update=targets)
        with Collection(build(settings)) as target, _progress(as_json, "copying") as update:
            done = run_migration(source.app, target.app, update and (lambda table, n: update("file", n)))
    if as_json:
        _print_json(done)
        return
    copied = ", ".join(f"{n} {table}" for table, n in done["copied"].items()) or "nothing (same catalog)"
    console.print(f"copied {copied}")
    console.print("indexes built: " + ", ".join(f"{name} {n}" for name, n in done["indexes"].items()))
    env = " ".join(f"LOOKALIKE_{k.upper()}={v}" for k, v in targets.items())
    console.print(f"now use the new backends: {env}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: serve.host].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: serve.port].")] = None,
    workers: Annotated[int | None, typer.Option(help="Server processes [default: serve.workers].")] = None,
    data: DataOption = None,
) -> None:
    """Serve the web page and the REST API (needs the 'web' extra)."""
    try:
        import uvicorn

        from lookalike.api.app import create_app
    except ImportError as exc:
        errors.print(f"[red]Failed:[/] {exc.name or exc} is missing: pip install 'lookalike\\[web]'")
        raise typer.Exit(3) from None
    chosen = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    try:
        settings = load_settings(**({"home": data} if data else {}), serve=chosen)
    except ConfigError as exc:
        errors.print(f"[red]Error:[/] {exc}")
        raise typer.Exit(2) from None
    options = settings.serve
    shared = ", ".join(
        f"{name} {safe_url(value)}" for name, value in (("catalog", settings.catalog), ("vectors", settings.vectors)) if value
    )
    errors.print(
        f"Serving {settings.home.resolve()}{f' ({shared})' if shared else ''} on http://{options.host}:{options.port} "
        f"(API docs at /docs){'' if options.api_key else '; writes need no key (serve.api_key unset)'}"
    )
    if options.workers > 1:  # each process builds its app from the environment
        os.environ["LOOKALIKE_HOME"] = str(settings.home.resolve())
        uvicorn.run(
            "lookalike.api.app:app_from_environment",
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
        )
    else:
        uvicorn.run(create_app(settings), host=options.host, port=options.port)


from lookalike.cli.models import models_app  # noqa: E402  (the group uses this module's helpers)

app.add_typer(models_app, name="models")


def main() -> None:
    """Entry point of the ``lookalike`` command."""
    app()
