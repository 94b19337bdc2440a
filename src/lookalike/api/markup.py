"""Text of metadata as the page shows it: the query's words marked, web addresses made links.

Everything is escaped first; only ``<mark>`` and ``<a>`` with an http(s) address (and
``rel="noopener noreferrer nofollow"``) are added, so no metadata can put markup on the page.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from markupsafe import Markup, escape

from lookalike.api.views import safe_link
from lookalike.search.words import TERM, fold

__all__ = ["linked", "marked"]

#: A web address inside text, up to white space or a closing bracket or quote.
URL = re.compile(r"https?://[^\s<>\"'()\[\]]+")
#: Characters that end a sentence rather than an address.
TRAILING = ".,;:!?"
#: Most characters of an address shown as a link's text (the whole address is its title).
LABEL = 40


def marked(text: object, forms: Collection[str] = ()) -> Markup:
    """``text`` escaped, with the words whose folded form is in ``forms`` in ``<mark>``."""
    value = "" if text is None else str(text)
    if not forms:
        return Markup(escape(value))
    out: list[str] = []
    last = 0
    for word in TERM.finditer(value):
        if fold(word.group()) in forms:
            out += [
                escape(value[last : word.start()]),
                Markup("<mark>"),
                escape(word.group()),
                Markup("</mark>"),
            ]
            last = word.end()
    out.append(escape(value[last:]))
    return Markup("").join(out)


def linked(text: object, forms: Collection[str] = ()) -> Markup:
    """``text`` with its http(s) addresses as links and the words of ``forms`` marked elsewhere."""
    value = "" if text is None else str(text)
    out: list[Markup] = []
    last = 0
    for found in URL.finditer(value):
        address = found.group().rstrip(TRAILING)
        link = safe_link(address)
        if link is None:
            continue
        out += [marked(value[last : found.start()], forms), _anchor(link)]
        last = found.start() + len(address)
    out.append(marked(value[last:], forms))
    return Markup("").join(out)


def _anchor(url: str) -> Markup:
    """A link whose text is the address without its scheme, cut to :data:`LABEL` characters."""
    label = url.split("://", 1)[-1]
    label = label if len(label) <= LABEL else label[: LABEL - 1] + "…"
    return Markup(
        '<a href="{0}" rel="noopener noreferrer nofollow" target="_blank" title="{0}">{1}</a>'
    ).format(url, label)
