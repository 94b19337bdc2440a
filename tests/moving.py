"""Videos and animations made by the tests: scenes of photo-like pictures, written with PyAV and Pillow."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import scene


def frames(
    seeds: Sequence[int], seconds: float, fps: int, size: tuple[int, int] = (320, 240)
) -> list[np.ndarray]:
    """``seconds`` of each seed's scene in turn, panning slowly (a pixel a frame), as RGB arrays."""
    out = []
    for seed in seeds:
        big = np.asarray(scene(seed, (size[0] + 64, size[1])))
        for i in range(int(seconds * fps)):
            shift = min(i, 63)
            out.append(np.ascontiguousarray(big[:, shift : shift + size[0]]))
    return out


def write_video(
    path: Path, pictures: Sequence[np.ndarray], fps: int = 10, codec: str = "libx264", **options: str
) -> Path:
    """Encode RGB arrays as a video file (the container from the file's name)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(
            codec, rate=fps, options=options or ({"preset": "ultrafast"} if codec == "libx264" else {})
        )
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio(path: Path, seconds: float = 1.0) -> Path:
    """A file with a sound and no pictures (an .mp4 holding AAC)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        samples = int(seconds * 44100)
        tone = (np.sin(np.arange(samples) / 10.0) * 0.2).astype(np.float32)[None, :]
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = 44100, start, Fraction(1, 44100)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def animation(
    seeds: Sequence[int | Image.Image], fmt: str, ms: int = 1000, size: tuple[int, int] = (160, 120)
) -> bytes:
    """An animated GIF, PNG (APNG) or WebP: one frame per seed (or picture), each shown ``ms`` ms."""
    pictures = [s if isinstance(s, Image.Image) else scene(s, size) for s in seeds]
    out = io.BytesIO()
    options: dict[str, object] = {"save_all": True, "append_images": pictures[1:], "duration": ms, "loop": 0}
    if fmt == "WEBP":
        options["lossless"] = True
    pictures[0].save(out, fmt, **options)
    return out.getvalue()
