"""Crawling: walk a website's pages and index the images and archives they link to; URL lists."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.app import App
from lookalike.errors import ConfigError
from lookalike.ingest.pipeline import IngestReport, Progress
from lookalike.usecases.ingest import ingester

if TYPE_CHECKING:
    from lookalike.records import CrawlUrl
    from lookalike.sources.crawl import CrawlReport, Scope
    from lookalike.sources.crawl.recipe import Recipe

__all__ = ["crawl", "enqueue_crawl", "index_urls", "status"]


def crawl(
    app: App,
    starts: Sequence[str],
    *,
    follow: str | None = None,
    files: str | None = None,
    max_pages: int | None = None,
    max_depth: int | None = None,
    max_bytes: int | None = None,
    recrawl: bool = False,
    progress: Progress | None = None,
    file_urls: Sequence[CrawlUrl] = (),
    lease: float | None = None,
    recipe: Recipe | str | Path | Mapping[str, Any] | None = None,
) -> CrawlReport:
    """Crawl websites from ``starts`` and index the images and archives their pages link to.

    ``follow`` and ``files`` are regular expressions for the pages to walk and the
    file links to fetch (see :class:`~lookalike.sources.crawl.Scope`); pending
    work from an earlier, interrupted crawl is continued.  ``recrawl`` fetches finished
    URLs again with conditional requests.  ``file_urls`` are files to fetch as well.
    ``lease``: seconds each claimed URL is this crawl's alone (default: ``worker.lease`` on a
    shared catalog, where other crawls and workers may run at once; none on the embedded one).
    ``recipe`` (a TOML file, or a mapping) crawls a JSON API instead of ``starts``: see
    :func:`lookalike.usecases.recipe.crawl_recipe`, which returns its ``RecipeReport``.
    """
    if recipe is not None:
        from lookalike.usecases.recipe import crawl_recipe

        if starts or follow or files or max_depth is not None or file_urls:
            raise ConfigError("a recipe crawl takes no start URLs, --follow, --files or --max-depth")
        return crawl_recipe(
            app,
            recipe,
            max_pages=max_pages,
            max_bytes=max_bytes,
            recrawl=recrawl,
            progress=progress,
            lease=lease,
        )
    from lookalike.sources.crawl import Crawler, Politeness
    from lookalike.sources.fetch import Fetcher

    if lease is None:  # other crawls and workers may share a shared catalog's frontier
        lease = app.settings.worker.lease if app.catalog.shared else 0.0
    scope = _scope(app, starts, follow, files, max_depth)
    app.indexes.open_all()
    pipeline = ingester(app, progress)
    with Fetcher(app.settings.fetch) as fetcher:
        politeness = Politeness(fetcher, app.settings.crawl, app.settings.fetch.user_agent)
        crawler = Crawler(
            app.catalog.frontier,
            pipeline,
            IngestReport,
            fetcher,
            app.settings.crawl,
            app.settings.archive,
            politeness,
            progress,
            lease,
        )
        report = crawler.run(starts, scope, recrawl, max_pages, file_urls, max_bytes)
    app.catalog.images.sweep()  # content that a URL showed before it changed
    app.indexes.catch_up()
    return report


def _scope(
    app: App, starts: Sequence[str], follow: str | None, files: str | None, max_depth: int | None
) -> Scope:
    from lookalike.sources.crawl import Scope, check_selectors

    try:
        scope = Scope.build(starts, app.settings.crawl, follow, files, max_depth)
    except re.error as exc:
        raise ConfigError(f"bad --follow or --files pattern: {exc}") from None
    try:
        check_selectors(app.settings.crawl.selectors)
    except ValueError as exc:
        raise ConfigError(f"setting 'crawl.selectors' (LOOKALIKE_CRAWL__SELECTORS): {exc}") from None
    return scope


def index_urls(app: App, urls: str | Path, progress: Progress | None = None) -> CrawlReport:
    """Fetch and index a list of image (or archive) URLs: a text file, one URL or JSON object per line.

    The URLs join the crawl frontier, so the same fetcher, limits, robots.txt, retries
    and resumability apply, and a URL indexed before is not fetched again.
    """
    from lookalike.sources.files import load_urls

    return crawl(app, [], file_urls=load_urls(Path(urls)), progress=progress)


def enqueue_crawl(app: App, starts: Sequence[str], recrawl: bool = False, **options: Any) -> int:
    """Queue a crawl that every worker joins (they share the frontier); ``options`` as :func:`crawl`."""
    from lookalike.sources.crawl import Scope

    if options.get("recipe") is not None:
        return _enqueue_recipe(app, recrawl, **options)

    try:
        Scope.build(starts, app.settings.crawl, options.get("follow"), options.get("files"), None)
    except re.error as exc:
        raise ConfigError(f"bad --follow or --files pattern: {exc}") from None
    if recrawl:
        app.catalog.frontier.reset()
    chosen = {k: v for k, v in options.items() if v is not None}
    return app.catalog.jobs.add("crawl", [(" ".join(starts), {"starts": list(starts), **chosen})])


def _enqueue_recipe(app: App, recrawl: bool, recipe: Any, **options: Any) -> int:
    """Queue a recipe crawl: the recipe itself travels in the job (workers may not see its file)."""
    from lookalike.usecases.recipe import recipe_of

    chosen = recipe_of(recipe)
    if recrawl:
        app.catalog.frontier.reset()
    payload = {"starts": [], "recipe": chosen.model_dump(mode="json", exclude_defaults=True)}
    payload.update({k: v for k, v in options.items() if v is not None})
    return app.catalog.jobs.add("crawl", [(f"recipe {chosen.name or ''} {chosen.url}", payload)])


def status(app: App) -> dict[str, Any]:
    """The crawl frontier: URLs by kind and state, and the latest failures."""
    return {"urls": app.catalog.frontier.counts(), "failures": app.catalog.frontier.failures(20)}
