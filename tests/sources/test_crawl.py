"""Crawling a small art site that the tests serve themselves on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lookalike
from lookalike.catalog import Catalog
from lookalike.catalog.sqlite import SqliteDatabase
from lookalike.cli.main import app
from lookalike.errors import ConfigError, InputError, NotFoundError
from lookalike.records import CrawlUrl
from lookalike.settings import CrawlSettings
from lookalike.sources.crawl import Politeness

from conftest import zip_of
from fake_site import (
    LAST_MODIFIED,
    Site,
    _expected,
    _html,
    _indexed,
    _png,
    kill_crawl_while_held,
    local_collection,
)


def _is_page(target: str) -> bool:
    return target.endswith(".html") or target.endswith("y=2") or target == "/"


def test_crawl_indexes_the_images_of_a_site_with_their_pages(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        report = collection.crawl([site.base + "/"])
        assert _indexed(collection) == _expected(site.base)
        dragon = collection.search(text="dragon sprite")
        member = next(o for r in dragon for o in r.occurrences if o.uri.endswith("g.png"))
        status = collection.crawl_status()
    assert member.url == f"{site.base}/files/pack.zip" and member.member == "art/tiles/g.png"
    assert member.tags == ("dragon", "red") and member.text == "A red dragon sprite"
    assert member.extra == {
        "author": "Ann Artist",
        "licence": "https://creativecommons.org/licenses/by/4.0/",
    }
    assert report.images_new == 6 and report.pages == 5 and report.files == 5
    assert report.robots_skipped == 2 and report.failed == 1  # the private page and image; the 404
    assert not any(t.startswith("/private/") for t in site.requests())
    assert status["urls"]["page"] == {"pending": 0, "done": 5, "failed": 1, "refused": 3}
    # links to other hosts (a page, the licence) are recorded, never asked
    assert report.refused == {"robots": 2, "out_of_scope": 2}
    hosts = {h["host"]: h for h in status["hosts"]}
    assert hosts["elsewhere.invalid"]["states"] == {"refused": 1}
    assert hosts["elsewhere.invalid"]["reasons"] == {"out_of_scope": 1}
    assert hosts[site.base.split("//")[1]]["reasons"] == {"robots": 2, "http_404": 1}
    assert hosts["creativecommons.org"]["reasons"] == {"out_of_scope": 1}
    assert status["reasons"] == {"robots": 2, "out_of_scope": 2, "http_404": 1}
    assert sorted(site.requests()) == sorted(set(site.requests()))  # nothing fetched twice


def test_running_again_fetches_nothing_and_adds_nothing(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
        before, indexed = len(site.log), collection.stats()["occurrences"]
        report = collection.crawl([site.base + "/"])
        assert len(site.log) == before and collection.stats()["occurrences"] == indexed
    assert report.pages == report.files == report.images_new == 0


def test_recrawl_asks_the_pages_conditionally_and_takes_only_changes(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
        fetched_ok = {t for t, status in site.log if status == 200 and t != "/robots.txt"}
        pages = {t for t in fetched_ok if _is_page(t)}
        start = len(site.log)
        report = collection.crawl([site.base + "/"], recrawl=True)
        again = dict(site.log[start:])
        # the pages are unchanged (304): the files they link are not asked again
        assert set(again) - {"/robots.txt", "/missing.html"} == pages and all(again[t] == 304 for t in pages)
        assert report.not_modified == len(pages) and report.files == report.images_new == 0

        site.routes["/img/a.png"] = (_png(7), "image/png")  # the artist replaced one image, same page
        start = len(site.log)
        report = collection.crawl([site.base + "/"], recrawl=True, recheck_files=True)
        again = dict(site.log[start:])
        assert fetched_ok <= again.keys()  # every file asked again
        changed = [t for t, status in site.log[start:] if status == 200 and t != "/robots.txt"]
        assert changed == ["/img/a.png"] and report.images_new == 1
        assert len(_indexed(collection)) == 6
        assert collection.stats()["images"] == 6  # the old content of a.png is gone


def test_a_changed_page_has_its_files_asked_again(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
        site.routes["/img/c%20d.png"] = (_png(8), "image/png")
        body, kind = site.routes["/work/2.html?x=1&y=2"]
        site.routes["/work/2.html?x=1&y=2"] = (body.replace(b"</body>", b"<p>new text</p></body>"), kind)
        start = len(site.log)
        report = collection.crawl([site.base + "/"], recrawl=True)
        again = dict(site.log[start:])
        assert again["/work/2.html?x=1&y=2"] == 200 and again["/img/c%20d.png"] == 200
        assert not {"/img/a.png", "/img/b.png", "/files/pack.zip"} & again.keys()  # page 1 is unchanged
        assert report.files_revalidated == 1 and report.images_new == 1
        assert collection.search(_png(8), k=1, include_junk=True)[0].location == f"{site.base}/img/c%20d.png"


def test_a_killed_crawl_resumes_without_refetching_pages_or_duplicates(tmp_path: Path, site: Site) -> None:
    site.hold = "/img/c%20d.png"  # the last file: the others are committed by then
    kill_crawl_while_held(site, tmp_path / "data", site.base + "/")
    first = site.requests()
    with local_collection(tmp_path) as collection:
        assert 1 <= collection.stats()["images"] < 6  # the kill came mid-way
        collection.crawl([site.base + "/"])
        assert _indexed(collection) == _expected(site.base)
        assert collection.stats()["images"] == 6
        best = collection.search(_png(4), k=1, include_junk=True)[0]  # the test site's PNGs are small
        assert best.location == f"{site.base}/img/c%20d.png"
    again = site.requests()[len(first) :]
    refetched = set(again) & {t for t in first if t not in ("/robots.txt", site.hold)}
    assert site.hold in again and not any(_is_page(t) for t in refetched)
    assert len(refetched) < 4  # at most the other files in flight (crawl.concurrency) when killed


def test_max_pages_stops_and_the_next_run_continues(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        first = collection.crawl([site.base + "/"], max_pages=2)
        assert first.pages == 2
        assert collection.crawl_status()["urls"]["page"]["pending"] > 0
        collection.crawl([site.base + "/"])
        assert _indexed(collection) == _expected(site.base)
    pages = [t for t in site.requests() if _is_page(t)]
    assert len(pages) == len(set(pages))


@pytest.mark.parametrize("per_host", [1, 2])
def test_requests_in_flight_to_one_host_are_capped(tmp_path: Path, site: Site, per_host: int) -> None:
    for target in ("/img/a.png", "/img/b.png", "/img/b2.png", "/files/pack.zip"):
        site.slow[target] = 0.2
    with local_collection(tmp_path, concurrency=4, per_host=per_host) as collection:
        collection.crawl([site.base + "/"])
        assert _indexed(collection) == _expected(site.base)
    assert site.peak == per_host


def test_politeness_spaces_requests_to_a_host() -> None:
    now, slept = [100.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    settings = CrawlSettings(delay=1.5, robots=False)
    polite = Politeness(None, settings, "ua", clock=lambda: now[0], sleep=sleep)  # type: ignore[arg-type]
    polite.wait("http://a/1")
    polite.wait("http://b/1")  # another host: no wait
    polite.wait("http://a/2")
    now[0] += 5
    polite.wait("http://a/3")  # long after the last: no wait
    assert slept == [1.5]


def test_max_bytes_stops_the_run(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        first = collection.crawl([site.base + "/"], max_bytes=1)
        assert first.pages == 1 and first.files == 0  # the first page passed the budget
        collection.crawl([site.base + "/"])
        assert _indexed(collection) == _expected(site.base)
    assert site.requests().count("/") == 1


def test_follow_and_depth_limit_the_walk(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        report = collection.crawl([site.base + "/"], follow=r"/work/2\.html")
        assert set(_indexed(collection)) == {f"{site.base}/img/c%20d.png"}
    assert report.pages == 2
    with local_collection(tmp_path / "shallow") as collection:
        report = collection.crawl([site.base + "/"], max_depth=0)
    assert report.pages == 1 and report.files == 0


def test_files_pattern_chooses_the_file_links(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"], files=r"\.zip$")
        assert set(_indexed(collection)) == {
            f"{site.base}/files/pack.zip!/art/h.png",
            f"{site.base}/files/pack.zip!/art/tiles/g.png",
        }


def test_private_addresses_are_refused_unless_allowed(tmp_path: Path, site: Site) -> None:
    with lookalike.open(tmp_path / "data", crawl={"delay": 0}) as collection:
        report = collection.crawl([site.base + "/"])
    assert site.log == [] and report.failures == {"blocked_address": 1}


def test_selectors_setting_reaches_the_images(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path, selectors={"title": "title", "licence": "a[rel=license]"}) as collection:
        collection.crawl([site.base + "/"], files=r"/img/a\.png$")
        place = collection.catalog.images.occurrences(collection.catalog.images.ok_ids())[1][0]
    assert place.title == "Red dragon | Art site"
    assert place.extra["licence"] == "https://creativecommons.org/licenses/by/4.0/"
    bad = local_collection(tmp_path / "bad", selectors={"tags": "a[["})
    with bad as collection, pytest.raises(ConfigError, match="LOOKALIKE_CRAWL__SELECTORS"):
        collection.crawl([site.base + "/"])


def test_fetched_originals_are_kept_by_content(tmp_path: Path, site: Site, photo_dir: Path) -> None:
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"], files=r"/img/a\.png$")
        collection.index([photo_dir])  # local files are not copied by default
        (image_id,) = collection.catalog.images.ids_at(f"{site.base}/img/a.png")
        data, where = collection.original(image_id)
        kept = list((tmp_path / "data" / "originals").rglob("*"))
    assert data == site.routes["/img/a.png"][0] and where == f"{site.base}/img/a.png"
    assert [p.name for p in kept if p.is_file()] == [hashlib.sha256(data).hexdigest()]
    with lookalike.open(
        tmp_path / "lean",
        fetch={"allow_networks": ["127.0.0.0/8"]},
        crawl={"delay": 0},
        ingest={"originals": "none"},
    ) as collection:
        collection.crawl([site.base + "/"], files=r"/img/a\.png$")
        (image_id,) = collection.catalog.images.ids_at(f"{site.base}/img/a.png")
        with pytest.raises(NotFoundError):
            collection.original(image_id)
        assert collection.thumbnail(image_id)
    assert not (tmp_path / "lean" / "originals").exists()


def test_a_robots_txt_server_error_disallows_the_site(tmp_path: Path, site: Site) -> None:
    site.faults["/robots.txt"] = [(503, {})]
    with local_collection(tmp_path) as collection:
        report = collection.crawl([site.base + "/"])
    assert site.requests() == ["/robots.txt"] and report.robots_skipped == 1


def test_robots_txt_can_be_ignored_by_setting(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path, robots=False) as collection:
        collection.crawl([site.base + "/"])
        assert f"{site.base}/private/hidden.png" in _indexed(collection)
    assert "/robots.txt" not in site.requests()


def test_429_and_5xx_are_retried_with_retry_after(tmp_path: Path, site: Site) -> None:
    site.faults["/img/b.png"] = [
        (503, {"Retry-After": "0"}),
        (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ]
    site.faults["/work/2.html?x=1&y=2"] = [(500, {})] * 3  # fails for good: 1 try + 2 retries
    site.faults["/img/a.png"] = [(429, {"Retry-After": "3600"})]  # longer than max_retry_wait
    site.faults["/img/b2.png"] = [(403, {})]  # not transient: no retry
    with local_collection(tmp_path, retry_wait=0, max_retry_wait=10) as collection:
        report = collection.crawl([site.base + "/"])
        indexed = set(_indexed(collection))
        failures = {f["url"]: f["last_error"] for f in collection.crawl_status()["failures"]}
    assert f"{site.base}/img/b.png" in indexed and report.retries == 4
    assert site.requests().count("/img/b.png") == 3 and site.requests().count("/work/2.html?x=1&y=2") == 3
    assert site.requests().count("/img/a.png") == 1 and site.requests().count("/img/b2.png") == 1
    assert failures[f"{site.base}/img/a.png"].startswith("HTTP 429")
    assert failures[f"{site.base}/work/2.html?x=1&y=2"].startswith("HTTP 500")


def test_redirect_loops_slow_pages_and_huge_files_fail_alone(tmp_path: Path, site: Site) -> None:
    site.faults["/loop/a"] = [(302, {"Location": "/loop/b"})] * 10
    site.faults["/loop/b"] = [(302, {"Location": "/loop/a"})] * 10
    site.faults["/moved.html"] = [(301, {"Location": "/work/2.html?x=1&y=2"})]
    site.slow["/slow.html"] = 3
    site.routes["/slow.html"] = _html("", '<img src="/img/a.png">')
    site.routes["/img/huge.png"] = (b"\x89PNG" + bytes(300_000), "image/png")
    links = '<a href="/loop/a">loop</a> <a href="/slow.html">slow</a> <a href="/moved.html">moved</a>'
    site.routes["/"] = _html("", links + ' <img src="/img/huge.png">')
    with local_collection(tmp_path, retries=0) as collection:
        collection.settings.fetch.timeout = 0.5
        collection.settings.fetch.max_bytes = 100_000
        report = collection.crawl([site.base + "/"])
        failures = {
            f["url"][len(site.base) :]: f["last_error"] for f in collection.crawl_status()["failures"]
        }
        indexed = _indexed(collection)
    assert set(failures) == {"/loop/a", "/slow.html", "/img/huge.png"}  # /private/hidden.png: refused
    assert "too many redirects" in failures["/loop/a"] and "timed out" in failures["/slow.html"]
    assert "larger than fetch.max_bytes" in failures["/img/huge.png"]
    assert report.failures == {"fetch_failed": 2, "too_large": 1}
    # a redirected page names its images with the page it landed on (work/2 links work/1)
    assert indexed == _expected(site.base)


def test_hostile_archives_over_http_are_refused_member_by_member(tmp_path: Path, site: Site) -> None:
    bomb = zip_of({"bomb.png": bytes(4 << 20), "ok.png": _png(8)})
    traversal = zip_of({"../../evil.png": _png(9), "/abs.png": _png(10), "fine/x.png": _png(11)})
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w:gz") as archive:
        for name, data in {"set/deep/t.png": _png(12), "../up.png": _png(13)}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    site.routes["/files/set.tar.gz"] = (tarred.getvalue(), "application/gzip")
    site.routes["/files/bomb.zip"] = (bomb, "application/zip")
    site.routes["/files/up.zip"] = (traversal, "application/zip")
    site.routes["/"] = _html(
        "", '<a href="files/bomb.zip">b</a> <a href="files/up.zip">u</a> <a href="files/set.tar.gz">t</a>'
    )
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
        indexed = set(_indexed(collection))
        failed = {f["uri"].split("!/", 1)[1]: f["reason"] for f in collection.catalog.images.failures()}
    files = f"{site.base}/files"
    assert indexed == {
        f"{files}/bomb.zip!/ok.png",
        f"{files}/up.zip!/fine/x.png",
        f"{files}/set.tar.gz!/set/deep/t.png",
    }
    assert failed == {
        "bomb.png": "archive_bomb",
        "../../evil.png": "unsafe_path",
        "/abs.png": "unsafe_path",
        "../up.png": "unsafe_path",
    }


def test_index_urls_fetches_a_list_with_metadata_once(tmp_path: Path, site: Site) -> None:
    listing = tmp_path / "urls.txt"
    lines = [
        "# images to index",
        f"{site.base}/img/a.png",
        "",
        json.dumps(
            {"url": f"{site.base}/files/pack.zip", "title": "Pack", "tags": "tiles, grass", "price": 3}
        ),
        f"{site.base}/missing.png",
    ]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with local_collection(tmp_path) as collection:
        report = collection.index_urls(listing)
        places = {
            o.uri: o
            for found in collection.catalog.images.occurrences(collection.catalog.images.ok_ids()).values()
            for o in found
        }
        again = collection.index_urls(listing)
    assert report.images_new == 3 and report.failed == 1 and again.files == again.failed == 0
    assert set(places) == {
        f"{site.base}/img/a.png",
        f"{site.base}/files/pack.zip!/art/h.png",
        f"{site.base}/files/pack.zip!/art/tiles/g.png",
    }
    member = places[f"{site.base}/files/pack.zip!/art/h.png"]
    assert (member.title, member.tags, member.extra) == ("Pack", ("tiles", "grass"), {"price": 3})
    assert not any(t.endswith(".html") or t == "/" for t in site.requests())  # no pages walked


def test_index_urls_refuses_a_bad_list(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text("ftp://example.org/a.png\n", encoding="utf-8")
    with local_collection(tmp_path) as collection, pytest.raises(InputError, match="line 1"):
        collection.index_urls(listing)


def test_frontier_adds_once_claims_in_order_and_counts(tmp_path: Path) -> None:
    catalog = Catalog(SqliteDatabase(tmp_path / "c.sqlite"))
    meta = {"text": "t", "tags": ["x"], "extra": {}}
    urls = [CrawlUrl("http://a/1", "page"), CrawlUrl("http://a/f.png", "file", 1, metadata=meta)]
    assert catalog.frontier.add(urls) == 2
    assert catalog.frontier.add([CrawlUrl("http://a/1", "page", 3)]) == 0
    claimed = catalog.frontier.claim(10)
    assert [u.url for u in claimed] == ["http://a/1", "http://a/f.png"]
    assert claimed[1].metadata == meta and claimed[0].attempts == 1 and claimed[0].depth == 0
    assert [u.url for u in catalog.frontier.claim(10, ("file",))] == ["http://a/f.png"]
    catalog.frontier.done("http://a/1", '"e"', LAST_MODIFIED, "ab")
    catalog.frontier.failed("http://a/f.png", "HTTP 404")
    assert catalog.frontier.claim(10) == []
    assert catalog.frontier.counts() == {
        "page": {"pending": 0, "done": 1, "failed": 0, "refused": 0},
        "file": {"pending": 0, "done": 0, "failed": 1, "refused": 0},
    }
    assert catalog.frontier.reset() == 2
    again = catalog.frontier.claim(10)
    assert again[0].etag == '"e"' and again[0].last_modified == LAST_MODIFIED and again[1].attempts == 1
    catalog.close()


def test_cli_crawl_and_status(tmp_path: Path, site: Site) -> None:
    env = {
        "LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]',
        "LOOKALIKE_CRAWL__DELAY": "0",
        "LOOKALIKE_INGEST__WORKERS": "1",
    }
    data = str(tmp_path / "data")
    runner = CliRunner()
    result = runner.invoke(app, ["crawl", site.base + "/", "--data", data, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images_new"] == 6
    result = runner.invoke(app, ["crawl", "status", "--data", data, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["urls"]["file"] == {"pending": 0, "done": 5, "failed": 0, "refused": 1}
    result = runner.invoke(app, ["crawl", site.base + "/", "--data", data, "--follow", "("], env=env)
    assert result.exit_code == 2
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{site.base}/img/b.png\n", encoding="utf-8")
    result = runner.invoke(app, ["index", "--urls", str(listing), "--data", data, "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["urls"]["images_new"] == 0  # crawled before: not fetched again
    assert runner.invoke(app, ["index", "--data", data], env=env).exit_code == 2
