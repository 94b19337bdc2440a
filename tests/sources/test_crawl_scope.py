"""Which links a crawl takes (Scope), why it refuses the others, and the frontier entries a page makes; no server."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from lookalike.records import CrawlUrl
from lookalike.settings import CrawlSettings
from lookalike.sources.crawl import (
    EXCLUDED,
    MAX_DEPTH,
    OUT_OF_SCOPE,
    Link,
    Page,
    Scope,
    frontier_entries,
    registrable_domain,
)

SITE = "https://art.example"
STARTS = [f"{SITE}/", "http://Mirror.Example:8080/start"]


def scope(
    follow: str | None = None,
    files: str | None = None,
    max_depth: int | None = None,
    settings: CrawlSettings | None = None,
    **bounds: object,
) -> Scope:
    return Scope.build(STARTS, settings or CrawlSettings(), follow, files, max_depth, **bounds)  # type: ignore[arg-type]


def taken(walk: Scope, link: Link, depth: int) -> str | None:
    """What a crawl does with a link: "file", "page", or None (refused)."""
    kind = walk.kind(link)
    return None if walk.refusal(link.url, kind, depth) else kind


def reason(walk: Scope, url: str, depth: int = 1, embedded: bool = False) -> str | None:
    link = Link(url, embedded)
    refused = walk.refusal(url, walk.kind(link), depth)
    return refused[0] if refused else None


def test_build_takes_the_hosts_of_the_start_urls_lowercased() -> None:
    built = scope()
    assert built.hosts == frozenset({"art.example", "mirror.example:8080"})
    assert built.follow is None and built.files is None and built.domains == frozenset()
    assert built.max_depth == CrawlSettings().max_depth


def test_scope_any_allows_any_host() -> None:
    assert scope(settings=CrawlSettings(scope="any")).hosts == frozenset()
    assert scope(scope="any").hosts == frozenset()  # the option wins over the setting


def test_same_site_was_replaced_by_scope() -> None:
    with pytest.raises(ValidationError, match=r"crawl\.scope"):
        CrawlSettings(same_site=False)  # type: ignore[call-arg]


def test_build_compiles_the_patterns_and_takes_the_depth() -> None:
    built = scope(r"/work/", r"\.zip$", max_depth=0, settings=CrawlSettings(max_depth=3))
    assert built.follow == re.compile(r"/work/") and built.files == re.compile(r"\.zip$")
    assert built.max_depth == 0  # the option wins over crawl.max_depth


def test_build_depth_defaults_to_the_setting() -> None:
    assert scope(settings=CrawlSettings(max_depth=3)).max_depth == 3


def test_build_refuses_a_bad_pattern() -> None:
    with pytest.raises(re.error):
        scope(follow="(")
    with pytest.raises(re.error):
        scope(exclude=["["])
    with pytest.raises(ValidationError, match="not a regular expression"):
        CrawlSettings(include=["("])


@pytest.mark.parametrize(
    "url",
    [
        f"{SITE}/img/a.png",
        f"{SITE}/img/A.JPG",
        f"{SITE}/files/pack.zip",
        f"{SITE}/files/pack.tar.gz",
        f"{SITE}/files/comic.cbr",
        "http://mirror.example:8080/img/a.webp?size=2",
    ],
)
def test_links_named_like_images_or_archives_are_files(url: str) -> None:
    assert taken(scope(), Link(url), 1) == "file"


def test_an_image_shown_on_the_page_is_a_file_whatever_its_name() -> None:
    assert taken(scope(), Link(f"{SITE}/thumb?id=3", embedded=True), 1) == "file"


def test_files_are_taken_past_the_depth_limit() -> None:
    assert taken(scope(max_depth=1), Link(f"{SITE}/a.png"), 9) == "file"


def test_other_links_are_pages_on_the_start_hosts() -> None:
    walk = scope()
    assert taken(walk, Link(f"{SITE}/work/1.html"), 1) == "page"
    assert taken(walk, Link("http://MIRROR.example:8080/x"), 1) == "page"
    assert reason(walk, "https://elsewhere.example/work/1.html") == OUT_OF_SCOPE
    assert reason(walk, "http://mirror.example/x") == OUT_OF_SCOPE  # another port is another site


def test_files_on_other_hosts_are_refused_by_default() -> None:
    walk = scope()
    assert reason(walk, "https://cdn.elsewhere/img/a.webp") == OUT_OF_SCOPE
    assert reason(walk, "https://cdn.art.example/img/a.png", embedded=True) == OUT_OF_SCOPE
    refused = walk.refusal("https://cdn.elsewhere/img/a.webp", "file", 1)
    assert refused is not None and "--allow-host" in refused[1]


def test_allowed_hosts_give_files_not_pages() -> None:
    walk = scope(allow_hosts=["CDN.elsewhere"], settings=CrawlSettings(allow_hosts=["static.example:8443"]))
    assert taken(walk, Link("https://cdn.elsewhere/img/a.webp"), 1) == "file"
    assert taken(walk, Link("https://cdn.elsewhere:444/img/a.webp"), 1) == "file"  # a name: any port
    assert reason(walk, "https://cdn.elsewhere/gallery.html") == OUT_OF_SCOPE  # pages stay on the site
    assert taken(walk, Link("https://static.example:8443/a.png"), 1) == "file"
    assert reason(walk, "https://static.example/a.png") == OUT_OF_SCOPE  # host:port: that port only
    domain = scope(allow_hosts=[".cdn.example"])
    assert taken(domain, Link("https://eu.cdn.example/a.png"), 1) == "file"
    assert taken(domain, Link("https://cdn.example/a.png"), 1) == "file"
    assert reason(domain, "https://notcdn.example/a.png") == OUT_OF_SCOPE


def test_domain_scope_takes_the_registrable_domain() -> None:
    walk = Scope.build(["https://www.art.example.co.uk/"], CrawlSettings(scope="domain"))
    assert walk.domains == frozenset({"example.co.uk"})
    assert taken(walk, Link("https://cdn.example.co.uk/a.png"), 1) == "file"
    assert taken(walk, Link("http://shop.example.co.uk:8080/p.html"), 1) == "page"
    assert reason(walk, "https://other.co.uk/a.png") == OUT_OF_SCOPE  # co.uk is a public suffix
    assert reason(walk, "https://example.com/a.png") == OUT_OF_SCOPE


def test_registrable_domains_come_from_the_bundled_list() -> None:
    assert registrable_domain("www.art.example.co.uk") == "example.co.uk"
    assert registrable_domain("a.b.github.io") == "b.github.io"  # a private suffix: each user a site
    assert registrable_domain("127.0.0.1") == "127.0.0.1" and registrable_domain("localhost") == "localhost"


def test_start_urls_are_always_taken() -> None:
    walk = scope(follow=r"/work/", exclude=[r"/$"], max_depth=0)
    assert walk.refusal(f"{SITE}/", "page", 0) is None
    assert reason(walk, f"{SITE}/", 1) is None


def test_pages_anywhere_with_scope_any() -> None:
    walk = scope(settings=CrawlSettings(scope="any"))
    assert taken(walk, Link("https://elsewhere.example/work/1.html"), 1) == "page"
    assert taken(walk, Link("https://cdn.elsewhere/a.png"), 1) == "file"


def test_pages_stop_past_the_depth_limit() -> None:
    walk = scope(max_depth=2)
    assert taken(walk, Link(f"{SITE}/deep.html"), 2) == "page"
    assert reason(walk, f"{SITE}/deep.html", 3) == MAX_DEPTH


def test_follow_picks_the_pages_to_walk() -> None:
    walk = scope(follow=r"/work/\d+\.html$")
    assert taken(walk, Link(f"{SITE}/work/2.html"), 1) == "page"
    assert reason(walk, f"{SITE}/about.html") == EXCLUDED
    assert reason(walk, "https://elsewhere.example/work/2.html") == OUT_OF_SCOPE  # the hosts still hold
    assert taken(walk, Link(f"{SITE}/a.png"), 1) == "file"  # files are not pages to follow


def test_files_picks_the_file_links_and_drops_the_others() -> None:
    fetch = scope(files=r"\.zip$")
    assert taken(fetch, Link(f"{SITE}/files/pack.zip"), 1) == "file"
    assert reason(fetch, f"{SITE}/img/a.png") == EXCLUDED  # named like a file: never a page
    assert reason(fetch, f"{SITE}/img/b.png", embedded=True) == EXCLUDED
    assert taken(fetch, Link(f"{SITE}/work/1.html"), 1) == "page"


def test_files_can_take_links_not_named_like_files() -> None:
    fetch = scope(files=r"/download\?id=")
    assert taken(fetch, Link(f"{SITE}/download?id=7"), 1) == "file"
    assert taken(fetch, Link(f"{SITE}/download?id=7"), 99) == "file"
    assert reason(fetch, "https://elsewhere.example/download?id=7") == OUT_OF_SCOPE


def test_include_and_exclude_patterns_hold_for_pages_and_files() -> None:
    walk = scope(
        include=[r"/gallery/", r"\.png$"], settings=CrawlSettings(exclude=[r"/login"]), exclude=[r"\?sort="]
    )
    assert taken(walk, Link(f"{SITE}/gallery/1.html"), 1) == "page"
    assert taken(walk, Link(f"{SITE}/img/a.png"), 1) == "file"
    assert reason(walk, f"{SITE}/about.html") == EXCLUDED  # matches no include pattern
    assert reason(walk, f"{SITE}/img/a.jpg") == EXCLUDED
    assert reason(walk, f"{SITE}/gallery/login.html") == EXCLUDED  # the setting's exclude
    assert reason(walk, f"{SITE}/gallery/?sort=new") == EXCLUDED  # the option's exclude
    refused = walk.refusal(f"{SITE}/gallery/?sort=new", "page", 1)
    assert refused is not None and "'\\\\?sort='" in refused[1]


def test_frontier_entries_carry_the_page_metadata_on_files_and_the_refusals() -> None:
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
    elsewhere = "elsewhere.example is outside the host of the start URLs"
    assert list(frontier_entries(page, 2, scope())) == [
        CrawlUrl(f"{SITE}/img/hero.png", "file", 2, page_url=page.url, title="Hero", metadata=metadata),
        CrawlUrl(f"{SITE}/work/2.html", "page", 2),
        CrawlUrl(
            "https://elsewhere.example/page.html",
            "page",
            2,
            "refused",
            reason=OUT_OF_SCOPE,
            last_error=elsewhere,
        ),
        CrawlUrl(f"{SITE}/files/pack.zip", "file", 2, page_url=page.url, title="Hero", metadata=metadata),
    ]


def test_frontier_entries_past_the_depth_are_refused_pages() -> None:
    page = Page(url=f"{SITE}/", links=(Link(f"{SITE}/a.png"), Link(f"{SITE}/next.html")))
    assert [(e.url, e.kind, e.state, e.reason) for e in frontier_entries(page, 1, scope(max_depth=0))] == [
        (f"{SITE}/a.png", "file", "pending", None),
        (f"{SITE}/next.html", "page", "refused", MAX_DEPTH),
    ]
