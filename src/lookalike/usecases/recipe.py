"""Crawl a JSON API with a recipe: its pages through the crawl frontier, its items' images indexed.

The recipe (:mod:`lookalike.sources.crawl.recipe`) says where the API is, how it pages and
which fields of an item are its images, title, description, price, tags and link.  The
API's pages are ``listing`` URLs of the same frontier as web pages, fetched by the same
crawler (fetch limits, public addresses only, robots.txt, delay, retries, leases), so a
killed recipe crawl resumes where it stopped and running it again fetches nothing new;
``recrawl`` asks for every page and file again with conditional requests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.app import App
from lookalike.ingest.pipeline import IngestReport, Progress
from lookalike.records import CrawlUrl
from lookalike.sources.crawl import CrawlReport
from lookalike.sources.crawl.crawler import provenance
from lookalike.usecases.ingest import ingester

if TYPE_CHECKING:
    from lookalike.sources.crawl.recipe import Recipe

__all__ = ["RecipeReport", "crawl_recipe", "recipe_of"]


@dataclass
class RecipeReport(CrawlReport):
    """What one recipe crawl did: the crawl's counts (its pages are API pages), and the items read."""

    items: int = 0
    image_urls: int = 0  # image URLs the items named (each fetched once, however many name it)
    items_without_images: int = 0
    places_changed: int = 0  # images indexed before whose item now says something else


def recipe_of(recipe: Recipe | str | Path | Mapping[str, Any]) -> Recipe:
    """A recipe from a TOML file's path, a mapping (a queued crawl's), or as it is."""
    from lookalike.sources.crawl.recipe import Recipe, load_recipe, parse_recipe

    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, Mapping):
        return parse_recipe(recipe)
    return load_recipe(recipe)


def crawl_recipe(
    app: App,
    recipe: Recipe | str | Path | Mapping[str, Any],
    *,
    max_pages: int | None = None,
    max_bytes: int | None = None,
    recrawl: bool = False,
    progress: Progress | None = None,
    lease: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> RecipeReport:
    """Crawl the API a recipe describes and index the images its items name.

    ``max_pages`` and ``max_bytes`` (defaults ``crawl.max_pages``, ``crawl.max_bytes``)
    cap this run; what is left stays pending for the next.  The recipe's own
    ``pagination.max_pages`` is where the API's pages end.  Pending work of an earlier,
    interrupted crawl is continued (API pages read by the recipe they were found with).
    The recipe's ``[headers]`` are sent to the API's origin, their ``${NAME}`` read from the
    environment now (``environ``, default the process's; ConfigError when one is not set).
    """
    from lookalike.sources.crawl import Crawler, Politeness, Scope
    from lookalike.sources.crawl.recipe import LISTING, ListingReader, same_origin
    from lookalike.sources.fetch import Fetcher

    chosen = recipe_of(recipe)
    sent = chosen.request_headers(
        os.environ if environ is None else environ
    )  # before anything is fetched: a missing key stops here
    if lease is None:  # other crawls and workers may share a shared catalog's frontier
        lease = app.settings.worker.lease if app.catalog.shared else 0.0
    first = chosen.listing(0)
    reader = ListingReader(progress, _refresh(app), chosen)
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
            readers={LISTING: reader},
            headers=lambda url: sent if sent and same_origin(url, first.url) else {},
        )
        scope = Scope.build([first.url], app.settings.crawl)
        report = crawler.run([], scope, recrawl, max_pages, [first], max_bytes)
    app.catalog.images.sweep()  # content that a URL showed before it changed
    app.indexes.catch_up()
    return RecipeReport(
        **report.__dict__,
        items=reader.items,
        image_urls=reader.images,
        items_without_images=reader.without_images,
        places_changed=reader.changed,
    )


def _refresh(app: App) -> Callable[[Sequence[CrawlUrl]], int]:
    """What an API page says of its images now, onto the frontier and the places indexed before.

    An image whose item changed (a new price, a tag more) keeps the same bytes, so fetching it
    again changes nothing: its frontier row (what a later fetch records it with) and its place
    are brought up to date here instead.  New images are not indexed yet: nothing to change.
    An image that items with other links name too is a place of each (the crawl's refs).
    """

    def refresh(entries: Sequence[CrawlUrl]) -> int:
        frontier = app.catalog.frontier
        frontier.describe(entries)
        # an image's own place is its first item's; another item's place of it is brought up to
        # date by the crawler (Sink.attach), as a web page's is
        first = {e.url: row.page_url for e in entries if (row := frontier.get(e.url)) and row.page_url}
        places = [(e.url, provenance(e)) for e in entries if first.get(e.url, e.page_url) == e.page_url]
        return app.catalog.texts.annotate_changes(places)[1]

    return refresh
