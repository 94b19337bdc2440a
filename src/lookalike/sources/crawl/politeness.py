"""Being a polite crawler: robots.txt per origin, a delay and a cap on requests per host."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from protego import Protego

from lookalike.errors import FetchError, HTTPStatusError
from lookalike.settings import CrawlSettings
from lookalike.sources.fetch import Fetcher

__all__ = ["ROBOTS", "ROBOTS_DISALLOWED", "Politeness"]

#: The reason, and the words, recorded for a URL that robots.txt does not let us fetch (the
#: frontier keeps such a refusal until a re-crawl: :data:`lookalike.catalog.frontier.ROBOTS`).
ROBOTS = "robots"
ROBOTS_DISALLOWED = "disallowed by robots.txt"
_DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


class Politeness:
    """robots.txt per origin and a delay between requests to one host."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: CrawlSettings,
        user_agent: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetcher, self._settings, self._agent = fetcher, settings, user_agent
        self._clock, self.sleep = clock, sleep
        self._robots: dict[str, Protego | None] = {}
        self._last: dict[str, float] = {}
        self._gates: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets us fetch ``url`` (read once per origin; call from one thread)."""
        robots = self._rules(url)
        return robots is None or bool(robots.can_fetch(url, self._agent))

    def sitemaps(self, url: str) -> list[str]:
        """The sitemaps the robots.txt of ``url``'s origin names (none where robots.txt is not read)."""
        robots = self._rules(url)
        return list(robots.sitemaps) if robots is not None else []

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold one of the host's ``crawl.per_host`` request slots, after its delay."""
        host = urlsplit(url).netloc.lower()
        with self._lock:
            gate = self._gates.setdefault(host, threading.BoundedSemaphore(self._settings.per_host))
        with gate:
            self.wait(url)
            yield

    def wait(self, url: str) -> None:
        """Sleep until this host may be asked again (each caller reserves the next turn)."""
        host = urlsplit(url).netloc.lower()
        delay = self._delay(url)
        with self._lock:
            now = self._clock()
            last = self._last.get(host)
            turn = now if last is None else max(now, last + delay)
            self._last[host] = turn
        if turn > now:
            self.sleep(turn - now)

    def _delay(self, url: str) -> float:
        """``crawl.delay``, or the site's ``Crawl-delay`` when it asks for more."""
        robots = self._robots.get(_origin(url)) if self._settings.robots else None
        return max(self._settings.delay, (robots.crawl_delay(self._agent) or 0) if robots else 0)

    def _rules(self, url: str) -> Protego | None:
        if not self._settings.robots:
            return None
        origin = _origin(url)
        if origin not in self._robots:
            self._robots[origin] = None  # until read: everything is allowed
            self._robots[origin] = self._read_robots(origin)
        return self._robots[origin]

    def _read_robots(self, origin: str) -> Protego | None:
        """The rules of ``origin``; None (everything allowed) when it has no readable robots.txt."""
        try:
            self.wait(origin)
            fetched = self._fetcher.get(f"{origin}/robots.txt")
            return Protego.parse(fetched.data.decode("utf-8", errors="replace"))
        except HTTPStatusError as exc:
            if exc.status >= 500:  # RFC 9309: an unreachable robots.txt disallows everything
                return Protego.parse(_DISALLOW_ALL)
        except FetchError:
            pass  # none (4xx), or the site cannot be reached: its pages will fail alone
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
