"""Settings of moving pictures: which frames of a video or an animated image are indexed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from lookalike.settings.sources import MB

__all__ = ["VideoSettings"]


class VideoSettings(BaseModel):
    """How frames are picked from videos (mp4, mkv, webm, mov, avi) and animated GIF, PNG and WebP."""

    enabled: bool = Field(True, description="Index video files (needs PyAV: pip install 'lookalike[video]').")
    animations: bool = Field(
        True,
        description="Index the frames of animated GIF, PNG and WebP images, not only the first one.",
    )
    interval: float = Field(2.0, gt=0, description="Seconds between two sampled frames.")
    scene_threshold: float = Field(
        0.3,
        gt=0,
        le=1,
        description="A frame whose small hash differs from the last kept frame's in more than this share "
        "of its bits is a scene change and is kept, between two sampled frames.",
    )
    near_identical: float = Field(
        0.06,
        ge=0,
        le=1,
        description="A sampled frame whose small hash differs from the last kept frame's in at most this "
        "share of its bits is dropped (a still scene gives one frame, not one every interval).",
    )
    max_frames: int = Field(
        500,
        ge=1,
        description="Most frames kept from one video or animation; a longer one is sampled further apart "
        "(its duration over this), so the frames still span it all.",
    )
    time_limit: float = Field(
        120.0,
        gt=0,
        description="Seconds one file may be decoded; past it the frames kept so far are indexed and the "
        "file is recorded as failed with reason 'time_limit'.",
    )
    max_bytes: int = Field(2048 * MB, gt=0, description="Largest video file read, in bytes.")
    max_pixels: int = Field(
        8192 * 4320, gt=0, description="Largest frame (width*height) of a video decoded; 8K by default."
    )
    decode: Literal["all", "reference", "keyframes"] = Field(
        "reference",
        description="Which frames the decoder decodes: 'all', 'reference' (skips frames no other frame "
        "refers to, which sampling does not miss; about half the work for H.264), or 'keyframes' (the "
        "fastest, but only as often as the encoder put keyframes, often every 2-10 s).",
    )
    threads: int = Field(
        1,
        ge=0,
        description="Decoder threads per video; 0: as many as FFmpeg picks. One per video by default, "
        "since the indexing workers already decode several files at once.",
    )
