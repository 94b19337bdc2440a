"""Politeness on its own: robots.txt, the delay between requests to a host, the cap per host.

No server: robots.txt comes from a fake fetcher, time from a fake clock.
"""

from __future__ import annotations

import threading
import time
from typing import cast

import pytest

from lookalike.errors import FetchError, HTTPStatusError, Reason
from lookalike.settings import CrawlSettings
from lookalike.sources.crawl import ROBOTS_DISALLOWED, Politeness
from lookalike.sources.fetch import Fetched, Fetcher

AGENT = "lookalike"


class Robots:
    """Answers robots.txt requests with one body, or one error, and logs them."""

    def __init__(self, body: str = "", error: FetchError | None = None) -> None:
        self.body, self.error = body, error
        self.asked: list[str] = []

    def get(self, url: str, headers: dict[str, str] | None = None) -> Fetched:
        self.asked.append(url)
        if self.error is not None:
            raise self.error
        return Fetched(url, self.body.encode(), "text/plain", 200, {})


class Clock:
    """A clock that only moves when the politeness sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def polite(site: Robots | None, clock: Clock | None = None, **settings: object) -> Politeness:
    clock = clock or Clock()
    config = CrawlSettings(**{"delay": 0, **settings})
    return Politeness(cast(Fetcher, site), config, AGENT, clock=clock, sleep=clock.sleep)


def status_error(status: int) -> HTTPStatusError:
    return HTTPStatusError(Reason.FETCH_FAILED, f"HTTP {status}", status=status)


def test_the_failure_a_disallowed_url_records() -> None:
    assert ROBOTS_DISALLOWED == "disallowed by robots.txt"


def test_robots_rules_are_obeyed_and_read_once_per_origin() -> None:
    robots = Robots("User-agent: *\nDisallow: /private/\n")
    rules = polite(robots)
    assert rules.allowed("https://a.example/art/1.png")
    assert not rules.allowed("https://a.example/private/1.png")
    assert rules.allowed("https://a.example/art/2.png")
    assert rules.allowed("https://b.example/private/1.png") is False
    assert robots.asked == ["https://a.example/robots.txt", "https://b.example/robots.txt"]


def test_rules_for_our_user_agent_apply() -> None:
    rules = polite(Robots(f"User-agent: {AGENT}\nDisallow: /\n\nUser-agent: *\nAllow: /\n"))
    assert not rules.allowed("https://a.example/art/1.png")


def test_the_origin_includes_scheme_and_port() -> None:
    robots = Robots("User-agent: *\nAllow: /\n")
    rules = polite(robots)
    for url in ["https://a.example/1", "http://a.example/1", "https://a.example:8443/1"]:
        assert rules.allowed(url)
    assert robots.asked == [
        "https://a.example/robots.txt",
        "http://a.example/robots.txt",
        "https://a.example:8443/robots.txt",
    ]


def test_without_robots_txt_everything_is_allowed() -> None:
    robots = Robots(error=status_error(404))
    rules = polite(robots)
    assert rules.allowed("https://a.example/private/1.png")
    assert rules.allowed("https://a.example/private/2.png")
    assert len(robots.asked) == 1  # the answer is kept


def test_an_unreachable_site_is_allowed_so_its_pages_fail_alone() -> None:
    rules = polite(Robots(error=FetchError(Reason.FETCH_FAILED, "connection refused")))
    assert rules.allowed("https://a.example/1.png")


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_on_robots_txt_disallows_everything(status: int) -> None:
    rules = polite(Robots(error=status_error(status)))
    assert not rules.allowed("https://a.example/")
    assert not rules.allowed("https://a.example/art/1.png")


def test_robots_off_reads_nothing_and_allows_everything() -> None:
    rules = polite(None, robots=False)
    assert rules.allowed("https://a.example/private/1.png")


def test_the_delay_spaces_requests_to_one_host_only() -> None:
    clock = Clock()
    rules = polite(None, clock, delay=2.0, robots=False)
    rules.wait("https://a.example/1")
    rules.wait("https://b.example/1")
    rules.wait("https://A.example/2")  # the same host, however written
    assert clock.slept == [2.0]


def test_each_caller_reserves_the_next_turn() -> None:
    """Callers that come at once (threads) are spread a delay apart, not all let through."""
    clock = Clock()
    rules = Politeness(
        cast(Fetcher, None), CrawlSettings(delay=1.0, robots=False), AGENT, clock, clock.slept.append
    )
    for _ in range(4):
        rules.wait("https://a.example/")
    assert clock.slept == [1.0, 2.0, 3.0]


def test_no_delay_never_sleeps() -> None:
    clock = Clock()
    rules = polite(None, clock, robots=False)
    for n in range(5):
        rules.wait(f"https://a.example/{n}")
    assert clock.slept == []


def test_a_longer_crawl_delay_in_robots_txt_wins() -> None:
    clock = Clock()
    rules = polite(Robots("User-agent: *\nCrawl-delay: 5\n"), clock, delay=1.0)
    assert rules.allowed("https://a.example/1")  # reads robots.txt: one request, one turn
    rules.wait("https://a.example/1")
    assert clock.slept == [5.0]


def test_a_shorter_crawl_delay_does_not_shorten_ours() -> None:
    clock = Clock()
    rules = polite(Robots("User-agent: *\nCrawl-delay: 0.5\n"), clock, delay=3.0)
    rules.allowed("https://a.example/1")
    rules.wait("https://a.example/1")
    assert clock.slept == [3.0]


def test_reading_robots_txt_takes_a_turn() -> None:
    clock = Clock()
    rules = polite(Robots(), clock, delay=2.0)
    rules.allowed("https://a.example/1")
    assert clock.slept == []
    rules.wait("https://a.example/1")
    assert clock.slept == [2.0]


def peak_in_slots(rules: Politeness, urls: list[str]) -> dict[str, int]:
    """Most threads inside a host's slot at once, by host."""
    lock, inside, peak = threading.Lock(), dict.fromkeys(urls, 0), dict.fromkeys(urls, 0)

    def request(url: str) -> None:
        with rules.slot(url):
            with lock:
                inside[url] += 1
                peak[url] = max(peak[url], inside[url])
            time.sleep(0.2)
            with lock:
                inside[url] -= 1

    threads = [threading.Thread(target=request, args=(url,)) for url in urls for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return peak


@pytest.mark.parametrize("per_host", [1, 2, 3])
def test_a_slot_caps_the_requests_in_flight_per_host(per_host: int) -> None:
    rules = Politeness(cast(Fetcher, None), CrawlSettings(delay=0, robots=False, per_host=per_host), AGENT)
    peak = peak_in_slots(rules, ["https://a.example/1", "https://b.example/1"])
    assert peak == {"https://a.example/1": per_host, "https://b.example/1": per_host}  # each host its own cap


def test_a_slot_waits_its_turn() -> None:
    clock = Clock()
    rules = polite(None, clock, delay=1.5, robots=False)
    with rules.slot("https://a.example/1"):
        pass
    with rules.slot("https://a.example/2"):
        assert clock.slept == [1.5]
