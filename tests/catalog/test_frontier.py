"""The crawl frontier on every dialect: refusals with reasons, hosts, re-crawl resets, file freshness."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from lookalike.catalog import Catalog, open_catalog
from lookalike.catalog.frontier import ROBOTS
from lookalike.catalog.schema import migrations
from lookalike.records import CrawlUrl
from lookalike.sources.crawl import ROBOTS as CRAWLER_ROBOTS

SITE = "https://art.example"


def states(catalog: Catalog) -> dict[str, str]:
    rows = catalog.frontier.db.all("SELECT url, state FROM crawl_url")
    return {url[len(SITE) :] if url.startswith(SITE) else url: state for url, state in rows}


def test_the_frontier_and_the_crawler_name_robots_refusals_alike() -> None:
    assert ROBOTS == CRAWLER_ROBOTS


def test_refused_urls_are_kept_with_reason_and_host(catalog: Catalog) -> None:
    added = catalog.frontier.add(
        [
            CrawlUrl(f"{SITE}/a.html", "page"),
            CrawlUrl(
                "https://CDN.example:8443/x.png",
                "file",
                1,
                "refused",
                reason="out_of_scope",
                last_error="far",
            ),
        ]
    )
    assert added == 1  # the refused one is kept, not pending
    assert [u.url for u in catalog.frontier.claim(10)] == [f"{SITE}/a.html"]
    catalog.frontier.failed(f"{SITE}/a.html", "HTTP 404", "http_404")
    assert catalog.frontier.counts()["file"] == {"pending": 0, "done": 0, "failed": 0, "refused": 1}
    assert catalog.frontier.by_host() == [
        ("art.example", "failed", "http_404", 1),
        ("cdn.example:8443", "refused", "out_of_scope", 1),
    ]
    [refused] = catalog.frontier.failures(10, "refused")
    assert (refused["reason"], refused["last_error"]) == ("out_of_scope", "far")


def test_a_refused_url_found_pending_is_taken_up_but_not_one_robots_refused(catalog: Catalog) -> None:
    frontier = catalog.frontier
    frontier.add([CrawlUrl(f"{SITE}/deep.html", "page", 9, "refused", reason="max_depth")])
    frontier.add([CrawlUrl(f"{SITE}/private.html", "page", 1)])
    frontier.claim(10)
    frontier.refused([(f"{SITE}/private.html", ROBOTS, "disallowed by robots.txt")])
    assert frontier.add([CrawlUrl(f"{SITE}/deep.html", "page", 2)]) == 1  # a shorter path to it
    assert frontier.add([CrawlUrl(f"{SITE}/private.html", "page", 1)]) == 0
    assert frontier.add([CrawlUrl(f"{SITE}/deep.html", "page", 3)]) == 0  # pending already: kept
    assert [(u.url, u.depth) for u in frontier.claim(10)] == [(f"{SITE}/deep.html", 2)]
    assert states(catalog)["/private.html"] == "refused"


def test_refusals_can_be_weighed_again_and_requeued(catalog: Catalog) -> None:
    frontier = catalog.frontier
    frontier.add(
        [
            CrawlUrl("https://cdn.example/1.png", "file", 1, "refused", reason="out_of_scope"),
            CrawlUrl(f"{SITE}/x.html", "page", 7, "refused", reason="max_depth"),
        ]
    )
    frontier.add([CrawlUrl(f"{SITE}/p.html", "page")])
    frontier.claim(10)
    frontier.refused([(f"{SITE}/p.html", ROBOTS, "no")])
    found = frontier.refusals(["out_of_scope", "max_depth"])
    assert sorted((u.url, u.kind, u.depth) for u in found) == [
        (f"{SITE}/x.html", "page", 7),
        ("https://cdn.example/1.png", "file", 1),
    ]
    assert frontier.requeue(["https://cdn.example/1.png"]) == 1
    assert frontier.pending(("file",)) == 1 and frontier.pending(("page",)) == 0


def test_a_recrawl_asks_pages_and_only_the_files_that_are_stale(catalog: Catalog) -> None:
    frontier = catalog.frontier
    names = ["page.html", "plain.png", "stale.png", "fresh.png", "broken.png", "robots.png", "far.png"]
    frontier.add([CrawlUrl(f"{SITE}/{n}", "page" if n.endswith("html") else "file") for n in names])
    frontier.claim(10)
    now = time.time()
    frontier.done(f"{SITE}/page.html", '"e"', None, "p1")
    frontier.done(f"{SITE}/plain.png", None, None, "s1")  # said nothing of its freshness
    frontier.done(f"{SITE}/stale.png", None, None, "s2", fresh_until=now - 1)
    frontier.done(f"{SITE}/fresh.png", None, None, "s3", fresh_until=now + 3600)
    frontier.failed(f"{SITE}/broken.png", "HTTP 500", "http_500")
    frontier.refused([(f"{SITE}/robots.png", ROBOTS, "no"), (f"{SITE}/far.png", "out_of_scope", "far")])
    assert frontier.reset() == 4
    assert states(catalog) == {
        "/page.html": "pending",
        "/plain.png": "done",
        "/stale.png": "pending",
        "/fresh.png": "done",
        "/broken.png": "pending",
        "/robots.png": "pending",
        "/far.png": "refused",  # weighed again by the crawl's scope, not by a reset
    }
    frontier.claim(10)
    for n in ("page.html", "stale.png", "broken.png", "robots.png"):
        frontier.done(f"{SITE}/{n}")
    assert frontier.reset(recheck_files=True) == 6  # every file too
    assert frontier.get(f"{SITE}/page.html").etag == '"e"'  # type: ignore[union-attr]


def test_the_files_of_a_changed_page_are_asked_again_once(catalog: Catalog) -> None:
    frontier = catalog.frontier
    frontier.add([CrawlUrl(f"{SITE}/{n}.png", "file") for n in ("a", "b")])
    frontier.claim(10)
    frontier.done(f"{SITE}/a.png", None, None, "1")
    started = time.time() + 0.001
    time.sleep(0.01)
    frontier.done(f"{SITE}/b.png", None, None, "2")  # fetched in this run already
    assert frontier.revalidate([f"{SITE}/a.png", f"{SITE}/b.png", f"{SITE}/none.png"], started) == 1
    assert [u.url for u in frontier.claim(10)] == [f"{SITE}/a.png"]


def _old_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    for number, script in migrations("sqlite"):
        if number <= 7:
            db.executescript(script)
    db.execute("PRAGMA user_version = 7")
    return_rows(db.execute, "?")
    db.commit()
    db.close()


def return_rows(execute: object, mark: str) -> None:
    """Rows of a schema-7 frontier: one done, one refused by robots.txt (then a failure), one failed."""
    sql = (
        "INSERT INTO crawl_url(url, kind, state, last_error, updated_at) VALUES "
        f"({mark}, 'page', 'done', NULL, 1), ({mark}, 'file', 'failed', 'disallowed by robots.txt', 1),"
        f" ({mark}, 'file', 'failed', 'HTTP 404', 1)"
    )
    execute(
        sql, ("https://A.example:81/x/y.html", "https://a.example:81/private/p.png", "http://b.example/z.png")
    )  # type: ignore[operator]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migration_keeps_the_frontier_and_names_the_refusals(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if dialect == "sqlite":
        where = str(tmp_path / "c.sqlite")
        _old_sqlite(Path(where))
    else:
        import psycopg

        where = request.getfixturevalue("postgres_url")
        with psycopg.connect(where, autocommit=True) as db:
            for number, script in migrations("postgresql"):
                if number <= 7:
                    db.execute(script)  # type: ignore[call-overload]
            db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            db.execute("INSERT INTO schema_version VALUES (7)")
            return_rows(db.execute, "%s")
    catalog = open_catalog(where, tmp_path)
    try:
        assert catalog.schema_version == 12
        assert sorted(catalog.frontier.by_host()) == [
            ("a.example:81", "done", None, 1),
            ("a.example:81", "refused", "robots", 1),
            ("b.example", "failed", "fetch_failed", 1),
        ]
        assert catalog.frontier.reset() == 3  # a re-crawl asks the robots refusal again
    finally:
        catalog.close()
