"""Crawling: walk a website's pages and fetch the images and archives they link to.

* :mod:`.crawler`: the loop (:class:`Crawler`, :class:`CrawlReport`);
* :mod:`.scope`: which links are taken (:class:`Scope`, :func:`frontier_entries`);
* :mod:`.politeness`: robots.txt and the pace per host (:class:`Politeness`);
* :mod:`.ports`: what the crawler needs from ingest and the catalog (:class:`Sink`,
  :class:`Tally`, :class:`Frontier`);
* :mod:`.pages`: reading a page's links, and what it says of each (:class:`Page`);
* :mod:`.metadata` and :mod:`.schema`: what markup says about a work (:class:`About`);
* :mod:`.sitemaps`: sitemaps, sitemap indexes and RSS/Atom feeds;
* :mod:`.documents`: which of those readers a fetched document needs (:func:`read_page`).
"""

from lookalike.sources.crawl.crawler import Crawler, CrawlReport, Progress
from lookalike.sources.crawl.documents import read_page
from lookalike.sources.crawl.metadata import About
from lookalike.sources.crawl.pages import Link, Page, check_selectors, parse_page
from lookalike.sources.crawl.politeness import ROBOTS_DISALLOWED, Politeness
from lookalike.sources.crawl.ports import Frontier, Sink, Tally
from lookalike.sources.crawl.scope import Scope, frontier_entries

__all__ = [
    "ROBOTS_DISALLOWED",
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
    "frontier_entries",
    "parse_page",
    "read_page",
]
