"""How long a fetched file stays fresh: its ``Cache-Control: max-age`` or ``Expires`` (RFC 9111).

A re-crawl asks every page again, but a file only when its page changed, when its own
freshness ran out, or with ``--recheck-files``.  A file that says nothing of its
freshness stays fresh as long as the pages that link it are unchanged.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping

__all__ = ["fresh_until"]


def fresh_until(headers: Mapping[str, str], now: float) -> float | None:
    """When a response with ``headers`` (lower-case names) received at ``now`` goes stale.

    ``no-cache`` / ``no-store``, ``max-age=0`` or an unreadable value: stale at once
    (``now``); ``max-age`` (less the ``Age`` it already has) or ``Expires`` (against the
    response's ``Date``): that time; nothing said: None.
    """
    directives = _directives(headers.get("cache-control", ""))
    if "no-store" in directives or "no-cache" in directives:
        return now
    if "max-age" in directives:
        try:
            return now + max(0, int(directives["max-age"]) - _seconds(headers.get("age")))
        except ValueError:
            return now
    expires = headers.get("expires")
    if expires is None:
        return None
    stale, sent = _date(expires), _date(headers.get("date", ""))
    if stale is None:
        return now  # RFC 9111: an invalid Expires (such as "0") means already stale
    return now + max(0.0, stale - (sent if sent is not None else now))


def _directives(value: str) -> dict[str, str]:
    found = {}
    for part in value.lower().split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            found[name.strip()] = argument.strip().strip('"')
    return found


def _seconds(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
