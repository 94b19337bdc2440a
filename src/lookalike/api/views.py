"""What the page templates show: results and places as plain dicts, and small formatters.

Templates stay simple (loops and ifs); deciding what a result shows, which
links are safe to render and how a distance reads lives here.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from lookalike.api.facets import SIZES, source_of
from lookalike.api.service import Page
from lookalike.records import FRAME_MARK, clock, frame_time, is_internal_field
from lookalike.search.planner import Result
from lookalike.search.tiers import HEADINGS, sections
from lookalike.search.words import TERM, fold
from lookalike.sources.video import VIDEO_EXTENSIONS
from lookalike.usecases.search import SAFETY

__all__ = [
    "card",
    "excerpt",
    "human_bytes",
    "image_size",
    "listed_card",
    "pages",
    "place",
    "query_facts",
    "region",
    "safe_link",
    "split_query",
    "tier_sections",
    "veiled",
    "when",
    "why",
]

#: Extra metadata shown first on a card, in this order; the rest follow alphabetically.
FIRST_FIELDS = ("price", "licence", "license", "author", "artist", "creator")
#: Most extra fields a card shows (the image page shows them all).
CARD_FIELDS = 4
SIZE_LABELS = {name: label for name, _, label in SIZES}
#: Results under this score are not shown as 'similar' on an image's page.
SIMILAR_MIN_SCORE = 0.05
#: Formats a browser draws in an ``<img>``; another query image is described, not shown.
VIEWABLE = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP", "ICO", "AVIF"})
#: How the page names the fields a query word was found in (a text signal is named as itself).
FIELD_LABELS = {
    "title": "title",
    "tags": "tags",
    "text": "description",
    "path": "path",
    "ocr": "text in the image",
}


def safe_link(url: object) -> str | None:
    """``url`` when it is an http(s) link, else None (no ``javascript:`` from metadata)."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def split_query(text: str) -> tuple[str, str | None]:
    """(words, first http(s) URL) of what was typed in the search box."""
    words: list[str] = []
    urls: list[str] = []
    for part in text.split():
        (urls if part.startswith(("http://", "https://")) else words).append(part)
    return " ".join(words), urls[0] if urls else None


def name_of(uri: str) -> str:
    """The file name part of a location (an archive member's own name)."""
    inner = uri.rsplit("!/", 1)[-1]
    return inner.rstrip("/").rsplit("/", 1)[-1] or uri


def short_location(uri: str) -> str:
    """A location short enough for a card: ``folder/file.jpg``, ``sheets.zip!/a/b.png``, ``host/path``."""
    if "://" in uri:
        scheme, _, rest = uri.partition("://")
        return rest if scheme in ("http", "https") else rest.split("/", 1)[-1]
    outer, sep, inner = uri.partition("!/")
    parts = outer.rstrip("/").split("/")
    return (parts[-1] + sep + inner) if sep else "/".join(parts[-2:])


def place(
    occurrence: Mapping[str, Any],
    image_id: int | None = None,
    pages: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One place an image was seen: label, title, safe links, source, tags, extra fields, and
    (``pages``: crawled pages by URL) what the page it was found on says of itself."""
    uri = str(occurrence["uri"])
    extra = dict(occurrence.get("extra") or {})
    link = safe_link(uri)
    box = occurrence.get("box")
    tile = None
    if box:
        x, y, w, h = box
        tile = {"box": f"({x}, {y}, {w}, {h})", "sheet_id": occurrence.get("parent_id")}
    frame = _frame(uri, occurrence.get("parent_id"), box)
    return {
        "uri": uri,
        "tile": tile,  # a tile cut from a sheet: its box and the sheet's image id
        "frame": frame,  # a frame of a video or animation: its time, the video's id and a link to play it there
        "name": name_of(uri) if frame is None else f"{name_of(frame['of'])} at {frame['clock']}",
        "short": short_location(uri)
        if frame is None
        else f"{short_location(frame['of'])} at {frame['clock']}",
        "title": occurrence.get("title"),
        "text": occurrence.get("text"),
        "link": link,  # the location itself, when it is a web address
        "page_url": safe_link(occurrence.get("page_url")),
        "url": safe_link(occurrence.get("url")) if occurrence.get("url") != link else None,
        "local": bool(occurrence.get("file")) and not box and not frame,
        "file": f"/api/images/{image_id}/file"
        if image_id is not None and occurrence.get("file") and not box and not frame
        else None,
        "tags": list(occurrence.get("tags") or ()),
        "extra": _ordered(extra),
        "found_on": _found_on(occurrence.get("page_url"), pages or {}),
    }


def _found_on(page_url: object, pages: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The crawled page a place was found on: its link, title, author and licence."""
    page = pages.get(page_url) if isinstance(page_url, str) else None
    link = safe_link(page_url) if isinstance(page_url, str) else None
    if page is None or link is None:
        return None
    extra = page.get("extra") or {}
    return {
        "link": link,
        "title": page.get("title") or short_location(str(page_url)),
        "author": extra.get("author"),
        "licence": extra.get("licence"),
    }


def _frame(uri: str, parent_id: int | None, box: object) -> dict[str, Any] | None:
    """A frame's time ('00:01:23'), its video's image id and file link, which plays from that time."""
    at = frame_time(uri, parent_id, box)
    if at is None:
        return None
    of = uri.rsplit(FRAME_MARK, 1)[0]
    video = os.path.splitext(of)[1].lower() in VIDEO_EXTENSIONS  # an animation's file has no times to seek
    return {
        "at": at,
        "clock": clock(at),
        "of": of,
        "video_id": parent_id,
        "play": f"/api/images/{parent_id}/file{uri[len(of) :]}" if video and parent_id is not None else None,
    }


def _ordered(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    shown = {k: v for k, v in extra.items() if not is_internal_field(k) and v not in (None, "", [], {})}
    keys = [k for k in FIRST_FIELDS if k in shown] + sorted(k for k in shown if k not in FIRST_FIELDS)
    return [(k, _text(shown[k], 200 if safe_link(shown[k]) else 80)) for k in keys]


def _text(value: Any, width: int = 80) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def why(result: Result, bits: Mapping[str, int]) -> list[dict[str, Any]]:
    """Each signal's verdict in words: ``phash 12 of 576 bits``, ``colour 0.081``, ``text``."""
    found = []
    for e in result.why:
        if e.signal == "text" and e.similarity <= 0:
            continue  # the words did not match this one; the images did
        if e.match is not None and e.note is not None:  # a sheet found by its tile: the tile's box
            detail = e.note
        elif e.match is not None:
            detail = f"{e.match.inliers} inliers" + (", mirrored" if e.match.mirrored else "")
        elif e.note is not None:
            detail = e.note
        elif e.distance is None:
            detail = f"words {e.similarity:.2f}" if e.signal == "text" else "no feature"
        elif e.signal in bits:
            detail = f"{e.distance:.0f} of {bits[e.signal]} bits"
        else:
            detail = f"distance {e.distance:.3f}"
        found.append(
            {"signal": e.signal, "detail": detail, "similarity": e.similarity, "strong": e.similarity >= 0.5}
        )
    return found


def is_small(width: int | None, height: int | None, thumbnail_size: int) -> bool:
    """Whether the thumbnail is the image at its own size (pixel art), to be enlarged crisply."""
    return bool(width and height and max(width, height) * 2 <= thumbnail_size)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an upright image from its header (EXIF rotations swap them)."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            turned = opened.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # a query that cannot be read has no preview to draw on
        return None
    return (height, width) if turned else (width, height)


def region(polygon: Sequence[tuple[float, float]], width: int, height: int) -> dict[str, Any]:
    """A matched region as SVG: a view box of the image's size and the polygon's points in it."""
    points = " ".join(f"{x * width:.1f},{y * height:.1f}" for x, y in polygon)
    return {"w": width, "h": height, "points": points}


def card(
    result: Result,
    rank: int,
    bits: Mapping[str, int],
    thumbnail_size: int = 256,
    query: tuple[str, int, int] | None = None,
) -> dict[str, Any]:
    """Everything a result card shows.

    ``query``: the query image's thumbnail URL, width and height, to draw the matched
    region on it as well as on the result's thumbnail.
    """
    places = [place(o.__dict__, result.image_id) for o in result.occurrences]
    image = result.image
    fields: dict[str, str] = {}
    for p in places:
        for key, value in p["extra"]:
            fields.setdefault(key, value)
    tags = list(dict.fromkeys(t for p in places for t in p["tags"]))
    title = next((p["title"] for p in places if p["title"]), None)
    forms = {f for hit in result.words for f in hit.found}
    described = next((p["text"] for p in places if p["text"]), None)
    return {
        "id": result.image_id,
        "rank": rank,
        "score": result.score,
        "match": result.match.as_dict() if result.match else None,
        "title": title or (places[0]["name"] if places else f"image {result.image_id}"),
        "why": why(result, bits),
        "fields": list(fields.items())[:CARD_FIELDS],
        "more_fields": max(0, len(fields) - CARD_FIELDS),
        "tags": tags[:8],
        "auto_tags": [t for t in result.auto_tags if t not in tags][:5],
        "places": places,
        "file": next((p["file"] for p in places if p["file"]), None),
        "collapsed": list(result.collapsed),
        "snippets": [s.text for s in result.snippets],
        "size": f"{image.width}×{image.height} {image.format or ''}".strip()
        if image and image.width and image.height
        else "",
        "sources": sorted({source_of(o) for o in result.occurrences}),
        "pixel": bool(image and is_small(image.width, image.height, thumbnail_size)),
        "words": [(FIELD_LABELS.get(h.field, h.field), h.found) for h in result.words],
        "forms": forms,
        "text": excerpt(described, forms)
        if described and any(h.field == "text" for h in result.words)
        else "",
        "sensitive": result.flags.get(SAFETY),
        **_regions(result, query),
    }


def excerpt(text: object, forms: Collection[str], width: int = 160) -> str:
    """A part of ``text`` of about ``width`` characters around the first word of ``forms``."""
    value = "" if text is None else " ".join(str(text).split())
    if len(value) <= width:
        return value
    first = next((w.start() for w in TERM.finditer(value) if fold(w.group()) in forms), 0)
    start = max(0, min(first - width // 3, len(value) - width))
    part = value[start : start + width]
    return ("…" if start else "") + part + ("…" if start + width < len(value) else "")


def tier_sections(cards: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Cards in sections by their match tier, in the order and with the headings of
    :data:`lookalike.search.tiers.HEADINGS`."""
    found = sections(cards, lambda c: c["match"]["tier"] if c["match"] else None)
    return [{"tier": tier.value, "heading": HEADINGS[tier], "cards": part} for tier, part in found]


def query_facts(data: bytes) -> dict[str, Any] | None:
    """An uploaded query image's pixel size (upright), file size and format; None when it is
    not an image Pillow can open."""
    size = image_size(data)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            fmt = opened.format or ""
    except Exception:  # not an image: the search says why
        return None
    if size is None:
        return None
    return {
        "width": size[0],
        "height": size[1],
        "bytes": len(data),
        "format": fmt,
        "viewable": fmt in VIEWABLE,
    }


def listed_card(result: Result, added_at: float | None, thumbnail_size: int = 256) -> dict[str, Any]:
    """A card of the collection's listing (browsing, no query): the result card plus bytes and date."""
    found = card(result, 0, {}, thumbnail_size)
    found.update(bytes=result.image.bytes if result.image else None, added_at=added_at)
    return found


def veiled(cards: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """``cards`` marked to be shown blurred until clicked: the flagged ones, when ``mode`` is blur."""
    for c in cards:
        c["blurred"] = mode == "blur" and bool(c.get("sensitive"))
    return cards


def text_boxes(boxes: Sequence[Sequence[float] | None], width: int, height: int) -> dict[str, Any]:
    """Boxes of read text (quads in [0, 1]) as SVG polygons over an image of this size."""
    quads = [list(zip(b[0::2], b[1::2], strict=True)) for b in boxes if b]
    return {
        "w": width,
        "h": height,
        "points": "",
        "texts": [region(q, width, height)["points"] for q in quads],
    }


def _regions(result: Result, query: tuple[str, int, int] | None) -> dict[str, Any]:
    matched, image = result.region, result.image
    if image is None or not image.width or not image.height:
        return {}
    if matched is None:
        boxed = [s.box for s in result.snippets if s.box]
        return {"region": text_boxes(boxed, image.width, image.height)} if boxed else {}
    found = {"region": region(matched[1], image.width, image.height)}
    if query is not None:
        src, width, height = query
        found["query_region"] = {"src": src, **region(matched[0], width, height)}
    return found


def pages(page: Page, per_page: int, limit: int = 50) -> list[int]:
    """Page numbers to offer (1-based) for a result page."""
    count = min(limit, max(1, -(-page.total // per_page)))
    return list(range(1, count + 1))


def human_bytes(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns


def when(timestamp: float | None) -> str:
    """A timestamp as ``2026-11-21 14:03 UTC``."""
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def facet_label(field: str, value: str) -> str:
    """How a facet value reads: sizes get their range, folders their last part."""
    if field == "size":
        return f"{value} ({SIZE_LABELS.get(value, '')})".replace(" ()", "")
    if field == "source" and "/" in value:
        return value.rstrip("/").rsplit("/", 1)[-1] or value
    return value
