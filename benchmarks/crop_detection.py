"""Crop detection: recall of 50% and 25% crops by keypoints beside phash and colour, and scale.

Part 1, real photos.  DIR is indexed into a temporary collection with the
signals phash, colour and keypoints (the real ``Collection.index``).  For up to
``--queries`` of its images (evenly spaced) two crops are made in memory, of
50% and 25% of the area, at a random position (seeded), re-encoded as JPEG
quality 90, and searched for with each signal set:

    keypoints           --signals keypoints ("find crops")
    phash, colour       each alone
    phash+colour        the default signals
    phash+colour+rerank the default signals, re-ranked by keypoints (search.rerank_keypoints = 20)

recall@k: the source image's id is among the first k results (collapse off).
Latency is ``Collection.search`` wall time per query, decode included.

Part 2, scale (``--scale 10000,100000``).  A descriptor index of N synthetic
images is built: each synthetic image takes the keypoint rows of a random real
image, shuffled among images and with 1/8 of descriptor bits flipped, so the
descriptor distribution is that of photos while no synthetic image matches a
query.  The real images' own rows are added too; the crop queries of part 1
then run against it (votes from the index, then the geometric check of the
best ``search.verify`` candidates, as the planner does), reporting latency,
recall and memory per image.

Example::

    python benchmarks/crop_detection.py --images ../shared/data/photos_flickr --queries 200 --scale 10000,100000
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import image_files, machine, print_machine, print_table, summary_ms, write_json
from PIL import Image, ImageOps

import lookalike
from lookalike.index.descriptors import DescriptorIndex
from lookalike.signals.keypoints import DESCRIPTOR_BYTES, Keypoints

AREAS = {"crop50": 0.5, "crop25": 0.25}
SETS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "keypoints": (["keypoints"], {}),
    "phash": (["phash"], {}),
    "colour": (["colour"], {}),
    "phash+colour": (["phash", "colour"], {}),
    "phash+colour+rerank": (["phash", "colour"], {"rerank_keypoints": 20}),
}


def crop(data: bytes, area: float, rng: np.random.Generator) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    w, h = image.size
    side = area**0.5
    cw, ch = round(w * side), round(h * side)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = io.BytesIO()
    image.crop((x, y, x + cw, y + ch)).save(out, "JPEG", quality=90)
    return out.getvalue()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_photos(
    args: argparse.Namespace, home: Path
) -> tuple[dict[str, Any], dict[str, list[tuple[int, bytes]]]]:
    files = image_files(args.images)
    signals = ["phash", "colour", "keypoints"]
    started = time.perf_counter()
    with lookalike.open(home, ingest={"signals": signals}) as collection:
        report = collection.index(files)
    ingest_s = time.perf_counter() - started
    queries: dict[str, list[tuple[int, bytes]]] = {name: [] for name in AREAS}
    rng = np.random.default_rng(7)
    with lookalike.open(home, ingest={"signals": signals}) as collection:
        sizes = [len(p) for _, p in _features(collection)]
        chosen = np.linspace(0, len(files) - 1, min(args.queries, len(files))).round().astype(int)
        for index in sorted(set(chosen.tolist())):
            path = files[index]
            ids = collection.catalog.images.ids_at(str(path.resolve()))
            if not ids:
                continue
            data = path.read_bytes()
            for name, area in AREAS.items():
                queries[name].append((ids[0], crop(data, area, rng)))
    rows: list[dict[str, Any]] = []
    for set_name, (names, search) in SETS.items():
        if args.sets and set_name not in args.sets.split(","):
            continue
        with lookalike.open(home, ingest={"signals": signals}, search=search) as collection:
            collection.search(queries["crop50"][0][1], signals=names, k=10)  # warm: indexes opened
            for crop_name, items in queries.items():
                hits1 = hits10 = 0
                times = []
                for image_id, data in items:
                    t = time.perf_counter()
                    found = collection.search(data, signals=names, k=10, collapse=False)
                    times.append(time.perf_counter() - t)
                    ranked = [r.image_id for r in found]
                    hits1 += ranked[:1] == [image_id]
                    hits10 += image_id in ranked
                n = len(items)
                rows.append(
                    {
                        "signals": set_name,
                        "crop": crop_name,
                        "queries": n,
                        "recall@1": hits1 / n,
                        "recall@10": hits10 / n,
                        **_ms(times),
                    }
                )
    facts = {
        "images": report.images_new + report.images_known,
        "ingest_s": round(ingest_s, 1),
        "keypoints_bytes_mean": round(float(np.mean(sizes)), 0),
        "keypoints_bytes_max": int(max(sizes)),
        "rows": rows,
    }
    return facts, queries


def _features(collection: lookalike.Collection) -> list[tuple[int, bytes]]:
    spec = collection.signals["keypoints"].spec
    return [
        item for batch in collection.catalog.features.iterate("keypoints", spec.version) for item in batch
    ]


def scale(
    args: argparse.Namespace, home: Path, queries: dict[str, list[tuple[int, bytes]]], n_images: int
) -> list[dict[str, Any]]:
    signal = Keypoints()
    with lookalike.open(home, ingest={"signals": ["phash", "colour", "keypoints"]}) as collection:
        stored = {i: signal.decode(p) for i, p in _features(collection)}
        decode_need = 512
        from lookalike.decode import decode

        query_features = {
            name: [
                (i, signal.query(decode(d, collection.settings.decode, None, decode_need))) for i, d in items
            ]
            for name, items in queries.items()
        }
    rng = np.random.default_rng(11)
    real = list(stored)
    pool = np.vstack([f[1:, :DESCRIPTOR_BYTES] for f in stored.values()])
    per_image = int(np.mean([len(f) - 1 for f in stored.values()]))
    before = rss_mb()
    started = time.perf_counter()
    index = DescriptorIndex(signal.spec, threads=1)
    offset = 10_000_000
    chunk = 2000
    for first in range(0, n_images, chunk):
        count = min(chunk, n_images - first)
        rows = pool[rng.integers(0, len(pool), count * per_image)]
        shape = (len(rows), DESCRIPTOR_BYTES)
        flips = rng.integers(0, 256, shape, dtype=np.uint8) & rng.integers(0, 256, shape, dtype=np.uint8)
        rows = rows ^ (flips & rng.integers(0, 256, shape, dtype=np.uint8))  # each bit flipped with p 1/8
        ids = np.repeat(np.arange(offset + first, offset + first + count, dtype=np.int64), per_image)
        index.add(ids, rows)
    for image_id in real:
        rows = stored[image_id][1:, :DESCRIPTOR_BYTES]
        index.add(np.full(len(rows), image_id, dtype=np.int64), rows)
    build_s = time.perf_counter() - started
    memory = index.memory_bytes()
    results = []
    probes = [int(p) for p in args.nprobe.split(",")] if index.structure == "ivf" else [0]
    for nprobe, (name, items) in ((p, q) for p in probes for q in query_features.items()):
        if nprobe:
            index._index.nprobe = nprobe  # the IVF's lists searched per query descriptor
        items = items[: args.scale_queries]
        hits1 = hits10 = 0
        times = []
        for image_id, feature in items:
            t = time.perf_counter()
            votes = _votes(index, signal, feature)
            enough = [i for i in votes if votes[i] >= signal.min_votes]
            best = sorted(enough, key=lambda i: -votes[i])[: args.verify]
            scored = []
            for candidate in best:
                match = signal.verify(feature, stored[candidate]) if candidate in stored else None
                scored.append((match.inliers if match else 0, candidate))
            scored.sort(reverse=True)
            times.append(time.perf_counter() - t)
            ranked = [c for s, c in scored if s > 0] + [c for s, c in scored if s == 0]
            hits1 += ranked[:1] == [image_id]
            hits10 += image_id in ranked[:10]
        n = len(items)
        results.append(
            {
                "images": n_images + len(real),
                "structure": index.structure + (f" nprobe={nprobe}" if nprobe else ""),
                "crop": name,
                "recall@1": hits1 / n,
                "recall@10": hits10 / n,
                **_ms(times),
                "build_s": round(build_s, 1),
                "index_bytes_per_image": round(memory / (n_images + len(real))),
                "rss_growth_mb": round(rss_mb() - before),
            }
        )
    return results


def kept(
    args: argparse.Namespace, home: Path, queries: dict[str, list[tuple[int, bytes]]], other: Path
) -> list[dict[str, Any]]:
    """The crop queries against the saved keypoints index of ``other``, a collection of the same
    photos (e.g. one that ``crop_cli.py --homes`` keeps, synthetic images included): votes, then
    the geometric check of the best ``--verify``, as at scale; each source found by its path."""
    signal = Keypoints()
    wanted = sorted({i for items in queries.values() for i, _ in items})
    with lookalike.open(home, ingest={"signals": ["phash", "colour", "keypoints"]}) as collection:
        where = {i: places[0].uri for i, places in collection.catalog.images.occurrences(wanted).items()}
        settings = collection.settings.decode
    from lookalike.decode import decode

    with lookalike.open(other, ingest={"signals": ["keypoints"]}) as collection:
        index = collection.indexes.get("keypoints")
        assert isinstance(index, DescriptorIndex)
        stored = {i: signal.decode(p) for i, p in _features(collection)}
        source = {i: (collection.catalog.images.ids_at(where[i]) or [None])[0] for i in wanted}
        results = []
        for name, items in queries.items():
            items = items[: args.scale_queries]
            hits1 = hits10 = 0
            times = []
            for image_id, data in items:
                feature = signal.query(decode(data, settings, None, 512))
                t = time.perf_counter()
                votes = _votes(index, signal, feature)
                enough = [i for i in votes if votes[i] >= signal.min_votes]
                best = sorted(enough, key=lambda i: -votes[i])[: args.verify]
                scored = []
                for candidate in best:
                    match = signal.verify(feature, stored[candidate]) if candidate in stored else None
                    scored.append((match.inliers if match else 0, candidate))
                scored.sort(reverse=True)
                times.append(time.perf_counter() - t)
                ranked = [c for s, c in scored if s > 0] + [c for s, c in scored if s == 0]
                hits1 += ranked[:1] == [source[image_id]]
                hits10 += source[image_id] in ranked[:10]
            n = len(items)
            results.append(
                {
                    "images": index.images(),
                    "structure": f"{index.structure} {other.name}",
                    "crop": name,
                    "recall@1": hits1 / n,
                    "recall@10": hits10 / n,
                    **_ms(times),
                    "build_s": None,
                    "index_bytes_per_image": round(index.memory_bytes() / index.images()),
                    "rss_growth_mb": None,
                }
            )
    return results


def _ms(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"p50_ms": round(summary_ms(times)["p50_ms"], 1), "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1)}


def _votes(index: DescriptorIndex, signal: Keypoints, feature: np.ndarray) -> dict[int, int]:
    rows = signal.index_vectors(signal.index_rows(feature))
    found_d, found_ids = index.search_batch(rows, signal.vote_neighbours)
    close = (found_d <= signal.vote_distance) & (found_ids >= 0)
    query_row = np.broadcast_to(np.arange(len(rows))[:, None], found_ids.shape)
    pairs = np.unique(np.stack([query_row[close], found_ids[close]]), axis=1)
    images, counts = np.unique(pairs[1], return_counts=True)
    return {int(i): int(c) for i, c in zip(images, counts, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="Folder of real photos.")
    parser.add_argument("--queries", type=int, default=200, help="Photos cropped and searched for.")
    parser.add_argument(
        "--scale", default="", help="Comma-separated synthetic collection sizes, e.g. 10000,100000."
    )
    parser.add_argument(
        "--verify", type=int, default=20, help="Candidates checked geometrically (search.verify)."
    )
    parser.add_argument("--nprobe", default="16", help="IVF lists searched, comma-separated, at scale.")
    parser.add_argument("--sets", default="", help="Signal sets to run (default all), e.g. keypoints,phash.")
    parser.add_argument("--scale-queries", type=int, default=50, help="Queries per crop size at scale.")
    parser.add_argument("--json", type=Path, help="Write the figures to this JSON file.")
    parser.add_argument(
        "--indexes",
        default="",
        help="Collections of the same photos whose saved keypoints index the crops are searched in "
        "(comma-separated folders, e.g. those crop_cli.py --homes keeps), as at scale.",
    )
    args = parser.parse_args()
    facts = machine()
    print_machine(facts)
    home = Path(tempfile.mkdtemp(prefix="crop-bench-"))
    try:
        real, queries = real_photos(args, home)
        print(
            f"\n{real['images']} photos indexed in {real['ingest_s']} s with phash, colour, keypoints; "
            f"keypoints feature {real['keypoints_bytes_mean']:.0f} bytes mean, {real['keypoints_bytes_max']} max\n"
        )
        headers = ["signals", "crop", "queries", "recall@1", "recall@10", "p50_ms", "p90_ms"]
        print_table(headers, [[r[h] for h in headers] for r in real["rows"]], markdown=True)
        scaled = []
        headers = [
            "images", "structure", "crop", "recall@1", "recall@10", "p50_ms", "p90_ms",
            "build_s", "index_bytes_per_image", "rss_growth_mb",
        ]  # fmt: skip
        runs: list[Any] = [int(s) for s in args.scale.split(",") if s]
        runs += [Path(p) for p in args.indexes.split(",") if p]
        for size in runs:
            rows = (
                kept(args, home, queries, size)
                if isinstance(size, Path)
                else scale(args, home, queries, size)
            )
            scaled += rows
            print()
            print_table(headers, [[r[h] for h in headers] for r in rows], markdown=True)
        if args.json:
            write_json(str(args.json), {"machine": facts, "real": real, "scale": scaled})
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
