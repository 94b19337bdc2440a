"""What a crawl leaves alone, and what a re-crawl asks again: scope, allowed hosts, patterns,
the User-Agent, file freshness; against the tests' own sites on 127.0.0.1 (two ports: two hosts)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from lookalike.api import create_app
from lookalike.cli.main import app

from asgi_client import serving
from fake_site import Site, _html, _indexed, _png, kill_crawl_while_held, local_collection

PAGES, PER_PAGE = 15, 5  # a site of 75 files


def _netloc(site: Site) -> str:
    return site.base.split("//", 1)[1]


def _link_the_cdn(site: Site, cdn: Site) -> None:
    site.routes["/"] = _html(
        "<title>Art site</title>",
        f'<a href="work/2.html?x=1&amp;y=2">Blue knight</a> <img src="{cdn.base}/img/x.png">'
        f' <a href="{cdn.base}/gallery.html">more on the CDN</a>',
    )


def test_files_on_another_host_are_refused_and_its_robots_txt_never_asked(
    tmp_path: Path, site: Site, cdn: Site
) -> None:
    _link_the_cdn(site, cdn)
    with local_collection(tmp_path) as collection:
        report = collection.crawl([site.base + "/"])
        status = collection.crawl_status()
        indexed = set(_indexed(collection))
    assert cdn.log == []  # not a file, not robots.txt
    assert report.refused["out_of_scope"] == 3  # the CDN's file and page; the licence link of work/1
    assert f"{cdn.base}/img/x.png" not in indexed
    [host] = [h for h in status["hosts"] if h["host"] == _netloc(cdn)]
    assert host["states"] == {"refused": 2} and host["reasons"] == {"out_of_scope": 2}
    refused = {r["url"]: r["last_error"] for r in status["refusals"]}
    assert "--allow-host" in refused[f"{cdn.base}/img/x.png"]


def test_allowed_hosts_give_their_files_but_not_their_pages(tmp_path: Path, site: Site, cdn: Site) -> None:
    _link_the_cdn(site, cdn)
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
        assert cdn.log == []
        # the same crawl again, the CDN allowed: what was refused is weighed again, unchanged pages or not
        report = collection.crawl([site.base + "/"], allow_hosts=[_netloc(cdn)])
        places = _indexed(collection)
        status = collection.crawl_status()
    assert cdn.requests() == ["/robots.txt", "/img/x.png"] and report.files == 1
    assert places[f"{cdn.base}/img/x.png"] == (f"{site.base}/", "Art site")  # with the page it was on
    [host] = [h for h in status["hosts"] if h["host"] == _netloc(cdn)]
    assert host["states"] == {"done": 1, "refused": 1}  # the CDN's page: still refused


def test_domain_scope_takes_other_hosts_of_the_same_domain(tmp_path: Path, site: Site, cdn: Site) -> None:
    _link_the_cdn(site, cdn)  # 127.0.0.1 on another port: the same registrable "domain", the address
    with local_collection(tmp_path, scope="domain") as collection:
        collection.crawl([site.base + "/"])
        indexed = set(_indexed(collection))
    assert sorted(cdn.requests()) == ["/gallery.html", "/img/x.png", "/img/y.png", "/robots.txt"]
    assert {f"{cdn.base}/img/x.png", f"{cdn.base}/img/y.png"} <= indexed


def test_include_and_exclude_patterns_refuse_what_they_leave_out(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path, exclude=[r"/tags/"]) as collection:
        report = collection.crawl([site.base + "/"], exclude=[r"\.zip$"])
        status = collection.crawl_status()
    assert not any(t.startswith("/tags/") or t.endswith(".zip") for t in site.requests())
    assert report.refused["excluded"] == 3  # two tag pages and the pack
    assert status["reasons"]["excluded"] == 3
    with local_collection(tmp_path / "only") as collection:
        collection.crawl([site.base + "/"], include=[r"/work/2\.html", r"\.png$"])
        assert set(_indexed(collection)) == {f"{site.base}/img/c%20d.png"}


def test_the_user_agent_carries_the_contact(tmp_path: Path, site: Site) -> None:
    with local_collection(tmp_path, contact="https://me.example/crawler") as collection:
        collection.crawl([site.base + "/"], max_pages=1)
    assert site.agents == {"lookalike/0.1 (+https://me.example/crawler)"}


def _gallery(site: Site) -> None:
    """A listing of PAGES pages with PER_PAGE images each (75 files)."""
    links = []
    for page in range(PAGES):
        shown = []
        for n in range(PER_PAGE):
            number = page * PER_PAGE + n
            site.routes[f"/img/{number}.png"] = (_png(100 + number), "image/png")
            shown.append(f'<img src="/img/{number}.png">')
        site.routes[f"/work/{page}.html"] = _html(f"<title>Work {page}</title>", "".join(shown))
        links.append(f'<a href="/work/{page}.html">work {page}</a>')
    site.routes["/"] = _html("<title>Gallery</title>", "".join(links))


def test_a_recrawl_of_an_unchanged_site_asks_its_pages_only(tmp_path: Path, site: Site) -> None:
    _gallery(site)
    with local_collection(tmp_path, delay=0.02) as collection:
        first = collection.crawl([site.base + "/"])
        assert first.files == PAGES * PER_PAGE and first.images_new == PAGES * PER_PAGE
        start = len(site.log)
        report = collection.crawl([site.base + "/"], recrawl=True)
        asked = site.log[start:]
        # one request per page (all 304) and robots.txt: none of the 75 files
        assert sorted(t for t, _ in asked) == sorted(
            ["/robots.txt", "/", *(f"/work/{p}.html" for p in range(PAGES))]
        )
        assert all(status == 304 for t, status in asked if t != "/robots.txt")
        assert report.not_modified == PAGES + 1 and report.files == 0
        start = len(site.log)
        checked = collection.crawl([site.base + "/"], recheck_files=True)
        assert checked.not_modified == PAGES + 1 + PAGES * PER_PAGE  # --recheck-files: every file too
        assert len(site.log) - start == PAGES + 2 + PAGES * PER_PAGE


def test_a_file_is_asked_again_when_its_own_max_age_runs_out(tmp_path: Path, site: Site) -> None:
    site.headers["/img/a.png"] = {"Cache-Control": "max-age=0"}  # stale at once
    site.headers["/img/b.png"] = {"Cache-Control": "public, max-age=86400"}
    site.headers["/img/b2.png"] = {"Expires": "Thu, 01 Jan 1970 00:00:00 GMT"}  # in the past
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
        start = len(site.log)
        collection.crawl([site.base + "/"], recrawl=True)
    files = {t for t, _ in site.log[start:] if t.startswith(("/img/", "/files/"))}
    assert files == {"/img/a.png", "/img/b2.png"}


def test_a_recrawl_killed_midway_resumes_without_asking_twice(tmp_path: Path, site: Site, cdn: Site) -> None:
    _gallery(site)
    site.routes["/"] = (
        site.routes["/"][0].replace(b"</body>", f'<img src="{cdn.base}/img/x.png"></body>'.encode()),
        site.routes["/"][1],
    )
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
    for page in (3, 9):  # two pages changed, and the first image of each with them
        body, kind = site.routes[f"/work/{page}.html"]
        site.routes[f"/work/{page}.html"] = (body.replace(b"</body>", b"<p>new</p></body>"), kind)
        site.routes[f"/img/{page * PER_PAGE}.png"] = (_png(900 + page), "image/png")
    site.hold = f"/img/{9 * PER_PAGE}.png"
    start = len(site.log)
    kill_crawl_while_held(site, tmp_path / "data", site.base + "/", "--recrawl")
    killed = [t for t in site.requests()[start:] if t != "/robots.txt"]
    middle = len(site.log)
    with local_collection(tmp_path) as collection:
        report = collection.crawl([site.base + "/"])  # resume: not a re-crawl
        assert collection.search(_png(909), k=1, include_junk=True)[0].location == f"{site.base}{site.hold}"
        status = collection.crawl_status()
    resumed = [t for t in site.requests()[middle:] if t != "/robots.txt"]
    changed = {f"/img/{n}.png" for page in (3, 9) for n in range(page * PER_PAGE, (page + 1) * PER_PAGE)}
    assert set(killed + resumed) <= {"/", *(f"/work/{p}.html" for p in range(PAGES)), *changed}
    assert changed <= set(killed + resumed)  # the files of the changed pages, and no other
    twice = (set(killed) & set(resumed)) - {site.hold}
    assert site.hold in resumed and not any(t.endswith(".html") or t == "/" for t in twice)
    assert len(twice) < 4  # at most the other files in flight (crawl.concurrency) when killed
    assert report.images_new >= 1 and cdn.log == []
    assert status["urls"]["file"]["pending"] == 0 and status["reasons"] == {"out_of_scope": 1}


def test_cli_crawl_bounds_and_status_by_host(tmp_path: Path, site: Site, cdn: Site) -> None:
    _link_the_cdn(site, cdn)
    env = {"LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]', "LOOKALIKE_INGEST__WORKERS": "1"}
    data = str(tmp_path / "data")
    runner = CliRunner()
    command = [
        "crawl",
        site.base + "/",
        "--data",
        data,
        "--delay",
        "0",
        "--allow-host",
        _netloc(cdn),
        "--json",
    ]
    result = runner.invoke(app, command, env=env)
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)  # --json: the report alone on stdout, no progress
    assert done["refused"]["out_of_scope"] == 2  # the CDN's page, the licence link; not the CDN's file
    assert cdn.requests() == ["/robots.txt", "/img/x.png"]
    result = runner.invoke(app, ["crawl", "status", "--data", data], env=env, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert f"{_netloc(cdn)}: 1 done, 1 refused (out_of_scope: 1)" in result.stdout
    assert re.search(rf"refused\s+{re.escape(cdn.base)}/gallery.html\s+out_of_scope\s", result.stdout)
    status = json.loads(runner.invoke(app, ["crawl", "status", "--data", data, "--json"], env=env).stdout)
    assert {h["host"] for h in status["hosts"]} == {_netloc(site), _netloc(cdn), "creativecommons.org"}
    bad = runner.invoke(app, ["crawl", site.base + "/", "--data", data, "--scope", "planet"], env=env)
    assert bad.exit_code == 2 and "host, domain or any" in bad.output
    bad = runner.invoke(app, ["crawl", site.base + "/", "--data", data, "--exclude", "("], env=env)
    assert bad.exit_code == 2


def test_the_api_shows_the_crawl_status_by_host(tmp_path: Path, site: Site, cdn: Site) -> None:
    _link_the_cdn(site, cdn)
    with local_collection(tmp_path) as collection:
        collection.crawl([site.base + "/"])
        with serving(create_app(collection)) as client:
            answer = client.get("/api/crawl/status")
    assert answer.status_code == 200
    body = answer.json()
    hosts = {h["host"]: h for h in body["hosts"]}
    assert hosts[_netloc(cdn)]["reasons"] == {"out_of_scope": 2} and body["urls"]["file"]["done"] == 5
    assert {r["url"] for r in body["refusals"]} >= {f"{cdn.base}/img/x.png", f"{cdn.base}/gallery.html"}
