"""Which links a crawl takes (Scope) and the frontier entries a page makes; no server."""

from __future__ import annotations

import re

import pytest

from lookalike.records import CrawlUrl
from lookalike.settings import CrawlSettings
from lookalike.sources.crawl import Link, Page, Scope, frontier_entries

SITE = "https://art.example"


def scope(
    follow: str | None = None,
    files: str | None = None,
    max_depth: int | None = None,
    settings: CrawlSettings | None = None,
) -> Scope:
    starts = [f"{SITE}/", "http://Mirror.Example:8080/start"]
    return Scope.build(starts, settings or CrawlSettings(), follow, files, max_depth)


def test_build_takes_the_hosts_of_the_start_urls_lowercased() -> None:
    built = scope()
    assert built.hosts == frozenset({"art.example", "mirror.example:8080"})
    assert built.follow is None and built.files is None
    assert built.max_depth == CrawlSettings().max_depth


def test_build_without_same_site_allows_any_host() -> None:
    assert scope(settings=CrawlSettings(same_site=False)).hosts == frozenset()


def test_build_compiles_the_patterns_and_takes_the_depth() -> None:
    built = scope(r"/work/", r"\.zip$", max_depth=0, settings=CrawlSettings(max_depth=3))
    assert built.follow == re.compile(r"/work/") and built.files == re.compile(r"\.zip$")
    assert built.max_depth == 0  # the option wins over crawl.max_depth


def test_build_depth_defaults_to_the_setting() -> None:
    assert scope(settings=CrawlSettings(max_depth=3)).max_depth == 3


def test_build_refuses_a_bad_pattern() -> None:
    with pytest.raises(re.error):
        scope(follow="(")


@pytest.mark.parametrize(
    "url",
    [
        f"{SITE}/img/a.png",
        f"{SITE}/img/A.JPG",
        f"{SITE}/files/pack.zip",
        f"{SITE}/files/pack.tar.gz",
        f"{SITE}/files/comic.cbr",
        "https://cdn.elsewhere/img/a.webp?size=2",  # files may be on any host
    ],
)
def test_links_named_like_images_or_archives_are_files(url: str) -> None:
    assert scope().kind(Link(url), 1) == "file"


def test_an_image_shown_on_the_page_is_a_file_whatever_its_name() -> None:
    assert scope().kind(Link(f"{SITE}/thumb?id=3", embedded=True), 1) == "file"


def test_files_are_taken_past_the_depth_limit() -> None:
    assert scope(max_depth=1).kind(Link(f"{SITE}/a.png"), 9) == "file"


def test_other_links_are_pages_on_the_start_hosts() -> None:
    walk = scope()
    assert walk.kind(Link(f"{SITE}/work/1.html"), 1) == "page"
    assert walk.kind(Link("http://MIRROR.example:8080/x"), 1) == "page"
    assert walk.kind(Link("https://elsewhere.example/work/1.html"), 1) is None
    assert walk.kind(Link("http://mirror.example/x"), 1) is None  # another port is another site


def test_pages_anywhere_without_same_site() -> None:
    assert (
        scope(settings=CrawlSettings(same_site=False)).kind(Link("https://elsewhere.example/work/1.html"), 1)
        == "page"
    )


def test_pages_stop_past_the_depth_limit() -> None:
    walk = scope(max_depth=2)
    assert walk.kind(Link(f"{SITE}/deep.html"), 2) == "page"
    assert walk.kind(Link(f"{SITE}/deep.html"), 3) is None


def test_follow_picks_the_pages_to_walk() -> None:
    walk = scope(follow=r"/work/\d+\.html$")
    assert walk.kind(Link(f"{SITE}/work/2.html"), 1) == "page"
    assert walk.kind(Link(f"{SITE}/about.html"), 1) is None
    assert walk.kind(Link("https://elsewhere.example/work/2.html"), 1) is None  # and the hosts still hold
    assert walk.kind(Link(f"{SITE}/a.png"), 1) == "file"  # files are not pages to follow


def test_files_picks_the_file_links_and_drops_the_others() -> None:
    fetch = scope(files=r"\.zip$")
    assert fetch.kind(Link(f"{SITE}/files/pack.zip"), 1) == "file"
    assert fetch.kind(Link(f"{SITE}/img/a.png"), 1) is None  # named like a file: never a page
    assert fetch.kind(Link(f"{SITE}/img/b.png", embedded=True), 1) is None
    assert fetch.kind(Link(f"{SITE}/work/1.html"), 1) == "page"


def test_files_can_take_links_not_named_like_files() -> None:
    fetch = scope(files=r"/download\?id=")
    assert fetch.kind(Link(f"{SITE}/download?id=7"), 1) == "file"
    assert fetch.kind(Link("https://elsewhere.example/download?id=7"), 99) == "file"


def test_frontier_entries_carry_the_page_metadata_on_files() -> None:
    page = Page(
        url=f"{SITE}/work/1.html",
        title="Hero",
        text="A hero sprite",
        tags=("pixel", "hero"),
        extra={"licence": "CC-BY"},
        links=(
            Link(f"{SITE}/img/hero.png", embedded=True),
            Link(f"{SITE}/work/2.html"),
            Link("https://elsewhere.example/page.html"),
            Link(f"{SITE}/files/pack.zip"),
        ),
    )
    metadata = {"text": "A hero sprite", "tags": ["pixel", "hero"], "extra": {"licence": "CC-BY"}}
    assert list(frontier_entries(page, 2, scope())) == [
        CrawlUrl(f"{SITE}/img/hero.png", "file", 2, page_url=page.url, title="Hero", metadata=metadata),
        CrawlUrl(f"{SITE}/work/2.html", "page", 2),
        CrawlUrl(f"{SITE}/files/pack.zip", "file", 2, page_url=page.url, title="Hero", metadata=metadata),
    ]


def test_frontier_entries_past_the_depth_are_files_only() -> None:
    page = Page(url=f"{SITE}/", links=(Link(f"{SITE}/a.png"), Link(f"{SITE}/next.html")))
    assert [(e.url, e.kind) for e in frontier_entries(page, 1, scope(max_depth=0))] == [
        (f"{SITE}/a.png", "file")
    ]
