"""Memory: resident bytes per indexed image for the default signals, and the peak of an ingest.

Part 1 (indexes).  For each default signal that has a vector index (phash: FAISS binary
flat, 72-byte codes; colour: 64 float32 bins, flat up to ``index.flat_max`` and HNSW past
it), ``--size`` synthetic vectors are added through the real backend
(``FaissFactory(IndexSettings()).create(spec, 1, size)``) in a subprocess and saved; a
fresh subprocess then records its resident memory (VmRSS) before and after loading the
file, and after a first two-row search (phash builds its shortlist prefixes then).
Reported: bytes per image on disk and in memory, against the raw vector bytes, and the
sum against the goal (``--goal-bytes``, 200 by default).  The baseline is the raw data:
what the vectors alone take.

Part 2 (``--photos N``, ingest).  N small generated photos (JPEG, about 4 KB: a gradient
and coloured boxes, each different) are indexed by ``Collection.index`` with default
settings in a subprocess, ``--chunk`` files a call; after each call it records the
resident memory of itself and its worker processes and the peak (VmHWM).  Growth per 1000
images past the first chunk, against the indexes' own bytes per image from part 1, says
whether anything but the indexes grows with the collection.

Example::

    python benchmarks/memory.py --size 1000000 --colour-size 200000 --photos 100000 --json memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_average, machine, print_machine, print_table, write_json


def status_kb(pid: int | str = "self", field: str = "VmRSS") -> int:
    """A ``/proc/PID/status`` memory field in kB (Linux), 0 where unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid``."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                for child in fh.read().split():
                    out += [int(child), *children(int(child))]
    except OSError:
        pass
    return out


# --- part 1: the indexes ----------------------------------------------------------------------


def _vectors(name: str, start: int, n: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(start)
    if name == "phash":
        return rng.integers(0, 256, (n, 72), dtype=np.uint8)
    hist = rng.random((n, 64), dtype=np.float32) ** 4
    return hist / hist.sum(axis=1, keepdims=True)


def _spec(name: str) -> Any:
    from lookalike.signals.colour import Colour
    from lookalike.signals.phash import PHash

    return {"phash": PHash.spec, "colour": Colour.spec}[name]


def build_child(name: str, size: int, path: str) -> dict[str, Any]:
    import numpy as np

    from lookalike.index.faiss_backend import FaissFactory
    from lookalike.settings import IndexSettings

    index = FaissFactory(IndexSettings()).create(_spec(name), 1, size)
    t0 = time.perf_counter()
    for start in range(0, size, 100_000):
        n = min(100_000, size - start)
        index.add(np.arange(start, start + n, dtype=np.int64), _vectors(name, start, n))
    build = time.perf_counter() - t0
    index.save(Path(path))
    return {"build_seconds": build, "kind": getattr(index, "kind", "")}


def load_child(name: str, size: int, path: str) -> dict[str, Any]:
    import numpy as np

    from lookalike.index.faiss_backend import FaissFactory
    from lookalike.settings import IndexSettings

    spec = _spec(name)
    factory = FaissFactory(IndexSettings())
    before = status_kb()
    index = factory.load(spec, Path(path), 1)
    loaded = status_kb()
    index.search_batch(_vectors(name, size + 1, 2), 100)
    searched = status_kb()
    return {
        "rss_before_kb": before,
        "rss_loaded_kb": loaded,
        "rss_searched_kb": searched,
        "count": len(index),
        "vector_bytes": int(np.dtype(np.uint8 if name == "phash" else np.float32).itemsize)
        * (spec.dim // 8 if name == "phash" else spec.dim),
    }


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def indexes(sizes: dict[str, int], scratch: Path) -> list[dict[str, Any]]:
    rows = []
    for name, size in sizes.items():
        path = scratch / f"{name}.faiss"
        built = run_child("build", name, str(size), str(path))
        used = run_child("load", name, str(size), str(path))
        per = 1024 * (used["rss_loaded_kb"] - used["rss_before_kb"]) / size
        after_search = 1024 * (used["rss_searched_kb"] - used["rss_before_kb"]) / size
        rows.append(
            {
                "signal": name,
                "index": built["kind"],
                "size": size,
                "build_seconds": built["build_seconds"],
                "vector_bytes": used["vector_bytes"],
                "file_bytes_per_image": path.stat().st_size / size,
                "rss_bytes_per_image_loaded": per,
                "rss_bytes_per_image_after_search": after_search,
            }
        )
        path.unlink()
    return rows


# --- part 2: an ingest --------------------------------------------------------------------------


def make_photos(folder: Path, n: int, seed: int = 0) -> None:
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, 96, dtype=np.float32)
    for i in range(n):
        sub = folder / f"{i // 1000:04d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        grad = (a[None, None, :] * (1 - ramp)[None, :, None] + b[None, None, :] * ramp[None, :, None]).repeat(
            72, axis=0
        )
        im = Image.fromarray(grad.astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(im)
        for _ in range(4):
            x, y = rng.integers(0, 80), rng.integers(0, 60)
            w, h = rng.integers(8, 40, 2)
            draw.rectangle(
                (int(x), int(y), int(x + w), int(y + h)), fill=tuple(int(v) for v in rng.integers(0, 256, 3))
            )
        im.save(sub / f"{i}.jpg", "JPEG", quality=85)


def ingest_child(folder: str, home: str, chunk: int) -> dict[str, Any]:
    import lookalike

    subs = sorted(p for p in Path(folder).iterdir() if p.is_dir())
    files = [f for s in subs for f in sorted(s.iterdir())]
    samples = []
    t0 = time.perf_counter()
    high = {"tree_kb": 0, "workers_kb": 0}
    stop = threading.Event()

    def sample() -> None:  # the process tree's resident memory, 5 times a second
        while not stop.wait(0.2):
            workers = sum(status_kb(p) for p in children(os.getpid()))
            high["workers_kb"] = max(high["workers_kb"], workers)
            high["tree_kb"] = max(high["tree_kb"], status_kb() + workers)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with lookalike.open(Path(home)) as col:
        for start in range(0, len(files), chunk):
            col.index(files[start : start + chunk], retire=False)
            samples.append(
                {
                    "images": min(len(files), start + chunk),
                    "seconds": time.perf_counter() - t0,
                    "rss_kb": status_kb(),
                    "peak_kb": status_kb(field="VmHWM"),
                    "workers_peak_kb": high["workers_kb"],
                    "tree_peak_kb": high["tree_kb"],
                }
            )
            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)  # survives a killed run
    stop.set()
    return {
        "samples": samples,
        "catalog_bytes": sum(p.stat().st_size for p in Path(home).rglob("*") if p.is_file()),
    }


def ingest(n: int, chunk: int, scratch: Path, photos: Path | None) -> dict[str, Any]:
    folder = photos or Path(tempfile.mkdtemp(prefix="photos-", dir=scratch))
    home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))
    try:
        t0 = time.perf_counter()
        have = sum(1 for _ in folder.rglob("*.jpg")) if photos else 0
        if have != n:
            make_photos(folder, n)
        made = time.perf_counter() - t0
        result = run_child("ingest", str(folder), str(home), str(chunk)) if chunk else {"samples": []}
        result["generate_seconds"] = made
        return result
    finally:
        if photos is None:
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        out: dict[str, Any]
        if kind == "build":
            out = build_child(rest[0], int(rest[1]), rest[2])
        elif kind == "load":
            out = load_child(rest[0], int(rest[1]), rest[2])
        else:
            out = ingest_child(rest[0], rest[1], int(rest[2]))
        print(json.dumps(out))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="images in the phash index")
    parser.add_argument(
        "--colour-size", type=int, default=None, help="images in the colour index (default: --size)"
    )
    parser.add_argument(
        "--photos", type=int, default=0, help="photos to generate and ingest (0: no ingest part)"
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=10_000,
        help="files per Collection.index call in the ingest (0: only make them)",
    )
    parser.add_argument(
        "--photos-dir", type=Path, default=None, help="keep the generated photos here (reused when complete)"
    )
    parser.add_argument("--goal-bytes", type=float, default=200.0, help="goal: index bytes per image")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--skip-indexes", action="store_true", help="only the ingest part")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the figures as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)

    facts = machine()
    print_machine(facts)
    load_before = load_average()
    scratch = Path(tempfile.mkdtemp(prefix="memory-", dir=args.scratch))
    rows: list[dict[str, Any]] = []
    verdicts = []
    try:
        if not args.skip_indexes:
            rows = indexes({"phash": args.size, "colour": args.colour_size or args.size}, scratch)
            print("\nindexes of the default signals (phash, colour; junk is a flag, no index), FAISS backend")
            print_table(
                [
                    "signal",
                    "index",
                    "images",
                    "build s",
                    "vector B",
                    "file B/image",
                    "RSS B/image",
                    "after a search",
                ],
                [
                    [
                        r["signal"],
                        r["index"],
                        r["size"],
                        r["build_seconds"],
                        r["vector_bytes"],
                        r["file_bytes_per_image"],
                        r["rss_bytes_per_image_loaded"],
                        r["rss_bytes_per_image_after_search"],
                    ]
                    for r in rows
                ],
                markdown=args.markdown,
            )
            total = sum(r["rss_bytes_per_image_after_search"] for r in rows)
            raw = sum(r["vector_bytes"] for r in rows)
            verdicts.append(
                f"goal <= {args.goal_bytes:g} B of index per image: {'MET' if total <= args.goal_bytes else 'NOT MET'} "
                f"({total:.0f} B resident per image; the raw vectors alone are {raw} B: "
                + ", ".join(f"{r['signal']} {r['rss_bytes_per_image_after_search']:.0f}" for r in rows)
                + ")"
            )
        run = None
        if args.photos:
            run = ingest(args.photos, args.chunk, scratch, args.photos_dir)
            samples = run["samples"]
            print(
                f"\ningest of {args.photos:,} generated photos ({run['generate_seconds']:.0f} s to make), default settings"
            )
            print_table(
                [
                    "images",
                    "seconds",
                    "RSS MB",
                    "peak MB (process)",
                    "workers peak MB",
                    "process + workers peak MB",
                ],
                [
                    [
                        s["images"],
                        s["seconds"],
                        s["rss_kb"] / 1024,
                        s["peak_kb"] / 1024,
                        s["workers_peak_kb"] / 1024,
                        s["tree_peak_kb"] / 1024,
                    ]
                    for s in samples
                ],
                markdown=args.markdown,
            )
            if len(samples) > 1:
                first, last = samples[0], samples[-1]
                grown = 1024 * (last["rss_kb"] - first["rss_kb"]) / max(1, last["images"] - first["images"])
                index_b = sum(r["rss_bytes_per_image_after_search"] for r in rows) if rows else None
                run["rss_growth_bytes_per_image"] = grown
                verdicts.append(
                    f"ingest peak {last['peak_kb'] / 1024:.0f} MB in the main process, {last['tree_peak_kb'] / 1024:.0f} MB "
                    f"with its workers; its resident memory grew {grown:.0f} B per image after the first {first['images']:,}"
                    + (f" (the indexes take {index_b:.0f} B per image)" if index_b else "")
                )
        for line in verdicts:
            print(line)
        load_after = load_average()
        print(f"load average {load_before:.2f} before, {load_after:.2f} after")
        if args.json:
            write_json(
                args.json,
                {
                    "benchmark": "memory",
                    "machine": facts,
                    "settings": {
                        k: (str(v) if isinstance(v, Path) else v)
                        for k, v in vars(args).items()
                        if k != "json"
                    },
                    "indexes": rows,
                    "ingest": run,
                    "load_average": [load_before, load_after],
                    "verdicts": verdicts,
                },
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
