"""How long a fetched file stays fresh, from its response headers (RFC 9111); no server."""

from __future__ import annotations

import pytest

from lookalike.sources.crawl import fresh_until

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),  # says nothing: fresh while its pages are unchanged
        ({"cache-control": "public, max-age=3600"}, NOW + 3600),
        ({"cache-control": 'max-age="60"', "age": "20"}, NOW + 40),  # already 20 s old in a cache
        ({"cache-control": "max-age=10", "age": "99"}, NOW),
        ({"cache-control": "max-age=0"}, NOW),
        ({"cache-control": "no-cache, max-age=3600"}, NOW),
        ({"cache-control": "no-store"}, NOW),
        ({"cache-control": "max-age=soon"}, NOW),  # unreadable: stale
        (
            {"cache-control": "max-age=60", "expires": "Thu, 01 Jan 2099 00:00:00 GMT"},
            NOW + 60,
        ),  # max-age wins
        ({"expires": "0"}, NOW),  # an invalid Expires: already stale
        ({"expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, NOW),
        ({"expires": "Sat, 21 Nov 2026 11:00:00 GMT", "date": "Sat, 21 Nov 2026 10:00:00 GMT"}, NOW + 3600),
    ],
)
def test_freshness_from_the_headers(headers: dict[str, str], expected: float | None) -> None:
    assert fresh_until(headers, NOW) == expected


def test_expires_without_a_date_counts_from_now() -> None:
    later = fresh_until({"expires": "Thu, 01 Jan 2099 00:00:00 GMT"}, NOW)
    assert later is not None and later > NOW + 365 * 86400
