"""Video frames: decoding speed, indexing speed, and finding a video from one of its frames.

Videos are made with PyAV from photos (each photo a scene of ``--scene`` seconds, panning a
pixel a frame, 25 fps, H.264 by libx264 with its default keyframe interval and B-frames):

- decoding: frames the decoder gives per second, and seconds of video sampled per second of
  wall time, for ``video.decode`` = all / reference / keyframes and one or FFmpeg's own threads,
  for a 1080p and a 480p file, pinned to one core;
- indexing: videos indexed per minute by ``lookalike.open(...).index`` with one worker (decode,
  sampling, phash + colour + junk of every kept frame, catalog, indexes);
- recall: the 480p videos are indexed; each is re-encoded (VP8 in WebM, 640x360, a low bitrate)
  and frames at random times of the re-encoded copy are the queries. A hit: the first result is
  a frame of the right video (``video@1``), and at most ``video.interval`` seconds from the
  query's time (``moment@1``).

Example::

    nice python benchmarks/video.py --photos ../shared/data/photos_flickr/images
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import image_files, machine, print_machine, print_table

import lookalike
from lookalike.settings import VideoSettings
from lookalike.sources.video import sample_video

FPS = 25


def pictures(photo: Path, size: tuple[int, int], seconds: float) -> list[np.ndarray]:
    """A scene: the photo filling ``size`` plus a margin, panned one pixel a frame."""
    count = int(seconds * FPS)
    with Image.open(photo) as opened:
        image = opened.convert("RGB")
    w, h = size
    scale = max((w + count) / image.width, h / image.height)
    big = np.asarray(
        image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    )
    return [np.ascontiguousarray(big[:h, i : i + w]) for i in range(count)]


def encode(path: Path, scenes: list[Path], size: tuple[int, int], seconds: float, **how: Any) -> Path:
    codec = how.get("codec", "libx264")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=FPS, options=how.get("options", {"preset": "veryfast"}))
        stream.width, stream.height = how.get("out", size)
        stream.pix_fmt = "yuv420p"
        if "bit_rate" in how:
            stream.bit_rate = how["bit_rate"]
        for photo in scenes:
            for picture in pictures(photo, size, seconds):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                if "out" in how:
                    frame = frame.reformat(*how["out"])
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def raw_decode(path: Path, mode: str, threads: int) -> tuple[int, float]:
    """Frames the decoder gives and the seconds it took, decoding alone."""
    skip: Any = {"all": "DEFAULT", "reference": "NONREF", "keyframes": "NONKEY"}[mode]
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = skip
        if threads != 1:
            stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        count = sum(1 for _ in container.decode(stream))
    return count, time.perf_counter() - started


def decoding(files: dict[str, Path], duration: float, repeat: int) -> None:
    """The best of ``repeat`` runs of each (the machine is shared: the best is the least disturbed)."""
    rows = []
    for label, path in files.items():
        data = path.read_bytes()
        for mode in ("all", "reference", "keyframes"):
            for threads in (1, 0):
                runs = [raw_decode(path, mode, threads) for _ in range(repeat)]
                count, seconds = runs[0][0], min(s for _, s in runs)
                settings = VideoSettings.model_validate({"decode": mode, "threads": threads})
                sampled = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    found = sample_video(data, settings, 512, path.name)
                    sampled.append(time.perf_counter() - started)
                rows.append(
                    (label, mode, threads or "auto", count, f"{count / seconds:.0f}", f"{duration / seconds:.1f}x",
                     len(found.frames), f"{duration / min(sampled):.1f}x")
                )  # fmt: skip
    print(
        f"\ndecoding {duration:g} s of 25 fps video, one core, best of {repeat}: the decoder alone (frames it gave,"
    )
    print("frames/s, video seconds per second), then sampling (kept frames; with their hashes and PNGs)")
    headers = ("file", "video.decode", "threads", "frames", "frames/s", "decoder", "kept", "sampling")
    print_table(headers, rows)


def indexing(folder: Path, label: str, home: Path) -> dict[str, Any]:
    with lookalike.open(home, ingest={"workers": 1}) as collection:
        started = time.perf_counter()
        report = collection.index([folder])
        seconds = time.perf_counter() - started
    videos = len(list(folder.iterdir()))
    return {"file": label, "videos": videos, "frames": report.images_new - videos, "seconds": round(seconds, 1),
            "videos/min": round(60 * videos / seconds, 1), "failed": report.failed}  # fmt: skip


def recall(originals: Path, copies: Path, home: Path, queries: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    hits = moments = asked = 0
    interval = VideoSettings().interval
    with lookalike.open(home, ingest={"workers": 1}) as collection:
        for copy in sorted(copies.iterdir()):
            with av.open(str(copy)) as container:
                stream = container.streams.video[0]
                decoded = [(float(f.time or 0), f.to_image()) for f in container.decode(stream)]  # type: ignore[no-untyped-call]
            for at, image in rng.sample(decoded, min(queries, len(decoded))):
                out = io.BytesIO()
                image.save(out, "PNG")
                results = collection.search(out.getvalue(), k=5)
                asked += 1
                if not results or results[0].occurrences[0].video_uri is None:
                    continue
                place = results[0].occurrences[0]
                places = [place] + [o for _, group in results[0].collapsed_places for o in group]
                right = [o for o in places if Path(o.video_uri or "").stem == copy.stem]
                hits += bool(right)
                moments += any(abs((o.at or 0) - at) <= interval for o in right)
    return {"queries": asked, "video@1": round(hits / asked, 3), "moment@1": round(moments / asked, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, required=True, help="a folder of photos for the scenes")
    parser.add_argument("--scene", type=float, default=4.0, help="seconds of each scene")
    parser.add_argument("--scenes", type=int, default=5, help="scenes a video")
    parser.add_argument("--hd", type=int, default=2, help="1080p videos indexed")
    parser.add_argument("--sd", type=int, default=6, help="480p videos indexed (and re-encoded for recall)")
    parser.add_argument("--queries", type=int, default=15, help="query frames per re-encoded video")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each decoding measure (the best is kept)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print_machine(machine())
    print(f"PyAV {av.__version__}, FFmpeg libavcodec {av.library_versions['libavcodec']}; pinned to one core")
    photos = image_files(args.photos)
    random.Random(args.seed).shuffle(photos)
    work = Path(tempfile.mkdtemp(prefix="lookalike-video-"))
    folders = {name: work / name for name in ("hd", "sd", "copies")}
    for folder in folders.values():
        folder.mkdir()
    started = time.perf_counter()
    take = iter(photos)
    for i in range(args.hd):
        scenes = [next(take) for _ in range(args.scenes)]
        encode(folders["hd"] / f"hd{i}.mp4", scenes, (1920, 1080), args.scene)
    for i in range(args.sd):
        scenes = [next(take) for _ in range(args.scenes)]
        encode(folders["sd"] / f"sd{i}.mp4", scenes, (854, 480), args.scene)
        encode(folders["copies"] / f"sd{i}.webm", scenes, (854, 480), args.scene, codec="libvpx",
               options={}, bit_rate=400_000, out=(640, 360))  # fmt: skip
    print(
        f"made the videos in {time.perf_counter() - started:.0f} s ({args.scenes} scenes of {args.scene:g} s each)"
    )
    length = args.scenes * args.scene
    decoding({"1080p": folders["hd"] / "hd0.mp4", "480p": folders["sd"] / "sd0.mp4"}, length, args.repeat)
    rows = [
        indexing(folders["hd"], "1080p", work / "data-hd"),
        indexing(folders["sd"], "480p", work / "data-sd"),
    ]
    print(f"\nindexing {length:g}-second videos, one worker")
    print_table(list(rows[0]), [list(r.values()) for r in rows])
    found = recall(folders["sd"], folders["copies"], work / "data-sd", args.queries, args.seed)
    print("\nrecall: frames of VP8 640x360 400 kb/s re-encodes, searched in the 480p H.264 originals")
    print_table(list(found), [list(found.values())])


if __name__ == "__main__":
    main()
