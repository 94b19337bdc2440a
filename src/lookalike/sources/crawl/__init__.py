"""Crawling: walk a website's pages and fetch the images and archives they link to.

* :mod:`.crawler`: the loop (:class:`Crawler`, :class:`CrawlReport`);
* :mod:`.scope`: which links are taken and why others are refused (:class:`Scope`,
  :func:`frontier_entries`);
* :mod:`.politeness`: robots.txt and the pace per host (:class:`Politeness`);
* :mod:`.freshness`: how long a fetched file stays fresh (:func:`fresh_until`);
* :mod:`.ports`: what the crawler needs from ingest and the catalog (:class:`Sink`,
  :class:`Tally`, :class:`Frontier`);
* :mod:`.pages`: reading a page's links, and what it says of each (:class:`Page`);
* :mod:`.metadata` and :mod:`.schema`: what markup says about a work (:class:`About`);
* :mod:`.sitemaps`: sitemaps, sitemap indexes and RSS/Atom feeds;
* :mod:`.documents`: which of those readers a fetched document needs (:func:`read_page`);
* :mod:`.recipe`: crawl recipes for JSON APIs (their pages are ``listing`` URLs, read by
  :class:`~.recipe.ListingReader`), with paths into JSON from :mod:`.jsonpath`.
"""

from lookalike.sources.crawl.crawler import Crawler, CrawlReport, Progress
from lookalike.sources.crawl.documents import read_page
from lookalike.sources.crawl.freshness import fresh_until
from lookalike.sources.crawl.metadata import About
from lookalike.sources.crawl.pages import Link, Page, check_selectors, parse_page
from lookalike.sources.crawl.politeness import ROBOTS, ROBOTS_DISALLOWED, Politeness
from lookalike.sources.crawl.ports import Frontier, Sink, Tally
from lookalike.sources.crawl.scope import (
    EXCLUDED,
    MAX_DEPTH,
    OUT_OF_SCOPE,
    SCOPE_REASONS,
    Scope,
    frontier_entries,
    registrable_domain,
)

__all__ = [
    "EXCLUDED",
    "MAX_DEPTH",
    "OUT_OF_SCOPE",
    "ROBOTS",
    "ROBOTS_DISALLOWED",
    "SCOPE_REASONS",
    "About",
    "CrawlReport",
    "Crawler",
    "Frontier",
    "Link",
    "Page",
    "Politeness",
    "Progress",
    "Scope",
    "Sink",
    "Tally",
    "check_selectors",
    "fresh_until",
    "frontier_entries",
    "parse_page",
    "read_page",
    "registrable_domain",
]
