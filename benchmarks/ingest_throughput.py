"""Ingest throughput: lookalike's real ``Collection.index`` against ``imagehash.phash``.

What is measured, on the same list of image files:

* **lookalike**: ``lookalike.open(<fresh temp home>, ingest={"workers": W}).index(files)``
  (read, sha256, decode with JPEG draft, 576-bit phash + mirror, colour histogram,
  SQLite catalog write, FAISS index update and save), wall time of the ``index``
  call, once per worker setting.  ``workers=1`` runs in-process on one core and
  gives the per-core figure; ``workers=0`` is the default (one process per core).
  images/s per core = images/s / processes used.
* **imagehash** (the baseline): ``imagehash.phash(Image.open(path))`` (hash_size 8:
  PIL opens and fully decodes the file, hashes a 32x32 grey copy), single process.

Every file is read once before timing so that both read from the page cache.
Each figure is the median of ``--repeat`` runs, interleaved (a fresh collection
each run); an untimed warm-up run first pays the one-off import costs (FAISS,
Pillow plugins).  Single-process runs are reported both by wall time and by
CPU time of the process: on a machine shared with other jobs, wall time also
counts the time a process waited for a core, CPU time does not (but CPU time
leaves out I/O waits such as fsync).  Goal verdicts are given for both.
Files counts are files given, whatever their outcome (a file lookalike or
imagehash cannot decode still counts; failures are reported).  Byte-identical
files are decoded once by lookalike (it deduplicates by sha256), every time by
imagehash.

Example::

    python benchmarks/ingest_throughput.py --images /data/photos --workers 1,0 --goal-ratio 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    image_files,
    load_average,
    machine,
    merge,
    parse_settings,
    print_machine,
    print_table,
    warm_cache,
    write_json,
)
from PIL import Image

import lookalike


def targets(root: Path, exclude: list[str], files: list[Path], limited: bool) -> list[Path]:
    """What lookalike is asked to index, as a user would name it.

    The folder itself when nothing is excluded; otherwise the fewest folders and
    files that cover the tree without the excluded sub-folders (lookalike still
    walks the non-image files in them, as it would for a user); with ``--limit``,
    the image files themselves.
    """
    if limited:
        return files
    if not exclude:
        return [root]

    def holds_excluded(folder: Path) -> bool:
        return any(part in exclude for d, subdirs, _ in os.walk(folder) for part in subdirs)

    def cover(folder: Path) -> list[Path]:
        if not holds_excluded(folder):
            return [folder]
        found: list[Path] = []
        for child in sorted(folder.iterdir()):
            if child.name.startswith(".") or child.name in exclude:
                continue
            found.extend(cover(child) if child.is_dir() else [child])
        return found

    return cover(root.resolve())


def run_lookalike(
    files: list[Path],
    workers: int,
    scratch: Path,
    profile: Any = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Index ``files`` (files or folders) into a fresh collection; seconds of ``Collection.index``."""
    home = Path(tempfile.mkdtemp(prefix="ingest-", dir=scratch))
    try:
        with lookalike.open(home, **merge(settings or {}, {"ingest": {"workers": workers}})) as col:
            if profile is not None:
                profile.start()
            cpu0, t0 = time.process_time(), time.perf_counter()
            report = col.index(files, retire=False)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            if profile is not None:
                profile.stop()
        return {
            "seconds": wall,
            "cpu_seconds_main": cpu,
            "files_seen": report.files,
            "images_new": report.images_new,
            "images_known": report.images_known,
            "failed": report.failed,
            "failures": dict(report.failures),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run_imagehash(files: list[Path]) -> dict[str, Any]:
    """``imagehash.phash`` of every file, one process."""
    import imagehash  # here, not at the top: worker processes re-import this module

    failed = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    for path in files:
        try:
            with Image.open(path) as im:
                imagehash.phash(im)
        except Exception:
            failed += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"seconds": wall, "cpu_seconds_main": cpu, "failed": failed}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (its other fields come with it), the median CPU
    seconds over all runs, and every wall time."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["all_seconds"] = [r["seconds"] for r in runs]
    chosen["cpu_seconds_main"] = statistics.median(r["cpu_seconds_main"] for r in runs)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, required=True, help="folder of images (searched recursively)")
    parser.add_argument("--limit", type=int, default=None, help="use at most N files (sorted order)")
    parser.add_argument(
        "--workers",
        default="1,0",
        help="comma-separated lookalike ingest.workers values to run (0 = one per core); default 1,0",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        help="sub-folder name to skip at any depth (repeatable), e.g. archives",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="lookalike setting for the lookalike runs (repeatable), e.g. decode.work_size=192",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each variant (median kept)")
    parser.add_argument("--goal-ratio", type=float, default=None, help="goal: lookalike per core / imagehash")
    parser.add_argument("--goal-per-core", type=float, default=None, help="goal: lookalike images/s per core")
    parser.add_argument(
        "--scratch", type=Path, default=Path(tempfile.gettempdir()), help="where temp collections go (/tmp)"
    )
    parser.add_argument(
        "--profile", default=None, help="write a pyinstrument profile of one workers=1 run to this .txt/.html"
    )
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the figures as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)

    overrides = parse_settings(args.set)
    files = image_files(args.images, args.exclude, args.limit)
    if not files:
        parser.error(f"no image files under {args.images}")
    worker_settings = [int(w) for w in args.workers.split(",")]
    cores = os.cpu_count() or 1
    facts = machine()
    print_machine(facts)
    size = warm_cache(files)
    print(
        f"images: {len(files)} files, {size / 1e6:.1f} MB under {args.images}"
        f"{' (excluding ' + ', '.join(args.exclude) + ')' if args.exclude else ''}; cache warmed\n"
    )

    given = targets(args.images, args.exclude, files, args.limit is not None)
    if overrides:
        print(f"lookalike settings: {overrides}")
    run_lookalike(
        files[: min(len(files), 3)], 1, args.scratch, settings=overrides
    )  # warm-up: imports, plugin registration
    run_imagehash(files[: min(len(files), 3)])

    load_before = load_average()
    runs: dict[str, list[dict[str, Any]]] = {
        "imagehash": [],
        **{f"lookalike_w{w}": [] for w in worker_settings},
    }
    for _ in range(args.repeat):  # interleaved, so that noise from other jobs falls on every variant
        runs["imagehash"].append(run_imagehash(files))
        for w in worker_settings:
            runs[f"lookalike_w{w}"].append(run_lookalike(given, w, args.scratch, settings=overrides))
    results: dict[str, Any] = {name: median_run(r) for name, r in runs.items()}
    load_after = load_average()

    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        run_lookalike(given, 1, args.scratch, profiler, overrides)
        if args.profile.endswith(".html"):
            Path(args.profile).write_text(profiler.output_html(), encoding="utf-8")
        else:
            Path(args.profile).write_text(profiler.output_text(unicode=False, color=False), encoding="utf-8")
        print(f"profile of a workers=1 run written to {args.profile}")

    n = len(files)
    for w in worker_settings:
        r = results[f"lookalike_w{w}"]
        # a blob that fails to decode is counted both as known and as failed (lookalike's report)
        seen = r["images_new"] + r["images_known"]
        if n not in (seen, seen + r["failed"]):
            print(f"WARNING: lookalike workers={w} saw {seen} images, imagehash {n} files: not the same set")
    ih = results["imagehash"]
    base, base_cpu = n / ih["seconds"], n / ih["cpu_seconds_main"]
    ih.update(processes=1, images_per_s=base, images_per_s_per_core=base, images_per_cpu_s=base_cpu)

    def spread(r: dict[str, Any]) -> str:
        return " ".join(f"{t:.2f}" for t in r["all_seconds"])

    rows = [
        [
            "imagehash.phash (baseline)",
            1,
            ih["seconds"],
            base,
            base,
            1.0,
            base_cpu,
            1.0,
            ih["failed"],
            spread(ih),
        ]
    ]
    summary: dict[str, Any] = {"imagehash_images_per_s": base, "imagehash_images_per_cpu_s": base_cpu}
    for w in worker_settings:
        r = results[f"lookalike_w{w}"]
        procs = w if w > 0 else cores
        ips = n / r["seconds"]
        per_core = ips / procs
        # CPU time is only this process's: it is the whole work only when nothing runs in workers
        per_cpu = n / r["cpu_seconds_main"] if procs == 1 else None
        r.update(
            processes=procs,
            images_per_s=ips,
            images_per_s_per_core=per_core,
            ratio_per_core=per_core / base,
            images_per_cpu_s=per_cpu,
            ratio_per_cpu_s=per_cpu / base_cpu if per_cpu else None,
        )
        label = f"lookalike workers={w}" + (" (default: all cores)" if w == 0 else "")
        rows.append(
            [
                label,
                procs,
                r["seconds"],
                ips,
                per_core,
                per_core / base,
                per_cpu,
                r["ratio_per_cpu_s"],
                r["failed"],
                spread(r),
            ]
        )
        summary[f"lookalike_w{w}_per_core"] = per_core
    print(
        f"{n} files, median of {args.repeat} interleaved run(s); load average {load_before:.2f} before, "
        f"{load_after:.2f} after (other jobs on the machine skew wall times, much less CPU times)"
    )
    print_table(
        [
            "run",
            "processes",
            "wall s",
            "images/s",
            "images/s/core",
            "x imagehash (wall)",
            "images/CPU-s",
            "x imagehash (CPU)",
            "failed",
            "all runs, wall s",
        ],
        rows,
        markdown=args.markdown,
    )

    one = results.get("lookalike_w1")
    verdicts = []
    if one is not None:
        ratio, cpu_ratio = one["ratio_per_core"], one["ratio_per_cpu_s"]
        summary.update(ratio_per_core=ratio, ratio_per_cpu_second=cpu_ratio)
        print(
            f"lookalike on one core (workers=1) / imagehash: {cpu_ratio:.2f}x by CPU time, {ratio:.2f}x by wall time"
        )

        def verdict(goal: str, value: float, target: float, unit: str) -> str:
            shown = f"{value:.2f}x" if unit == "x" else f"{value:.0f}{unit}"
            return (
                f"{goal}: {'MET' if value >= target else 'NOT MET'} ({shown}, {value / target:.0%} of goal)"
            )

        if args.goal_ratio is not None:
            goal = f"goal >= {args.goal_ratio:g}x imagehash per core"
            verdicts.append(verdict(goal + " [CPU time]", cpu_ratio, args.goal_ratio, "x"))
            verdicts.append(verdict(goal + " [wall time]", ratio, args.goal_ratio, "x"))
        if args.goal_per_core is not None:
            goal = f"goal >= {args.goal_per_core:g} images/s per core"
            verdicts.append(verdict(goal + " [CPU time]", one["images_per_cpu_s"], args.goal_per_core, "/s"))
            verdicts.append(
                verdict(goal + " [wall time]", one["images_per_s_per_core"], args.goal_per_core, "/s")
            )
    for line in verdicts:
        print(line)

    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "ingest_throughput",
                "machine": facts,
                "images": str(args.images),
                "exclude": args.exclude,
                "files": n,
                "bytes": size,
                "repeat": args.repeat,
                "settings": overrides,
                "load_average": [load_before, load_after],
                "results": results,
                "summary": summary,
                "verdicts": verdicts,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
