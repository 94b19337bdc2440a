"""Which frames of a moving picture to keep: one every interval, scene changes between, no repeats.

Pure: frames come in as (time, small grey picture) and the :class:`Sampler` says which to keep.
The video decoder (:mod:`lookalike.sources.video`) and the animation reader
(:mod:`lookalike.sources.animation`) both feed it, so a GIF and an MP4 are sampled alike.
A frame's small hash is a difference hash of a 17x16 grey picture: 256 bits, cheap enough to
compute for every decoded frame.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from lookalike.records import Failure
from lookalike.settings import VideoSettings

__all__ = ["HASH_SIZE", "Moving", "Sampler", "frame_png", "small_hash"]

HASH_SIZE = (17, 16)  # width, height of the grey picture a frame's hash is made from
_BITS = (HASH_SIZE[0] - 1) * HASH_SIZE[1]


def small_hash(grey: np.ndarray) -> np.ndarray:
    """The difference hash of a (16, 17) grey picture: 256 booleans (is each pixel darker than the next)."""
    pixels = grey.astype(np.int16)
    return (pixels[:, 1:] > pixels[:, :-1]).ravel()


def frame_png(image: Image.Image, work_size: int) -> bytes:
    """A kept frame as PNG bytes, reduced to ``work_size`` on the long side as the decoder reduces
    an image (area averaging), so a screenshot of the frame decodes to nearly the same pixels."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if max(rgb.size) > work_size:
        rgb = rgb.copy()
        rgb.thumbnail((work_size, work_size), Image.Resampling.BOX)
    out = io.BytesIO()
    rgb.save(out, "PNG", compress_level=1)  # fast: the PNG is decoded once, then only its sha is kept
    return out.getvalue()


class Sampler:
    """Decides, frame by frame in time order, which frames to keep.

    A frame is due once ``step`` seconds passed since the last frame kept on the clock; a due frame
    that is nearly the last kept one (``near_identical``) is dropped. Between due frames, one that
    differs strongly (``scene_threshold``) from the last kept one is a scene change and is kept.
    """

    def __init__(self, settings: VideoSettings, duration: float | None = None) -> None:
        self.settings = settings
        spread = duration / settings.max_frames if duration and duration > 0 else 0.0
        self.step = max(settings.interval, spread)  # a long video is sampled further apart
        self.kept = 0
        self._due = 0.0
        self._last: np.ndarray | None = None

    @property
    def full(self) -> bool:
        """Whether ``max_frames`` frames were kept (the rest of the file need not be decoded)."""
        return self.kept >= self.settings.max_frames

    def wants(self, seconds: float) -> bool:
        """Whether a frame at ``seconds`` could be kept without a scene change (a cheap test: a decoder
        may skip making the frame's hash when this and scene detection both say no)."""
        return seconds >= self._due

    def offer(self, seconds: float, hashed: np.ndarray) -> bool:
        """Whether to keep the frame at ``seconds`` whose :func:`small_hash` is ``hashed``."""
        if self.full:
            return False
        differs = 1.0 if self._last is None else float(np.count_nonzero(hashed != self._last)) / _BITS
        if seconds >= self._due:
            self._due = seconds + self.step
            keep = differs > self.settings.near_identical
        else:
            keep = differs > self.settings.scene_threshold
        if keep:
            self._last = hashed
            self.kept += 1
        return keep


@dataclass
class Moving:
    """What a video or an animation gave: its facts, the kept frames, and a failure if one stopped it.

    ``frames`` are (seconds, PNG bytes) in time order. A failure with frames means the file broke
    (or ran out of time) part way: the frames before are still good.
    """

    width: int = 0
    height: int = 0
    format: str = ""
    mode: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # duration, codec, frame rate, frames kept
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    failure: Failure | None = None
