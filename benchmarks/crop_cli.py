"""Crop search from the command line: one fresh `lookalike search CROP --signals keypoints` per query.

Each call is a new process, so it pays for start-up, opening the collection and loading
the descriptor index, as a user's call does.  The photos in ``--images`` are indexed
once (keypoints only) with this checkout's code.  For each version of the code (this
checkout, and with ``--before SRC`` another ``src`` folder, e.g. one exported by
``git archive``), a copy of that collection gets its keypoints index built and saved by
that version, with ``--scale`` synthetic images' descriptors added (real descriptors
resampled with 1 bit in 8 flipped, as ``crop_detection.py`` makes them, so none matches
a query).  Then a quarter-area crop of each of ``--queries`` photos (seeded position,
JPEG quality 90) is searched from the CLI ``--runs`` times.

Reported per version and size: wall seconds per CLI call (p50, p90, max), recall@1 (the
source first), the seconds to open the keypoints index in a fresh process (``IndexSet.get``,
the part that used to retrain), the index's bytes on disk per image, the build time, the
time to remove 20 synthetic images (5,000 rows) and to save.

The calls of the versions alternate (one query with each version, then the next query),
so a load that comes and goes weighs on both alike.  Each version's ``src`` is compiled to
bytecode first (``compileall``, as ``pip install`` does), so a call does not recompile the
modules where ``PYTHONDONTWRITEBYTECODE`` is set.  With ``--homes DIR`` the indexed photos,
the crops and every version's built collection are kept in ``DIR`` and reused by the next
run (a 100k build takes minutes); without it they live in a temporary folder.

Example::

    git archive main src | tar -x -C /tmp/before
    python benchmarks/crop_cli.py --images ../shared/data/photos_flickr/images --scale 0,10000 \\
        --before /tmp/before/src --json /tmp/crop_cli.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import image_files, load_average, machine, print_machine, print_table, write_json
from PIL import Image, ImageOps

import lookalike

SIGNALS = {"ingest": {"signals": ["keypoints"]}}
SYNTHETIC_IDS = 10_000_000  # far above the catalog's own ids
DESCRIPTOR_BYTES = 32


def crop(data: bytes, rng: np.random.Generator, area: float = 0.25) -> bytes:
    with Image.open(io.BytesIO(data)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    w, h = image.size
    cw, ch = round(w * area**0.5), round(h * area**0.5)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = io.BytesIO()
    image.crop((x, y, x + cw, y + ch)).save(out, "JPEG", quality=90)
    return out.getvalue()


def prepare(args: argparse.Namespace, home: Path, crops: Path) -> tuple[float, list[tuple[int, Path]]]:
    """Index the photos; write the crops; return the ingest seconds and (source id, crop file).

    Kept beside the homes (``queries.json``) and reused when they are there already."""
    kept = home.parent / "queries.json"
    if kept.exists() and home.exists():
        facts = json.loads(kept.read_text())
        return float(facts["ingest_s"]), [(int(i), Path(p)) for i, p in facts["queries"]]
    shutil.rmtree(home, ignore_errors=True)
    files = image_files(args.images)
    started = time.perf_counter()
    with lookalike.open(home, **SIGNALS) as collection:
        collection.index(files)
        ingest_s = time.perf_counter() - started
        rng = np.random.default_rng(7)
        queries = []
        for number in np.linspace(0, len(files) - 1, args.queries).round().astype(int).tolist():
            ids = collection.catalog.images.ids_at(str(files[number].resolve()))
            if ids:
                target = crops / f"crop{number}.jpg"
                target.write_bytes(crop(files[number].read_bytes(), rng))
                queries.append((ids[0], target))
        folder = collection.indexes.folder
    shutil.rmtree(folder, ignore_errors=True)  # each version builds its own
    kept.write_text(json.dumps({"ingest_s": ingest_s, "queries": [[i, str(p)] for i, p in queries]}))
    return ingest_s, queries


# ---- stages run in a process of their own, with the version's code on PYTHONPATH ----------------


def stage_build(home: Path, n_images: int) -> dict[str, Any]:
    """Build the keypoints index with ``n_images`` synthetic images added, and save it."""
    started = time.perf_counter()
    with lookalike.open(home, **SIGNALS) as collection:
        index = collection.indexes.get("keypoints")
        signal = collection.signals["keypoints"]
        stored = [
            signal.decode(payload)[1:, :DESCRIPTOR_BYTES]
            for batch in collection.catalog.features.iterate("keypoints", signal.spec.version)
            for _, payload in batch
        ]
        real = len(stored)
        pool, per_image = np.vstack(stored), int(np.mean([len(s) for s in stored]))
        del stored
        rng = np.random.default_rng(11)
        for first in range(0, n_images, 2000):
            count = min(2000, n_images - first)
            rows = pool[rng.integers(0, len(pool), count * per_image)]
            shape = rows.shape
            flips = rng.integers(0, 256, shape, dtype=np.uint8) & rng.integers(0, 256, shape, dtype=np.uint8)
            rows = rows ^ (flips & rng.integers(0, 256, shape, dtype=np.uint8))  # each bit with p 1/8
            ids = np.repeat(np.arange(first, first + count, dtype=np.int64) + SYNTHETIC_IDS, per_image)
            index.add(ids, rows)
        built = time.perf_counter()
        index.remove(np.arange(20, dtype=np.int64) + SYNTHETIC_IDS)  # 20 images: 5,000 rows at 250
        removed = time.perf_counter()
        collection.indexes._dirty.add("keypoints")  # saved, with its record, as the collection closes
        folder = collection.indexes.folder
    on_disk = sum(p.stat().st_size for p in folder.glob("keypoints.*") if not p.name.endswith(".json"))
    return {
        "build_s": round(built - started, 1),
        "remove_s": round(removed - built, 2) if n_images else None,
        "save_s": round(time.perf_counter() - removed, 1),
        "images": real + max(0, n_images - 20),
        "bytes": on_disk,
    }


def stage_open(home: Path) -> dict[str, Any]:
    """Seconds to open the collection and its keypoints index, in this fresh process."""
    started = time.perf_counter()
    with lookalike.open(home, **SIGNALS) as collection:
        opened = time.perf_counter()
        collection.indexes.get("keypoints")
        loaded = time.perf_counter()
    return {"open_s": round(opened - started, 3), "index_s": round(loaded - opened, 3)}


def in_process(src: Path, stage: str, home: Path, n_images: int = 0) -> dict[str, Any]:
    command = [sys.executable, __file__, "--stage", stage, "--home", str(home), "--scale", str(n_images)]
    done = subprocess.run(command, env=_env(src), capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src)}


# ---- the CLI calls ---------------------------------------------------------------------------


def cli_calls(
    versions: dict[str, tuple[Path, Path]], queries: list[tuple[int, Path]], runs: int
) -> dict[str, Any]:
    """CLI calls of every version (label: (src, home)), alternating: each query with each version."""
    times: dict[str, list[float]] = {label: [] for label in versions}
    hits = dict.fromkeys(versions, 0)
    for run in range(runs):
        for source, path in queries:
            for label, (src, home) in versions.items():
                command = [sys.executable, "-m", "lookalike", "search", str(path), "--signals", "keypoints"]
                command += ["-k", "5", "--no-collapse", "--json", "--data", str(home)]
                started = time.perf_counter()
                done = subprocess.run(command, env=_env(src), capture_output=True, text=True)
                times[label].append(time.perf_counter() - started)
                found = json.loads(done.stdout) if done.returncode == 0 else []
                hits[label] += run == 0 and bool(found) and found[0]["id"] == source
    figures = {}
    for label, taken in times.items():
        seconds = sorted(taken)
        figures[label] = {
            "calls": len(seconds),
            "p50_s": round(float(np.median(seconds)), 2),
            "p90_s": round(seconds[int(0.9 * (len(seconds) - 1))], 2),
            "max_s": round(seconds[-1], 2),
            "recall@1": round(hits[label] / len(queries), 2),
        }
    return figures


def startup(src: Path) -> float:
    """Seconds of `lookalike --help` (start-up and imports, no collection)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lookalike", "--help"], env=_env(src), capture_output=True, check=True
    )
    return round(time.perf_counter() - started, 2)


def built_home(label: str, src: Path, base: Path, n_images: int) -> tuple[Path, dict[str, Any]]:
    """The version's collection with ``n_images`` synthetic images: kept from an earlier run
    (beside ``base``, with its build figures), or built now."""
    home = base.parent / f"{label}-{n_images}"
    record = base.parent / f"{label}-{n_images}.json"
    if home.exists() and record.exists():
        return home, dict(json.loads(record.read_text()))
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(base, home)
    built = in_process(src, "build", home, n_images)
    record.write_text(json.dumps(built))
    return home, built


def size_rows(
    args: argparse.Namespace, versions: dict[str, Path], base: Path, queries: list[Any], n_images: int
) -> list[Any]:
    homes = {label: built_home(label, src, base, n_images) for label, src in versions.items()}
    for src in versions.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], capture_output=True, check=True)
    opened = {
        label: [in_process(src, "open", homes[label][0]) for _ in range(args.opens)]
        for label, src in versions.items()
    }
    asked = queries[: args.scale_queries] if n_images else queries
    calls = cli_calls({label: (src, homes[label][0]) for label, src in versions.items()}, asked, args.runs)
    rows = []
    for label, src in versions.items():
        built = homes[label][1]
        rows.append(
            {
                "code": label,
                "images": built["images"],
                **calls[label],
                "open_index_s": min(o["index_s"] for o in opened[label]),
                "bytes_per_image": round(built["bytes"] / built["images"]),
                "build_s": built["build_s"],
                "remove20_s": built["remove_s"],
                "save_s": built["save_s"],
                "startup_s": startup(src),
                "load": load_average(),
            }
        )
    print_table(list(rows[0]), [list(r.values()) for r in rows], markdown=True)
    if not args.homes:
        for home, _ in homes.values():
            shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, help="Folder of real photos.")
    parser.add_argument("--queries", type=int, default=20, help="Photos cropped and searched for.")
    parser.add_argument("--runs", type=int, default=1, help="CLI calls per crop.")
    parser.add_argument(
        "--scale", default="0", help="Synthetic images added, comma-separated, e.g. 0,100000."
    )
    parser.add_argument("--scale-queries", type=int, default=10, help="Crops searched where --scale > 0.")
    parser.add_argument("--opens", type=int, default=3, help="Fresh processes timing the index's opening.")
    parser.add_argument("--before", type=Path, help="Another version's src folder, run side by side.")
    parser.add_argument(
        "--homes",
        type=Path,
        help="Keep the photos' collection, the crops and each built index here; reuse them.",
    )
    parser.add_argument("--json", type=Path, help="Write the figures to this JSON file.")
    parser.add_argument("--stage", choices=["build", "open"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        stage = stage_build(args.home, int(args.scale)) if args.stage == "build" else stage_open(args.home)
        print(json.dumps(stage))
        return
    if args.images is None:
        parser.error("--images is required")
    facts = machine()
    print_machine(facts)
    here = Path(lookalike.__file__).resolve().parent.parent
    work = args.homes.resolve() if args.homes else Path(tempfile.mkdtemp(prefix="crop-cli-"))
    try:
        (work / "crops").mkdir(parents=True, exist_ok=True)
        ingest_s, queries = prepare(args, work / "base", work / "crops")
        print(f"\n{len(queries)} crops of photos indexed in {ingest_s:.1f} s (keypoints)\n")
        versions = {"before": args.before.resolve()} if args.before else {}
        versions["after"] = here
        rows = []
        for n_images in [int(s) for s in args.scale.split(",")]:
            rows += size_rows(args, versions, work / "base", queries, n_images)
        print()
        print_table(list(rows[0]), [list(r.values()) for r in rows], markdown=True)
        if args.json:
            write_json(str(args.json), {"machine": facts, "ingest_s": ingest_s, "rows": rows})
    finally:
        if not args.homes:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
