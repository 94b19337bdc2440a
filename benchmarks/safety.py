"""The safety flag on real photos: speed per image and the false-positive rate of NudeNet's detector.

Every image under each ``--photos`` folder is decoded as ingest decodes it (at the detector's 320
px) and run through the ``safety`` signal with the default settings, one image per call and in
batches of ``--batch``.  The photos hold no exposure (../shared/data's photos: Flickr, camera
test shots, UKBench objects), so every flag is a false positive; recall cannot be measured here
(we have no exposed images and will not make any), and this script does not try.

It prints: images, ms per image (single and batched, detector only and with decoding), the
flagged share with each flag's labels, and how often each class was seen at any score from 0.2
(what ``lookalike info`` shows).

Example::

    python benchmarks/safety.py --photos ../shared/data/photos_flickr ../shared/data/photos_camera \\
        ../shared/data/near_duplicates
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import image_files, load_average, machine, print_machine, print_table, write_json

from lookalike.decode import decode
from lookalike.errors import LookalikeError
from lookalike.settings import DecodeSettings
from lookalike.signals.safety import Safety


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--photos", type=Path, nargs="+", required=True, help="folders of photos with no exposure"
    )
    parser.add_argument("--batch", type=int, default=8, help="images per detector call in the batched run")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (1: one core)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many images per folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    facts = machine()
    print_machine(facts)
    signal = Safety(threads=args.threads)
    settings = DecodeSettings()
    paths = [p for folder in args.photos for p in image_files(folder, exclude=["archives"], limit=args.limit)]
    started = time.perf_counter()
    images, unreadable = [], 0
    for path in paths:
        try:
            images.append((path, decode(path.read_bytes(), settings, str(path), signal.input_size)))
        except LookalikeError:
            unreadable += 1
    decoding = time.perf_counter() - started
    signal.scores([images[0][1]])  # warm the session up

    started = time.perf_counter()
    single = [signal.scores([image])[0] for _, image in images]
    one_by_one = time.perf_counter() - started
    started = time.perf_counter()
    batched = []
    for start in range(0, len(images), args.batch):
        batched += signal.scores([image for _, image in images[start : start + args.batch]])
    in_batches = time.perf_counter() - started

    flagged = {}
    seen: Counter[str] = Counter()
    for (path, _), scores in zip(images, single, strict=True):
        seen.update(scores.keys())
        reason = signal.verdict(scores)
        if reason:
            flagged[str(path)] = reason
    n = len(images)
    rows = [
        ("images decoded", str(n), f"{unreadable} unreadable"),
        ("decode, ms/image", f"{1000 * decoding / max(1, len(paths)):.1f}", "at 320 px"),
        ("detector, ms/image, one by one", f"{1000 * one_by_one / n:.1f}", f"{args.threads} thread(s)"),
        (f"detector, ms/image, batches of {args.batch}", f"{1000 * in_batches / n:.1f}", ""),
        (
            "flagged (false positives)",
            f"{len(flagged)} ({100 * len(flagged) / n:.2f}%)",
            "none of the photos shows exposure",
        ),
    ]
    print(f"load average at the end: {load_average()}")
    print_table(["figure", "value", "note"], rows)
    labels = set(signal.settings.labels)
    top = [max((v for k, v in scores.items() if k in labels), default=0.0) for scores in single]
    print("false positives by safety.threshold:")
    for threshold in (0.4, 0.5, 0.6, 0.7, 0.8):
        hits = sum(score >= threshold for score in top)
        print(f"  {threshold:.1f}: {hits} ({100 * hits / n:.2f}%)")
    for path, reason in flagged.items():
        print(f"  flagged {path}: {reason}")
    print("classes seen at a score of 0.2 or more (images):")
    for label, count in seen.most_common():
        print(f"  {label}: {count}")
    if args.json:
        write_json(
            args.json,
            {
                "machine": facts,
                "images": n,
                "ms_single": 1000 * one_by_one / n,
                "ms_batched": 1000 * in_batches / n,
                "flagged": flagged,
                "seen": dict(seen),
            },
        )


if __name__ == "__main__":
    main()
