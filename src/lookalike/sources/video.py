"""Video files: recognise them, and pick their frames through PyAV (FFmpeg), with limits.

A video is one item (its bytes hashed like any file, with its size, duration and codec); the
frames :class:`~lookalike.sources.frames.Sampler` keeps become images of their own, each seen
at ``video.mp4#t=SECONDS`` (a Media Fragments time, which a browser's player seeks to).

PyAV is optional (``pip install 'lookalike[video]'``); without it video files are recorded as
skipped with that hint.  Decoding stops at ``video.time_limit`` seconds (checked between
packets), refuses frames larger than ``video.max_pixels``, and any error FFmpeg raises becomes a
recorded reason, never an exception out of this module.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

from lookalike.errors import Reason
from lookalike.records import Failure, clock
from lookalike.settings import VideoSettings
from lookalike.sources.frames import HASH_SIZE, Moving, Sampler, frame_png, small_hash

__all__ = ["MISSING", "VIDEO_EXTENSIONS", "available", "frame_at", "looks_like_video", "sample_video"]

VIDEO_EXTENSIONS = frozenset([".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi"])
#: ISO media brands of still images (HEIC, AVIF, ...): an ``ftyp`` box with one of these is not a video.
_IMAGE_BRANDS = frozenset(
    [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"]
)
_FORMATS = {".mp4": "MP4", ".m4v": "MP4", ".mkv": "MKV", ".webm": "WEBM", ".mov": "MOV", ".avi": "AVI"}
_SKIP = {"all": "DEFAULT", "reference": "NONREF", "keyframes": "NONKEY"}

MISSING = "a video, and PyAV is not installed to read it: pip install 'lookalike[video]'"


def available() -> bool:
    """Whether PyAV (the ``av`` package) can be imported."""
    return find_spec("av") is not None


def looks_like_video(name: str, head: bytes) -> bool:
    """Whether a file is a video, by its name or its first bytes (MP4/MOV, Matroska/WebM, AVI)."""
    if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
        return True
    if head[4:8] == b"ftyp":
        return head[8:12] not in _IMAGE_BRANDS
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # an old QuickTime file, without ftyp
        return True
    return head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


def sample_video(data: bytes, settings: VideoSettings, work_size: int, name: str = "") -> Moving:
    """The facts of a video and its kept frames (PNG, at most ``work_size`` on the long side)."""
    found = Moving(format=_FORMATS.get(os.path.splitext(name)[1].lower(), "VIDEO"))
    if not data:
        found.failure = Failure(Reason.EMPTY, "the file is empty")
        return found
    try:
        import av
    except ImportError:
        found.failure = Failure(Reason.DECODER_MISSING, MISSING)
        return found
    try:
        _sample(av, data, settings, work_size, found)
    except av.error.EOFError:  # the data ended inside the headers, or before any packet
        pass
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:  # FFmpeg's errors on hostile data
        found.failure = Failure(
            Reason.CORRUPT, f"cannot decode the video: {getattr(exc, 'strerror', None) or exc}"
        )
    if found.failure is None and not found.frames:
        found.failure = Failure(Reason.EMPTY, "the video stream has no frames")
    found.facts["frames"] = len(found.frames)
    return found


def _sample(av: Any, data: bytes, settings: VideoSettings, work_size: int, found: Moving) -> None:
    started = time.monotonic()
    with av.open(io.BytesIO(data), metadata_errors="ignore") as container:
        if not container.streams.video:
            audio = bool(container.streams.audio)
            found.failure = Failure(
                Reason.NO_VIDEO,
                "an audio file: it has no video stream" if audio else "it has no video stream",
            )
            return
        stream = container.streams.video[0]
        if (
            why := _check_size(stream.codec_context.width, stream.codec_context.height, settings)
        ) is not None:
            found.failure = why
            return
        _describe(found, container, stream)
        _configure(stream, settings)
        sampler = Sampler(settings, found.facts.get("duration"))
        start = stream.start_time or 0
        end = 0.0
        for seconds, frame, reached in _frames(stream, container, start):
            end = max(end, reached)
            if time.monotonic() - started > settings.time_limit:
                found.failure = _out_of_time(settings, seconds, len(found.frames))
                return
            if frame is None:
                continue
            if (why := _check_size(frame.width, frame.height, settings)) is not None:
                found.failure = why
                return
            grey = frame.to_ndarray(
                width=HASH_SIZE[0], height=HASH_SIZE[1], format="gray8", interpolation="AREA"
            )
            if sampler.offer(seconds, small_hash(grey)):
                found.frames.append((seconds, _png(frame, work_size)))
            if sampler.full:
                return
        found.failure = _truncated(found, end, settings)


def _frames(stream: Any, container: Any, start: int) -> Iterator[tuple[float, Any, float]]:
    """(seconds from the start, frame or None, seconds the packets reached) for every packet of the
    stream: a packet whose frames the decoder skips still moves the clock (and the time limit is
    checked). A frame without a time gets its packet's."""
    base = float(stream.time_base)
    reached = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None:  # None: the flush packet at the end, which gives the last frames
            reached = max(reached, (packet.pts + (packet.duration or 0) - start) * base)
        frames = packet.decode()
        yield reached, None, reached
        for frame in frames:
            seconds = (frame.pts - start) * base if frame.pts is not None else reached
            yield max(0.0, seconds), frame, reached


def _describe(found: Moving, container: Any, stream: Any) -> None:
    context = stream.codec_context
    found.width, found.height = context.width, context.height
    found.mode = context.pix_fmt or ""
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    rate = stream.average_rate or stream.guessed_rate
    found.facts.update(
        {"duration": round(duration, 3) if duration else None, "codec": context.name}
        | ({"fps": round(float(rate), 3)} if rate else {})
    )


def _configure(stream: Any, settings: VideoSettings) -> None:
    context = stream.codec_context
    context.skip_frame = _SKIP[settings.decode]
    if settings.threads != 1:
        stream.thread_type = "AUTO"  # frame and slice threads, as the codec allows
    context.thread_count = settings.threads


def _check_size(width: int, height: int, settings: VideoSettings) -> Failure | None:
    if width <= 0 or height <= 0:
        return Failure(Reason.CORRUPT, f"the video stream claims a size of {width}x{height}")
    if width * height > settings.max_pixels:
        return Failure(
            Reason.TOO_MANY_PIXELS,
            f"frames of {width}x{height} pixels are more than video.max_pixels={settings.max_pixels}",
        )
    return None


def _png(frame: Any, work_size: int) -> bytes:
    """The frame scaled (area averaging, as the image decoder reduces) and encoded as PNG."""
    w, h = frame.width, frame.height
    scale = min(1.0, work_size / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = frame.to_image(width=size[0], height=size[1], interpolation="AREA")
    return frame_png(image, work_size)


def _out_of_time(settings: VideoSettings, seconds: float, kept: int) -> Failure:
    return Failure(
        Reason.TIME_LIMIT,
        f"decoding took longer than video.time_limit={settings.time_limit:g} s; stopped at {clock(seconds)}, "
        f"the {kept} frames before were kept",
    )


def _truncated(found: Moving, end: float, settings: VideoSettings) -> Failure | None:
    """A failure when the stream's packets end well before the duration its header claims."""
    duration = found.facts.get("duration")
    if not duration or not found.frames or end >= duration - max(1.0, settings.interval):
        return None
    return Failure(
        Reason.TRUNCATED,
        f"the video ends at {clock(end)} of the {clock(duration)} its header claims (cut short?); "
        f"the {len(found.frames)} frames before were kept",
    )


def frame_at(data: bytes, seconds: float, work_size: int) -> bytes | None:
    """The PNG of the frame at ``seconds`` (as :func:`frame_uri` wrote it), made again as sampling
    made it: seek to the keyframe before, decode on to the frame. None when there is none there."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(io.BytesIO(data), "r", metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            start, base = stream.start_time or 0, float(stream.time_base or 1)
            container.seek(start + int(seconds / base), backward=True, any_frame=False, stream=stream)
            for at, frame, _ in _frames(stream, container, start):
                if frame is not None and abs(at - seconds) < 0.0006:
                    return _png(frame, work_size)
                if frame is not None and at > seconds + 1:
                    return None
    except (IndexError, av.FFmpegError, ValueError, OSError, EOFError):
        return None
    return None
