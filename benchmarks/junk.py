"""The junk flag: precision and recall of each reason on real images and on drawn junk.

Sets (each optional):

- ``--photos DIR``...: real photos (../shared/data/photos_flickr, photos_camera, near_duplicates):
  not junk, but for a file of one flat colour, which is ``blank``;
- ``--pixel-art DIR``: game art (../shared/data/gameart): tiles of 16-24 px are sprites, not
  ``tiny``; a tile of one flat colour is ``blank``;
- drawn junk, made here with a fixed seed: spacers (1x1 and 2x2 GIFs, 1-pixel rules), blank
  images (flat colours with and without noise, JPEG, transparent), tiny photos (8-31 px crops
  of the photos), web buttons (88x31, 62x24, 100x30, 120x40, 120x60 with words, PNG and JPEG),
  and as many negatives at button size (the photos shrunk to 100x33 and 120x60).

Each image is decoded as ingest decodes it and judged by the ``junk`` signal with the default
settings.  For each reason: precision = right / flagged with it, recall = right / truly it.

Example::

    python benchmarks/junk.py --photos ../shared/data/photos_flickr ../shared/data/photos_camera \\
        --pixel-art ../shared/data/gameart
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import image_files, machine, print_machine, print_table, write_json

from lookalike.decode import decode
from lookalike.errors import DecodeError
from lookalike.settings import DecodeSettings
from lookalike.signals.junk import REASONS, Junk, colours

NOT_JUNK = "-"
WORDS = ("Buy now", "Download", "Valid HTML 4.01", "Click here", "Next >", "Sign up", "No image")


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def real(folders: list[Path], pixel_art: bool) -> Iterator[tuple[str, str, bytes]]:
    """(set, truth, bytes) of real files: photos are not junk; a flat game tile is blank."""
    for folder in folders:
        for path in image_files(folder, exclude=["archives"]):
            data = path.read_bytes()
            try:
                with Image.open(io.BytesIO(data)) as image:
                    flat = colours(np.asarray(image.convert("RGB"))) == 1
            except (OSError, ValueError):
                flat = False  # a malformed file fails to decode below and is left out
            yield ("pixel art" if pixel_art else "photos"), "blank" if flat else NOT_JUNK, data


def drawn(photos: list[Path], rng: np.random.Generator) -> Iterator[tuple[str, str, bytes]]:
    """Junk drawn here, and photos shrunk to button size (not junk)."""
    yield from (("drawn", "spacer", data) for data in _spacers(rng))
    yield from (("drawn", "blank", data) for data in _blanks(rng))
    sample = (
        [photos[i] for i in rng.choice(len(photos), min(60, len(photos)), replace=False)] if photos else []
    )
    for path in sample:
        picture = Image.open(path).convert("RGB")
        side = int(rng.integers(8, 32))
        yield "drawn", "tiny", encode(picture.resize((side, max(3, side * 3 // 4))), "JPEG", quality=85)
        for size in ((100, 33), (120, 60)):
            yield "button-sized photos", NOT_JUNK, encode(picture.resize(size), "JPEG", quality=85)
    yield from (("drawn", "placeholder", data) for data in _buttons(rng))


def _spacers(rng: np.random.Generator) -> Iterator[bytes]:
    for _ in range(10):
        yield encode(Image.new("P", (1, 1)), "GIF", transparency=0)
        yield encode(Image.new("RGB", (2, 2), tuple(int(v) for v in rng.integers(0, 256, 3))))
        yield encode(Image.new("RGB", (int(rng.integers(50, 600)), 1), (200, 200, 200)), "GIF")


def _blanks(rng: np.random.Generator) -> Iterator[bytes]:
    for _ in range(20):
        w, h = (int(v) for v in rng.integers(3, 800, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        yield encode(Image.new("RGB", (w, h), colour))
        noisy = np.clip(rng.normal(colour, 2.0, (max(h, 8), max(w, 8), 3)), 0, 255).astype(np.uint8)
        yield encode(Image.fromarray(noisy), "JPEG", quality=int(rng.integers(60, 95)))
        yield encode(Image.new("RGBA", (w, h), (*colour, 0)))


def _buttons(rng: np.random.Generator) -> Iterator[bytes]:
    for size in ((88, 31), (62, 24), (100, 30), (120, 40), (120, 60)) * 6:
        back, fore = (tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2))
        button = Image.new("RGB", size, back)
        draw = ImageDraw.Draw(button)
        if rng.random() < 0.5:
            draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=fore)
        draw.text((4, size[1] // 2 - 6), str(rng.choice(WORDS)), fill=fore)
        yield (
            encode(button)
            if rng.random() < 0.5
            else encode(button, "JPEG", quality=int(rng.integers(75, 95)))
        )


def score(items: list[tuple[str, str, str]]) -> list[tuple[str, ...]]:
    """Rows of reason, truly, flagged, right, precision, recall."""
    rows = []
    for reason in (*REASONS, "junk (any reason)"):
        any_reason = reason.startswith("junk")
        truly = [t != NOT_JUNK if any_reason else t == reason for _, t, _ in items]
        said = [p != NOT_JUNK if any_reason else p == reason for _, _, p in items]
        right = sum(a and b for a, b in zip(truly, said, strict=True))
        precision = f"{right / sum(said):.3f}" if sum(said) else "-"
        recall = f"{right / sum(truly):.3f}" if sum(truly) else "-"
        rows.append((reason, str(sum(truly)), str(sum(said)), str(right), precision, recall))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=Path, nargs="*", default=[])
    parser.add_argument("--pixel-art", type=Path, nargs="*", default=[])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", type=Path, help="Write the results here as JSON.")
    args = parser.parse_args()
    facts = machine()
    print_machine(facts)
    photos = [p for folder in args.photos for p in image_files(folder)]
    sets = [
        *real(args.photos, False),
        *real(args.pixel_art, True),
        *drawn(photos, np.random.default_rng(args.seed)),
    ]
    signal, settings, judged, seconds = Junk(), DecodeSettings(), [], 0.0
    for name, truth, data in sets:
        try:
            image = decode(data, settings, None, 256)
        except DecodeError:
            continue  # a malformed file is a failure at ingest, never junk
        start = time.perf_counter()
        judged.append((name, truth, signal.judge(image) or NOT_JUNK))
        seconds += time.perf_counter() - start
    print_table(("reason", "truly", "flagged", "right", "precision", "recall"), score(judged))
    wrong = Counter((n, t, p) for n, t, p in judged if t != p)
    print(f"\n{len(judged)} images, {1000 * seconds / max(len(judged), 1):.3f} ms each to judge (decoded)")
    for (name, truth, said), n in wrong.most_common():
        print(f"  {n} of {name}: truly {truth}, flagged {said}")
    if args.json:
        write_json(
            args.json, {"machine": facts, "rows": score(judged), "wrong": [[*k, n] for k, n in wrong.items()]}
        )


if __name__ == "__main__":
    main()
