"""Frames of videos and animations: sampling, and every kind of bad video as a recorded reason."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lookalike.errors import Reason
from lookalike.records import clock, frame_uri
from lookalike.settings import VideoSettings
from lookalike.sources.animation import frame_at as animation_frame_at
from lookalike.sources.animation import sample_animation
from lookalike.sources.frames import Sampler, small_hash
from lookalike.sources.video import frame_at, looks_like_video, sample_video
from moving import animation, frames, write_audio, write_video

from conftest import scene

pytest.importorskip("av")


def test_sampler_keeps_one_frame_an_interval_and_scene_changes() -> None:
    sampler = Sampler(VideoSettings(interval=2.0))
    rng = np.random.default_rng(0)
    first, other = rng.integers(0, 255, (16, 17)), rng.integers(0, 255, (16, 17))
    nearly = first.copy()
    nearly[0, 0] = 255 - nearly[0, 0]  # one pixel: a bit or two of 256
    kept = [
        sampler.offer(0.0, small_hash(first)),
        sampler.offer(0.5, small_hash(nearly)),  # not due, no scene change
        sampler.offer(2.0, small_hash(nearly)),  # due, but nearly the last kept one: dropped
        sampler.offer(2.5, small_hash(other)),  # a scene change between due frames
        sampler.offer(4.0, small_hash(first)),  # due and different
    ]
    assert kept == [True, False, False, True, True]


def test_a_long_video_is_sampled_further_apart() -> None:
    assert Sampler(VideoSettings(interval=2.0, max_frames=100), duration=3600.0).step == 36.0
    assert Sampler(VideoSettings(interval=2.0, max_frames=100), duration=60.0).step == 2.0


def test_clock_and_frame_places() -> None:
    assert clock(83.0) == "00:01:23" and clock(3723.46) == "01:02:03.5" and clock(0.04) == "00:00:00"
    assert frame_uri("/v/a.mp4", 4.0) == "/v/a.mp4#t=4" and frame_uri("/v/a.mp4", 4.25) == "/v/a.mp4#t=4.25"


def test_video_frames_at_the_interval_and_the_scene_changes(tmp_path: Path) -> None:
    # three scenes of 3 s at 10 fps: frames at 0, 2 (due), 3 (cut), 5 (due), 6 (cut), 8 (due)
    path = write_video(tmp_path / "a.mp4", frames([1, 2, 3], 3, 10))
    found = sample_video(path.read_bytes(), VideoSettings(decode="all"), 512, str(path))
    assert found.failure is None
    times = [at for at, _ in found.frames]
    assert {0.0, 3.0, 6.0} <= set(times), times  # every scene's first frame
    assert all(b - a <= 2.0 + 1e-6 for a, b in itertools.pairwise(times)), times
    assert (found.width, found.height, found.format, found.mode) == (320, 240, "MP4", "yuv420p")
    assert found.facts["codec"] == "h264" and found.facts["duration"] == pytest.approx(9.0, abs=0.2)
    first = Image.open(io.BytesIO(found.frames[0][1]))
    assert first.format == "PNG" and first.size == (320, 240)


def test_a_still_video_gives_one_frame(tmp_path: Path) -> None:
    still = frames([4], 1, 10)[:1] * 60  # 6 s of one picture
    found = sample_video(write_video(tmp_path / "still.mp4", still).read_bytes(), VideoSettings(), 512)
    assert [at for at, _ in found.frames] == [0.0]


def test_a_frame_is_made_again_to_the_same_bytes(tmp_path: Path) -> None:
    """A frame's bytes are not kept: seeking and decoding again gives the same PNG (its sha)."""
    data = write_video(tmp_path / "a.webm", frames([1, 2, 3], 3, 10), codec="libvpx").read_bytes()
    found = sample_video(data, VideoSettings(), 512, "a.webm")
    for at, png in found.frames:
        assert frame_at(data, at, 512) == png, at
    gif = animation([4, 5, 6], "GIF")
    sampled = sample_animation(gif, VideoSettings(), 512)
    assert sampled is not None and [at for at, _ in sampled.frames] == [1.0, 2.0]
    assert all(animation_frame_at(gif, at, 512) == png for at, png in sampled.frames)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_frames_by_their_durations(fmt: str) -> None:
    again = scene(5, (160, 120))
    again.putpixel((0, 0), (0, 0, 0))  # the third frame repeats the second but for a pixel
    data = animation([4, 5, again, 6], fmt, ms=500)
    found = sample_animation(data, VideoSettings(interval=0.5), 512)
    assert found is not None and found.failure is None
    assert [at for at, _ in found.frames] == [0.5, 1.5]  # frame 0 is the image; the repeat is dropped
    assert found.facts == {"duration": 2.0, "frames": 4}
    assert sample_animation(io_png(), VideoSettings(), 512) is None  # a still image has no frames


def io_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


def test_videos_are_recognised_by_name_or_bytes(tmp_path: Path) -> None:
    mp4 = write_video(tmp_path / "a.mp4", frames([1], 0.2, 10)).read_bytes()
    mkv = write_video(tmp_path / "a.mkv", frames([1], 0.2, 10)).read_bytes()
    assert looks_like_video("", mp4[:64]) and looks_like_video("", mkv[:64])
    assert looks_like_video("clip.MOV", b"") and not looks_like_video("", io_png()[:64])
    heic_head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"
    assert not looks_like_video("", heic_head)


# ---- bad input: a reason, never an exception or a hang ------------------------------------------


def _fails(data: bytes, name: str = "bad.mp4", **settings: object) -> tuple[Reason, str, int]:
    found = sample_video(data, VideoSettings(**settings), 512, name)  # type: ignore[arg-type]
    assert found.failure is not None
    return found.failure.reason, found.failure.detail, len(found.frames)


def test_truncated_videos(tmp_path: Path) -> None:
    mp4 = write_video(tmp_path / "a.mp4", frames([1, 2, 3], 3, 10)).read_bytes()
    assert _fails(mp4[: len(mp4) // 2])[0] == Reason.CORRUPT  # its index (moov) is at the end: unreadable
    mkv = write_video(tmp_path / "a.mkv", frames([1, 2, 3], 3, 10)).read_bytes()
    reason, detail, kept = _fails(mkv[: len(mkv) // 2], "a.mkv")
    assert reason == Reason.TRUNCATED and kept >= 1 and "frames before were kept" in detail


def test_corrupt_and_empty_files() -> None:
    assert _fails(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)[0] == Reason.CORRUPT
    assert _fails(b"")[0] == Reason.EMPTY


def test_a_video_stream_without_frames(tmp_path: Path) -> None:
    mkv = write_video(tmp_path / "a.mkv", frames([1], 1, 10)).read_bytes()
    headers = mkv[: mkv.index(b"\x1f\x43\xb6\x75")]  # up to the first cluster: the stream, no frames
    reason, detail, _ = _fails(headers, "none.mkv")
    assert reason == Reason.EMPTY and "no frames" in detail


def test_an_audio_file(tmp_path: Path) -> None:
    reason, detail, _ = _fails(write_audio(tmp_path / "song.mp4").read_bytes())
    assert reason == Reason.NO_VIDEO and "audio" in detail


def test_too_many_pixels_and_too_long(tmp_path: Path) -> None:
    data = write_video(tmp_path / "a.mp4", frames([1, 2], 2, 10)).read_bytes()
    reason, detail, _ = _fails(data, max_pixels=320 * 240 - 1)
    assert reason == Reason.TOO_MANY_PIXELS and "video.max_pixels" in detail
    reason, detail, _ = _fails(data, time_limit=1e-9)
    assert reason == Reason.TIME_LIMIT and "video.time_limit" in detail


def test_max_frames_stops_decoding(tmp_path: Path) -> None:
    data = write_video(tmp_path / "a.mp4", frames([1, 2, 3, 4], 1, 10)).read_bytes()
    found = sample_video(data, VideoSettings(max_frames=2, interval=0.1), 512)
    assert found.failure is None and len(found.frames) == 2
