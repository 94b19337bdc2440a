"""Extraction: decode each image's bytes once, run every signal over the batch, cut sheets into tiles.

A video's bytes give no pixels of their own: its kept frames are extracted as images, and the
video is recorded with its facts and its first frame's thumbnail.  An animated image is decoded
as its first frame, as ever, and its later kept frames are extracted alike.

A signal that cannot read one image costs only that image's feature: the image is kept
with the others, and the reason goes to the catalog (``stats`` lists it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from lookalike.decode import DecodedImage, decode
from lookalike.errors import DecodeError, ModelError, SignalError
from lookalike.ingest.thumbnails import render
from lookalike.records import Box, Extracted, Failure, Provenance, TextField, frame_uri
from lookalike.settings import Settings
from lookalike.signals import Signal, SignalSet
from lookalike.sources.animation import ANIMATED, sample_animation
from lookalike.sources.frames import Moving
from lookalike.sources.tiles import split
from lookalike.sources.video import looks_like_video, sample_video

__all__ = ["decode_size", "extract", "extract_many", "with_tiles"]


def decode_size(settings: Settings, signals: Mapping[str, Signal]) -> int:
    """The long side every decode is asked for, at ingest and at query time alike.

    A JPEG's reduced-scale decode depends on it, so indexed and query features of
    the same file only agree when both paths ask for the same size.  Text signals (OCR)
    are left out: queries never run them, and one that reads a larger view gets a
    decode of its own (:func:`_views_for`).
    """
    indexed = SignalSet(signals).indexed().values()
    return max([settings.ingest.thumbnail_size, *(s.input_size for s in indexed)])


def extract(
    data: bytes,
    uri: str,
    settings: Settings,
    signals: Mapping[str, Signal],
    sha: str | None = None,
    tiles: bool = True,
) -> Extracted:
    """Decode once and run every signal; a decode failure becomes a recorded failure.

    With ``ingest.tiles`` on, a sprite or tile sheet also yields its tiles, extracted alike.
    """
    return extract_many([(sha or hashlib.sha256(data).hexdigest(), data, uri)], settings, signals, tiles)[0]


def extract_many(
    items: Sequence[tuple[str, bytes, str]],
    settings: Settings,
    signals: Mapping[str, Signal],
    tiles: bool = True,
    thumbnails: bool = True,
) -> list[Extracted]:
    """Decode each (sha, data, uri) once, then run each signal over the batch (models embed in one call).

    Without ``tiles`` sheets are not cut; without ``thumbnails`` none is rendered (a backfill)."""
    need = decode_size(settings, signals)
    results: dict[int, Extracted] = {}
    decoded: list[tuple[int, DecodedImage]] = []
    for position, (sha, data, uri) in enumerate(items):
        if tiles and looks_like_video("", data[:64]):  # by its bytes: a frame's uri names the video
            results[position] = _video(sha, data, uri, settings, signals)
            continue
        try:
            decoded.append((position, decode(data, settings.decode, uri, need)))
        except DecodeError as exc:
            results[position] = Extracted(sha, len(data), failure=Failure(exc.reason, exc.detail))
    features: list[dict[str, tuple[int, bytes]]] = [{} for _ in decoded]
    texts: list[dict[str, tuple[TextField, ...]]] = [{} for _ in decoded]
    failed: list[dict[str, tuple[int, str]]] = [{} for _ in decoded]
    flags: list[dict[str, str | None]] = [{} for _ in decoded]
    chosen = SignalSet(signals)
    readers, flaggers = chosen.texts(), chosen.flags()
    for name, signal in signals.items():
        views = _views_for(signal, items, decoded, settings, need)
        for found, read, trouble, flag, feature in zip(
            features, texts, failed, flags, _run(signal, views), strict=True
        ):
            if isinstance(feature, SignalError):
                trouble[name] = (signal.spec.version, feature.detail)
                continue
            found[name] = (signal.spec.version, signal.encode(feature))
            if name in readers:  # a text signal's words go to keyword search as well
                read[name] = tuple(readers[name].texts(feature))
            if name in flaggers:  # a flag's reason goes where search can leave the image out
                flag[name] = flaggers[name].reason(feature)
    size = settings.ingest.thumbnail_size if thumbnails else 0
    for (position, image), found, read, trouble, flag in zip(
        decoded, features, texts, failed, flags, strict=True
    ):
        sha, data, uri = items[position]
        thumbnail = render(image, size) if size else b""
        cut: tuple[tuple[Box, Extracted], ...] = ()
        if tiles and settings.ingest.tiles != "off":
            pieces = split(data, settings.ingest.tiles, settings.ingest.tile_budget)
            tile_items = [
                (hashlib.sha256(tile).hexdigest(), tile, f"{uri}#tile={','.join(map(str, box))}")
                for box, tile in pieces
            ]
            extracted = extract_many(tile_items, settings, signals, tiles=False) if tile_items else []
            cut = tuple((box, ex) for (box, _), ex in zip(pieces, extracted, strict=True))
        moving = _animation(data, image.format, settings) if tiles else None
        results[position] = Extracted(
            sha,
            len(data),
            image.width,
            image.height,
            image.format,
            image.mode,
            found,
            None,
            thumbnail,
            cut,
            read,
            trouble,
            flag,
            _frames(moving, uri, settings, signals),
            moving.facts if moving else {},
        )
    return [results[position] for position in range(len(items))]


def _video(sha: str, data: bytes, uri: str, settings: Settings, signals: Mapping[str, Signal]) -> Extracted:
    """A video: its facts and kept frames (each extracted as an image), its first frame as thumbnail."""
    moving = sample_video(data, settings.video, settings.decode.work_size, uri)
    frames = _frames(moving, uri, settings, signals)
    poster = next((ex.thumbnail for _, ex in frames if ex.thumbnail), b"")
    return Extracted(
        sha,
        len(data),
        moving.width,
        moving.height,
        moving.format,
        moving.mode,
        failure=moving.failure,
        thumbnail=poster,
        frames=frames,
        facts=moving.facts,
    )


def _animation(data: bytes, fmt: str, settings: Settings) -> Moving | None:
    if not settings.video.animations or fmt not in ANIMATED:
        return None
    return sample_animation(data, settings.video, settings.decode.work_size)


def _frames(
    moving: Moving | None, uri: str, settings: Settings, signals: Mapping[str, Signal]
) -> tuple[tuple[float, Extracted], ...]:
    """The kept frames of a video or animation, each extracted as an image of its own."""
    if moving is None or not moving.frames:
        return ()
    work = [(hashlib.sha256(png).hexdigest(), png, frame_uri(uri, at)) for at, png in moving.frames]
    extracted = extract_many(work, settings, signals, tiles=False)
    return tuple((at, ex) for (at, _), ex in zip(moving.frames, extracted, strict=True))


def _run(signal: Signal, views: list[DecodedImage]) -> list[np.ndarray | SignalError]:
    """The signal's features of ``views``; when the batch fails, image by image, so that one image
    the signal cannot read costs only its own feature (a :class:`SignalError` in its place)."""
    try:
        return list(signal.extract_batch(views))
    except ModelError:
        raise  # a model that cannot load fails every image: the user must hear of it
    except Exception as exc:
        if len(views) == 1:
            return [_failure(signal, exc)]
    return [_run(signal, [view])[0] for view in views]


def _failure(signal: Signal, exc: Exception) -> SignalError:
    if isinstance(exc, SignalError):
        return exc
    return SignalError(f"{signal.spec.name} failed: {type(exc).__name__}: {exc}")


def _views_for(
    signal: Signal,
    items: Sequence[tuple[str, bytes, str]],
    decoded: list[tuple[int, DecodedImage]],
    settings: Settings,
    need: int,
) -> list[DecodedImage]:
    """The decoded images, decoded again at ``signal.input_size`` if it reads a larger view."""
    if signal.input_size <= need:
        return [image for _, image in decoded]
    views = []
    larger = settings.decode.model_copy(
        update={"work_size": max(settings.decode.work_size, signal.input_size)}
    )
    for position, image in decoded:
        try:
            views.append(decode(items[position][1], larger, items[position][2], signal.input_size))
        except DecodeError:  # it decoded at the smaller size; read that
            views.append(image)
    return views


def with_tiles(
    batch: Iterable[tuple[Provenance, Extracted | Failure]],
) -> list[tuple[Provenance, Extracted | Failure]]:
    """The batch with each sheet followed by its tiles, seen at 'sheet#tile=x,y,w,h', and each video or
    animation by its frames, seen at 'video.mp4#t=SECONDS' (its facts join its place's extra)."""
    out: list[tuple[Provenance, Extracted | Failure]] = []
    for where, outcome in batch:
        facts = outcome.facts if isinstance(outcome, Extracted) else {}
        out.append((replace(where, extra={**where.extra, **facts}) if facts else where, outcome))
        if isinstance(outcome, Extracted):
            out += [(_frame_place(where, at, outcome.sha256), frame) for at, frame in outcome.frames]
            for box, tile in outcome.tiles:
                place = Provenance(
                    f"{where.uri}#tile={','.join(map(str, box))}",
                    file=where.file,
                    member=where.member,
                    url=where.url,
                    page_url=where.page_url,
                    parent=outcome.sha256,
                    box=box,
                )
                out.append((place, tile))
    return out


def _frame_place(where: Provenance, at: float, parent: str) -> Provenance:
    return Provenance(
        frame_uri(where.uri, at),
        file=where.file,
        member=where.member,
        url=where.url,
        page_url=where.page_url,
        title=where.title,
        parent=parent,
    )
