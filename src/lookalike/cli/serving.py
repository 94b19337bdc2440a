"""``lookalike serve``, ``worker`` and ``demo``: the collection at work for others."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from lookalike.catalog.postgres import safe_url
from lookalike.cli.common import DataOption, JsonOption, errors, exit_codes, opened
from lookalike.cli.progress import file_progress
from lookalike.cli.render import Lines, Part, note, show
from lookalike.cli.searching import RESULTS
from lookalike.search.planner import Result
from lookalike.settings import Settings, load_settings

if TYPE_CHECKING:
    from lookalike.usecases.worker import WorkerReport

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    for command in (demo, worker, serve):
        app.command()(command)


# ---- demo -------------------------------------------------------------------------------


def demo(data: DataOption = None, as_json: JsonOption = False) -> None:
    """Build a small offline demo collection (sample photos and edited copies) and search it."""
    from lookalike.usecases.demo import build_demo

    target = data or Path("lookalike-data")
    with opened(target, create=True) as collection:
        with file_progress(quiet=as_json) as report_progress:
            query, report = build_demo(collection.app, report_progress)
        results = collection.search(query, k=6)
        shown = {
            "index": report,
            "query": query,
            "results": results,
            "home": collection.home,
            "target": target,
        }
        show(shown, Lines(_demo_intro), RESULTS_OF_DEMO, Lines(_demo_next), as_json=as_json, data=_demo_json)


def _demo_json(shown: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": shown["index"].as_dict(),
        "query": str(shown["query"]),
        "results": [r.as_dict() for r in shown["results"]],
    }


def _demo_intro(shown: dict[str, Any]) -> list[str]:
    report = shown["index"]
    return [
        f"Indexed {report.images_new + report.images_known} images from {report.files} files "
        f"into {shown['home']}.",
        f"Searching with [bold]{shown['query']}[/] (a smaller, brighter, re-encoded copy of a sample photo):",
    ]


RESULTS_OF_DEMO = Part[dict[str, Any], list[Result]](RESULTS, lambda shown: shown["results"])


def _demo_next(shown: dict[str, Any]) -> list[str]:
    target, query, results = shown["target"], shown["query"], shown["results"]
    return [
        f"Next: lookalike search --data {target} {query}   ·   lookalike similar --data {target} "
        f"{results[0].image_id if results else 1}   ·   lookalike search --data {target} --text coffee"
    ]


# ---- worker -----------------------------------------------------------------------------

DrainOption = Annotated[
    bool, typer.Option("--drain", help="Stop when no job is pending, instead of waiting for more.")
]
NameOption = Annotated[str | None, typer.Option(help="Name shown on claimed jobs [default: host:pid].")]


def worker(
    drain: DrainOption = False, name: NameOption = None, data: DataOption = None, as_json: JsonOption = False
) -> None:
    """Index what the job queue holds, beside any number of other workers on any machines.

    Queue work with `lookalike index --queue` (files), `lookalike index --ocr --queue` (a signal
    for the images indexed so far) and `lookalike crawl --queue`. Use a shared catalog
    (LOOKALIKE_CATALOG=postgresql://...) for workers on several machines. Stops cleanly on
    Ctrl-C or SIGTERM; a worker killed outright has its jobs taken again when their lease expires.
    """
    import signal

    from lookalike.usecases.worker import Worker

    with opened(data) as collection:
        chosen = Worker(collection.app, name, log=None if as_json else lambda line: errors.print(line))
        signal.signal(signal.SIGTERM, lambda *_: chosen.stop.set())
        note(f"worker {chosen.name} started{' (until the queue is empty)' if drain else ''}", as_json)
        try:
            report = chosen.run(drain)
        except KeyboardInterrupt:
            chosen.stop.set()
            raise typer.Exit(130) from None
    show(report, Lines(_worked), as_json=as_json)


def _worked(report: WorkerReport) -> list[str]:
    return [
        f"worker {report.name}: {report.files} files, {report.images_new} new images, "
        f"{report.backfilled} features backfilled, {report.failed} failed, "
        f"{report.jobs_failed} jobs failed, {report.crawls} crawl rounds ({report.seconds:.1f} s)"
    ]


# ---- serve ------------------------------------------------------------------------------

HostOption = Annotated[str | None, typer.Option(help="Address to listen on [default: serve.host].")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on [default: serve.port].")]
WorkersOption = Annotated[int | None, typer.Option(help="Server processes [default: serve.workers].")]
NoAuthOption = Annotated[
    bool,
    typer.Option(
        "--no-auth",
        help="Listen on a non-loopback --host without serve.api_key (otherwise refused) [default: serve.no_auth].",
    ),
]


def serve(
    host: HostOption = None,
    port: PortOption = None,
    workers: WorkersOption = None,
    no_auth: NoAuthOption = False,
    data: DataOption = None,
) -> None:
    """Serve the web page and the REST API (needs the 'web' extra).

    Listening on anything but loopback (--host 0.0.0.0) needs an API key
    (LOOKALIKE_SERVE__API_KEY) or an explicit --no-auth.
    """
    try:
        import uvicorn

        from lookalike.api.app import create_app
        from lookalike.api.exposure import check_exposure
    except ImportError as exc:
        errors.print(f"[red]Failed:[/] {exc.name or exc} is missing: pip install 'lookalike\\[web]'")
        raise typer.Exit(3) from None
    chosen: dict[str, Any] = {"host": host, "port": port, "workers": workers, "no_auth": no_auth or None}
    with exit_codes():
        settings = load_settings(
            **({"home": data} if data else {}), serve={k: v for k, v in chosen.items() if v is not None}
        )
        check_exposure(settings.serve)
    _say_if_empty(settings)
    _announce(settings)
    _run(settings, uvicorn.run, create_app)


def _say_if_empty(settings: Settings) -> None:
    """Stop when there is no collection; start over an empty one, but say so and how to fill it."""
    with opened(settings.home) as collection:  # the settings read above; no collection: exit 2
        images = collection.catalog.images.counts()["images"]
    if images == 0:
        errors.print(
            f"[yellow]The collection is empty:[/] index images first, e.g. lookalike index "
            f"--data {escape(str(settings.home))} ~/Pictures (the page says so until then)"
        )


def _run(settings: Settings, run: Any, create_app: Any) -> None:
    """One process serves the app built here; several build theirs from the environment."""
    options = settings.serve
    if options.workers > 1:
        os.environ["LOOKALIKE_HOME"] = str(settings.home.resolve())
        factory = "lookalike.api.app:app_from_environment"
        run(factory, factory=True, host=options.host, port=options.port, workers=options.workers)
    else:
        run(create_app(settings), host=options.host, port=options.port)


def _announce(settings: Settings) -> None:
    from lookalike.api.exposure import is_loopback  # the web extra is there: serve checked

    options = settings.serve
    backends = (("catalog", settings.catalog), ("vectors", settings.vectors))
    shared = ", ".join(f"{name} {safe_url(value)}" for name, value in backends if value)
    errors.print(
        f"Serving {settings.home.resolve()}{f' ({shared})' if shared else ''} on http://{options.host}:{options.port} "
        f"(API docs at /docs){'' if options.api_key else '; writes need no key (serve.api_key unset)'}"
    )
    if options.api_key is None and options.no_auth and not is_loopback(options.host):
        errors.print(
            "[yellow]Warning:[/] --no-auth: anyone who reaches this address can add and delete images"
        )
