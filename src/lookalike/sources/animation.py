"""Animated GIF, PNG (APNG) and WebP: their frames after the first, sampled like a video's.

The image itself stands for its first frame, as it always did; with ``video.animations`` on,
the later frames the :class:`~lookalike.sources.frames.Sampler` keeps (by their display times:
each frame's duration, 100 ms where a file gives none, as browsers do) become images of their
own, seen at ``anim.gif#t=SECONDS``.  Pure: bytes in, frames out.
"""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
from PIL import Image

from lookalike.decode import to_rgb
from lookalike.errors import Reason
from lookalike.records import Failure, clock
from lookalike.settings import VideoSettings
from lookalike.sources.frames import HASH_SIZE, Moving, Sampler, frame_png, small_hash

__all__ = ["ANIMATED", "frame_at", "sample_animation"]

ANIMATED = ("GIF", "PNG", "WEBP")
DEFAULT_MS = 100  # a frame that gives no duration (or 0) shows this long in browsers


def sample_animation(data: bytes, settings: VideoSettings, work_size: int) -> Moving | None:
    """The kept frames after the first of an animated image, or None for a still image.

    A frame that cannot be decoded ends the sampling with a failure; the frames before are kept.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data), formats=ANIMATED)
            if not getattr(image, "is_animated", False):
                return None
            return _sample(image, settings, work_size)
    except Exception:  # not for this module to judge a still image; the decoder reports bad ones
        return None


def _sample(image: Image.Image, settings: VideoSettings, work_size: int) -> Moving:
    found = Moving(image.width, image.height, image.format or "", image.mode)
    sampler, started, seconds = Sampler(settings), time.monotonic(), 0.0
    count = int(getattr(image, "n_frames", 1))
    for index in range(count):
        if time.monotonic() - started > settings.time_limit:
            found.failure = Failure(
                Reason.TIME_LIMIT,
                f"reading the frames took longer than video.time_limit={settings.time_limit:g} s; "
                f"stopped at {clock(seconds)}",
            )
            break
        try:
            image.seek(index)
            rgb = to_rgb(image)
        except Exception as exc:  # a broken frame: keep what came before
            found.failure = Failure(Reason.CORRUPT, f"frame {index + 1} of {count} cannot be read: {exc}")
            break
        grey = np.asarray(rgb.convert("L").resize(HASH_SIZE, Image.Resampling.BOX))
        if sampler.offer(seconds, small_hash(grey)) and index > 0:  # frame 0 is the image itself
            found.frames.append((round(seconds, 3), frame_png(rgb, work_size)))
        seconds += (image.info.get("duration") or DEFAULT_MS) / 1000
        if sampler.full:
            break
    found.facts = {"duration": round(seconds, 3), "frames": count}
    return found


def frame_at(data: bytes, seconds: float, work_size: int) -> bytes | None:
    """The PNG of the frame shown at ``seconds``, made again as sampling made it (None if none)."""
    try:
        with Image.open(io.BytesIO(data), formats=ANIMATED) as image:
            at = 0.0
            for index in range(int(getattr(image, "n_frames", 1))):
                image.seek(index)
                if abs(round(at, 3) - seconds) < 0.0006:
                    return frame_png(to_rgb(image), work_size)
                at += (image.info.get("duration") or DEFAULT_MS) / 1000
    except Exception:  # a file that changed or broke since it was indexed
        return None
    return None
