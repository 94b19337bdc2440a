"""Searching: by image (bytes, a file, a URL), by an indexed id, by words, or an image and words together."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from lookalike.app import App
from lookalike.decode import DecodedImage, decode
from lookalike.errors import InputError, NotFoundError, Reason
from lookalike.ingest.extract import decode_size
from lookalike.records import VIDEO_FORMATS
from lookalike.search.planner import Result
from lookalike.search.tiers import Tier
from lookalike.usecases.ingest import signal_names
from lookalike.usecases.originals import original

__all__ = ["SAFETY", "hidden", "search", "similar", "with_flags"]

#: The flag the safety signal raises (exposure): hidden only when a search asks to be safe.
SAFETY = "safety"


def search(
    app: App,
    image: bytes | str | Path | None = None,
    *,
    text: str | None = None,
    image_id: int | None = None,
    k: int | None = None,
    signals: Sequence[str] | None = None,
    collapse: bool = True,
    include_junk: bool = False,
    safe: bool = False,
) -> list[Result]:
    """Search by image (bytes, a path or an http(s) URL), by an indexed id, by words, or both.

    Images flagged junk are left out unless ``include_junk``; with ``safe``, so are those the
    safety signal flagged."""
    if image is not None and image_id is not None:
        raise InputError(Reason.NOT_AN_IMAGE, "give an image or an id, not both")
    names = [n for n in signal_names(app, signals) if n in app.signals.indexed()]
    by_image = image is not None or image_id is not None
    fallback = _fallback(app, names) if by_image and not signals else []
    names = [n for n in names if n not in fallback]
    rerankers = _rerankers(app, names) if by_image else []
    vectors: dict[str, np.ndarray] = {}
    same_as = None
    exclude = {image_id} if image_id is not None else set()
    local: Callable[[], dict[str, np.ndarray]] = dict
    if image_id is not None:
        stand_in = _first_frame(app, image_id)  # a video has no features: its first frame stands for it
        exclude.add(stand_in)
        vectors = _stored_vectors(app, stand_in, [*names, *rerankers])
        local = partial(_stored_vectors, app, stand_in, fallback)
    elif image is not None:
        data = _image_bytes(app, image)
        same_as = hashlib.sha256(data).hexdigest()
        decoded = _decode_query(app, data, image if isinstance(image, str) else None)
        wanted = [*names, *rerankers]
        near = [n for n in wanted if n in app.signals.local()]  # local signals decode on their own
        vectors = {name: app.signals[name].query(decoded) for name in wanted if name not in near}
        vectors.update(_queries(app, data, image if isinstance(image, str) else None, near) if near else {})
        local = partial(_queries, app, data, image if isinstance(image, str) else None, fallback)
    rerank = {name: vectors.pop(name) for name in rerankers if name in vectors}
    if not vectors and not text:
        raise InputError(Reason.NOT_AN_IMAGE, "a search needs an image, an id or some words")
    worded = {n: s.embed_text([text]) for n, s in app.signals.text_queries(names).items()} if text else {}
    exclude = {image_id} if image_id is not None else set()
    exclude |= hidden(app, include_junk, safe)
    found = app.planner.search(vectors, text, k, exclude, collapse, rerank, worded, same_as)
    extra = local() if fallback and not _copies(found) else {}
    if extra:  # no copy of the picture: perhaps a part of one, or one inside a larger picture
        vectors.update(extra)
        rerank = {name: rows for name, rows in rerank.items() if name not in vectors}  # searched now
        found = app.planner.search(vectors, text, k, exclude, collapse, rerank, worded, same_as)
    if not vectors:  # words alone: a hit holds them, it is no copy or look-alike of anything
        found = [replace(r, match=None) for r in found]
    return with_flags(app, found)


def similar(
    app: App,
    image_id: int,
    k: int | None = None,
    signals: Sequence[str] | None = None,
    include_junk: bool = False,
    safe: bool = False,
) -> list[Result]:
    """Images that look like the indexed image ``image_id`` (itself excluded)."""
    return search(app, image_id=image_id, k=k, signals=signals, include_junk=include_junk, safe=safe)


def hidden(app: App, include_junk: bool = False, safe: bool = False) -> set[int]:
    """Images that results leave out: those flagged junk unless ``include_junk``, and those
    flagged by the safety signal when ``safe``."""
    flags = [] if include_junk else list(app.signals.flags(hiding=True))
    if safe:  # also where the safety signal ran once (index --signals safety) but is not configured
        flags += sorted({*app.signals.flags(hiding=False), SAFETY})
    return app.catalog.flags.ids(flags)


def with_flags(app: App, results: list[Result]) -> list[Result]:
    """``results`` with what the flag signals said of each (safety's labels, junk's reason), read
    from the catalog, so also where the signal that raised a flag is not configured now."""
    flags = app.catalog.flags.of([r.image_id for r in results])
    return [replace(r, flags=flags[r.image_id]) if r.image_id in flags else r for r in results]


def _rerankers(app: App, names: Sequence[str]) -> list[str]:
    """Local signals that re-rank a query's results (``search.rerank_keypoints``) without being searched."""
    if not app.settings.search.rerank_keypoints:
        return []
    return [n for n in app.signals.local() if n not in names]


def _fallback(app: App, names: Sequence[str]) -> list[str]:
    """The local signals (keypoints) of ``names`` that an image query searches only when its global
    signals find no copy (``search.local_fallback``); none when ``search.signals`` names signals
    (a query that names them searches each of them)."""
    if not app.settings.search.local_fallback or app.settings.search.signals:
        return []
    return [n for n in names if n in app.signals.local()]


def _copies(results: Sequence[Result]) -> bool:
    """Whether any result is the query's picture itself: the same bytes, or a copy of it (also as
    the tile of a sheet)."""
    return any(
        r.match is not None
        and (r.match.tier in (Tier.EXACT, Tier.COPY) or (r.tile and r.match.tier == Tier.CROP))
        for r in results
    )


def _queries(app: App, data: bytes, uri: str | None, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Query features of local signals, from a decode at the size they ask for a query."""
    decoded = _decode_query(app, data, uri, _query_size(app, names))
    return {name: app.signals[name].query(decoded) for name in names}


def _query_size(app: App, names: Sequence[str]) -> int | None:
    """The long side local signals want a query decoded at, when more than every other signal's."""
    wanted = max((getattr(app.signals[n], "query_size", 0) for n in names), default=0)
    usual = decode_size(app.settings, app.signals)
    return wanted if wanted > usual else None


def _first_frame(app: App, image_id: int) -> int:
    """The image of a video's first kept frame, or ``image_id`` itself for any other image."""
    image = app.catalog.images.get(image_id)
    if image is None or image.format not in VIDEO_FORMATS:
        return image_id
    frames = [o for o in app.catalog.images.parts(image_id) if o.at is not None and o.image_id is not None]
    return min(frames, key=lambda o: o.at or 0.0).image_id or image_id if frames else image_id


def _stored_vectors(app: App, image_id: int, names: Sequence[str]) -> dict[str, np.ndarray]:
    if app.catalog.images.get(image_id) is None:
        raise NotFoundError(f"no image with id {image_id}")
    vectors = {}
    for name in names:
        signal = app.signals[name]
        payload = app.catalog.features.get(name, signal.spec.version, [image_id]).get(image_id)
        if payload is not None:
            vectors[name] = signal.decode(payload)
    local = list(app.signals.local(list(vectors)))
    if local:  # a local signal's query also holds the mirrored image's keypoints: from the pixels
        vectors.update(_local_queries(app, image_id, local))
    return vectors


def _decode_query(app: App, data: bytes, uri: str | None, size: int | None = None) -> DecodedImage:
    """A query image decoded at the size ingest decodes at, so its features agree with stored ones
    (``size``: larger, for a local signal's finer view)."""
    if size is None:
        return decode(data, app.settings.decode, uri, decode_size(app.settings, app.signals))
    wider = app.settings.decode.model_copy(update={"work_size": max(size, app.settings.decode.work_size)})
    return decode(data, wider, uri, size)


def _local_queries(app: App, image_id: int, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Query features of local signals made from the image itself, when its bytes are still at hand."""
    try:
        data, uri = original(app, image_id)
    except NotFoundError:
        return {}  # the stored feature still finds unmirrored crops
    return _queries(app, data, uri, names)


def _image_bytes(app: App, image: bytes | str | Path) -> bytes:
    if isinstance(image, bytes):
        return image
    text = str(image)
    if text.startswith(("http://", "https://")):
        from lookalike.sources.fetch import Fetcher

        with Fetcher(app.settings.fetch) as fetcher:
            return fetcher.get(text).data
    path = Path(text)
    if path.is_dir():
        raise InputError(
            Reason.NOT_A_FILE,
            f"{text} is a folder; search takes one image (to search inside a folder: "
            f"lookalike search IMAGE --in {text})",
        )
    if not path.is_file():
        raise NotFoundError(f"no such image file: {text}")
    if path.stat().st_size > app.settings.decode.max_bytes:
        raise InputError(
            Reason.TOO_LARGE, f"larger than decode.max_bytes={app.settings.decode.max_bytes}", text
        )
    return path.read_bytes()
