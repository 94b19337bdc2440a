"""Crawling: walk a website's pages and index the images and archives they link to; URL lists."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from lookalike.app import App
from lookalike.errors import ConfigError
from lookalike.ingest.pipeline import IngestReport, Progress
from lookalike.usecases.ingest import ingester

if TYPE_CHECKING:
    from lookalike.records import CrawlUrl
    from lookalike.settings import CrawlSettings
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
    recheck_files: bool = False,
    scope: str | None = None,
    allow_hosts: Sequence[str] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    delay: float | None = None,
    per_host: int | None = None,
    progress: Progress | None = None,
    file_urls: Sequence[CrawlUrl] = (),
    lease: float | None = None,
    recipe: Recipe | str | Path | Mapping[str, Any] | None = None,
) -> CrawlReport:
    """Crawl websites from ``starts`` and index the images and archives their pages link to.

    ``follow`` and ``files`` are regular expressions for the pages to walk and the
    file links to fetch; ``scope`` (``crawl.scope``: host, domain, any), ``allow_hosts``
    (hosts files may come from besides), ``include`` and ``exclude`` (regexes, added to the
    settings' lists) bound what is fetched (see :class:`~lookalike.sources.crawl.Scope`);
    pending work from an earlier, interrupted crawl is continued.  ``recrawl`` asks
    finished pages again with conditional requests (and the files their changes or max-age
    call for), ``recheck_files`` every file too.  ``delay`` and ``per_host`` replace those
    settings for this crawl.  ``file_urls`` are files to fetch as well.
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
    settings = _settings(app, delay, per_host)
    bounds = {"scope": scope, "allow_hosts": allow_hosts, "include": include, "exclude": exclude}
    built = _scope(app, starts, follow, files, max_depth, bounds)
    app.indexes.open_all()
    pipeline = ingester(app, progress)
    agent = settings.agent(app.settings.fetch.user_agent)
    with Fetcher(app.settings.fetch.model_copy(update={"user_agent": agent})) as fetcher:
        politeness = Politeness(fetcher, settings, agent)
        crawler = Crawler(
            app.catalog.frontier,
            pipeline,
            IngestReport,
            fetcher,
            settings,
            app.settings.archive,
            politeness,
            progress,
            lease,
        )
        report = crawler.run(starts, built, recrawl, max_pages, file_urls, max_bytes, recheck_files)
    app.catalog.images.sweep()  # content that a URL showed before it changed
    app.indexes.catch_up()
    return report


def _settings(app: App, delay: float | None, per_host: int | None) -> CrawlSettings:
    """``crawl`` settings with this crawl's own pace."""
    chosen = {k: v for k, v in {"delay": delay, "per_host": per_host}.items() if v is not None}
    try:
        return type(app.settings.crawl).model_validate({**app.settings.crawl.model_dump(), **chosen})
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'-'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"bad crawl option: {problems}") from None


def _scope(
    app: App,
    starts: Sequence[str],
    follow: str | None,
    files: str | None,
    max_depth: int | None,
    bounds: dict[str, Any],
) -> Scope:
    from lookalike.sources.crawl import Scope, check_selectors

    try:
        scope = Scope.build(starts, app.settings.crawl, follow, files, max_depth, **bounds)
    except re.error as exc:
        raise ConfigError(f"bad --follow, --files, --include or --exclude pattern: {exc}") from None
    if bounds.get("scope") not in (None, "host", "domain", "any"):
        raise ConfigError(f"bad --scope {bounds['scope']!r}: give host, domain or any")
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
    if options.get("recipe") is not None:
        return _enqueue_recipe(app, recrawl, **options)

    bounds = {k: options.get(k) or () for k in ("allow_hosts", "include", "exclude")}
    _scope(
        app,
        starts,
        options.get("follow"),
        options.get("files"),
        None,
        {"scope": options.get("scope"), **bounds},
    )
    _settings(app, options.get("delay"), options.get("per_host"))
    if recrawl or options.get("recheck_files"):
        app.catalog.frontier.reset(bool(options.get("recheck_files")))
    chosen = {k: v for k, v in options.items() if v is not None and k != "recheck_files"}
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


def status(app: App, limit: int = 20) -> dict[str, Any]:
    """The crawl frontier: URLs by kind and state, by host (with the reasons of refusals and
    failures), the reasons over all hosts, the latest failures and refusals, and the pages
    fetched last with what each says of itself (title, text, tags, author, licence...)."""
    frontier = app.catalog.frontier
    hosts: dict[str, dict[str, Any]] = {}
    reasons: Counter[str] = Counter()
    for host, state, reason, n in frontier.by_host():
        entry = hosts.setdefault(host, {"host": host, "states": {}, "reasons": {}})
        entry["states"][state] = entry["states"].get(state, 0) + n
        if reason is not None:
            entry["reasons"][reason] = entry["reasons"].get(reason, 0) + n
            reasons[reason] += n
    return {
        "urls": frontier.counts(),
        "hosts": list(hosts.values()),
        "reasons": dict(reasons.most_common()),
        "failures": frontier.failures(limit),
        "refusals": frontier.failures(limit, "refused"),
        "pages": frontier.pages(limit),
    }
