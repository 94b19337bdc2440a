"""Duplicate finding: pairwise precision and recall of ``lookalike dupes`` against a 64-bit pHash anchor.

Two sets, each indexed into a fresh collection with the default signals:

- ``--near DIR``: a folder with a ``groundtruth.json`` of groups (``original`` and its
  ``duplicates``, paths relative to DIR), as ../shared/data/near_duplicates has
  (plus ``NEAR_ADDITIONS``: a file its groundtruth.json leaves out);
- ``--images DIR``: ``--originals`` photos (every other one), each with two copy edits
  (of calibrate.py ``COPY_EDITS`` and ``rotate90``, picked with a fixed seed) written beside
  it, and as many other photos of DIR as distractors.  Photos the folder holds twice
  (``_tiers.TWINS``, exact_duplicate_groups.json) count as the same picture.

A pair of files is positive when the truth puts them in one group; ``dupes`` finds it when
it puts both files in one group (an exact group: the same content at both places).
precision = found positive pairs / found pairs, recall = found positive pairs / positive pairs.

The anchor is what imagededup's PHash does by default: ``imagehash.phash`` (64 bits) with
pairs within 10 bits, grouped transitively like ``dupes``.

Example::

    python benchmarks/dupes.py --near ../shared/data/near_duplicates --images ../shared/data/photos_flickr --originals 100
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import image_files, machine, merge, parse_settings, print_machine, print_table, write_json
from _tiers import twins
from calibrate import COPY_EDITS
from copy_detection import EDITS, Source

import lookalike

EDIT_CHOICES = sorted(COPY_EDITS | {"rotate90"})
#: Files of near_duplicates that are the same picture as a group's original but missing from its
#: groundtruth.json, checked by eye: the UKBench photo with an alpha channel added.
NEAR_ADDITIONS = {"mixed_images/ukbench00120.jpg": ["alpha_channel_image.png"]}


def pairs_of(groups: Iterable[Iterable[str]]) -> set[frozenset[str]]:
    """Every pair within a group, groups that share a member merged first."""
    merged: list[set[str]] = []
    for group in map(set, groups):
        touching = [m for m in merged if m & group]
        for m in touching:
            merged.remove(m)
            group |= m
        merged.append(group)
    return {frozenset(p) for g in merged for p in itertools.combinations(sorted(g), 2)}


def truth_near(folder: Path) -> tuple[list[Path], set[frozenset[str]]]:
    truth = json.loads((folder / "groundtruth.json").read_text(encoding="utf-8"))
    groups = [
        [g["original"], *g["duplicates"], *NEAR_ADDITIONS.get(g["original"], [])] for g in truth["groups"]
    ]
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "groundtruth.json"]
    return files, pairs_of(groups)


def make_edits(folder: Path, originals: int, out: Path, seed: int) -> tuple[list[Path], set[frozenset[str]]]:
    files = image_files(folder)
    rng = random.Random(seed)
    chosen, distractors = files[0::2][:originals], files[1::2][:originals]
    groups: list[list[str]] = []
    for path in chosen:
        source = Source(path.read_bytes(), "auto")
        shutil.copy(path, out / path.name)
        names = [path.name]
        for edit in rng.sample(EDIT_CHOICES, 2):
            name = f"{path.stem}_{edit}.{'png' if source.out_format == 'PNG' else 'jpg'}"
            (out / name).write_bytes(EDITS[edit](source))
            names.append(name)
        groups.append(names)
    for path in distractors:
        shutil.copy(path, out / path.name)
    same = twins(files)
    groups += [[name, *others] for name, others in same.items() if (out / name).exists()]
    kept = {p.name for p in out.iterdir()}
    groups = [[n for n in g if n in kept] for g in groups]
    return sorted(out.iterdir()), pairs_of(groups)


def lookalike_pairs(
    root: Path, home: Path, variants: dict[str, dict[str, Any]]
) -> dict[str, tuple[set[frozenset[str]], float, int]]:
    """Per variant (settings over the defaults): the pairs ``dupes`` finds, its seconds and the
    images it looked at, on one collection indexed once with the default signals."""
    with lookalike.open(home, ingest={"workers": 1}) as collection:
        collection.index([root])
        images = int(collection.app.catalog.images.counts()["images"])
    out = {}
    for label, overrides in variants.items():
        with lookalike.open(home, **merge({"ingest": {"workers": 1}}, overrides)) as collection:
            start = time.perf_counter()
            groups = collection.dupes()
            seconds = time.perf_counter() - start
        found = [
            [_rel(Path(uri), root) for image in group["images"] for uri in image["locations"]]
            for group in groups
        ]
        out[label] = (pairs_of(found), seconds, images)
    return out


def anchor_pairs(files: list[Path], root: Path) -> set[frozenset[str]]:
    import imagehash
    from PIL import Image

    hashes = {}
    for path in files:
        try:
            with Image.open(path) as im:
                hashes[_rel(path, root)] = imagehash.phash(im.convert("RGB"))
        except Exception:  # the anchor skips what it cannot open, as imagededup does
            continue
    parent = {name: name for name in hashes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in itertools.combinations(hashes, 2):
        if hashes[a] - hashes[b] <= 10:
            parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for name in hashes:
        groups.setdefault(find(name), []).append(name)
    return pairs_of(groups.values())


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return path.name


def score(found: set[frozenset[str]], truth: set[frozenset[str]]) -> dict[str, Any]:
    right = found & truth
    return {
        "precision": len(right) / len(found) if found else 1.0,
        "recall": len(right) / len(truth) if truth else 1.0,
        "found": len(found),
        "positives": len(truth),
        "false": sorted(" ~ ".join(sorted(p)) for p in found - truth)[:10],
        "missed": sorted(" ~ ".join(sorted(p)) for p in truth - found)[:10],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--near", type=Path, help="a folder with groundtruth.json")
    parser.add_argument("--images", type=Path, help="photos to make edited copies of")
    parser.add_argument("--originals", type=int, default=100)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:KEY=VALUE;...",
        help="also run dupes with these settings on the same collection (e.g. "
        "'hashes only:search.dupes_keypoints=false'); the defaults always run, as 'default'",
    )
    args = parser.parse_args(argv)
    variants: dict[str, dict[str, Any]] = {"default": {}}
    for spec in args.variant:
        label, _, pairs = spec.partition(":")
        variants[label] = parse_settings([p for p in pairs.split(";") if p])
    facts = machine()
    print_machine(facts)
    scratch = Path(tempfile.mkdtemp(prefix="dupes-"))
    results: dict[str, Any] = {}
    try:
        sets = []
        if args.near:
            files, truth = truth_near(args.near)
            sets.append(("near_duplicates", files, args.near, truth))
        if args.images:
            out = scratch / "edits"
            out.mkdir()
            files, truth = make_edits(args.images, args.originals, out, args.seed)
            sets.append(("edited copies", files, out, truth))
        for label, files, root, truth in sets:
            runs = lookalike_pairs(root, scratch / f"home-{len(results)}", variants)
            anchor = score(anchor_pairs(files, root), truth)
            mine = {}
            for variant, (pairs, seconds, images) in runs.items():
                mine[variant] = score(pairs, truth) | {
                    "seconds": seconds,
                    "images": images,
                    "seconds_per_1000": 1000 * seconds / max(images, 1),
                }
            results[label] = {"files": len(files), "lookalike": mine, "imagehash-phash64-10": anchor}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = [
        [
            label,
            variant,
            r["files"],
            mine["positives"],
            *_cells(mine),
            f"{mine['seconds']:.2f}",
            f"{mine['seconds_per_1000']:.1f}",
            *_cells(r["imagehash-phash64-10"]),
        ]
        for label, r in results.items()
        for variant, mine in r["lookalike"].items()
    ]
    print_table(
        [
            *("set", "lookalike", "files", "positive pairs", "P", "R", "found", "dupes s", "s/1000 images"),
            *("anchor P", "R", "found"),
        ],
        rows,
        args.markdown,
    )
    for label, r in results.items():
        found = {f"lookalike {v}": m for v, m in r["lookalike"].items()} | {
            "anchor": r["imagehash-phash64-10"]
        }
        for who, scored in found.items():
            for kind in ("false", "missed"):
                if scored[kind]:
                    print(f"{label}, {who}, {kind} (first 10): {'; '.join(scored[kind])}")
    if args.json:
        write_json(args.json, {"machine": facts, "results": results})
    return 0


def _cells(r: dict[str, Any]) -> list[Any]:
    return [f"{r['precision']:.3f}", f"{r['recall']:.3f}", r["found"]]


if __name__ == "__main__":
    raise SystemExit(main())
