"""A sprite inside a sheet packed with no gaps: is the sheet among the first 10 results of a plain search?

Real sprites (Kenney's CC0 game art in ``--gameart``: the 16 px tiles of Tiny Town, the 18 px and
24 px tiles of Pixel Platformer; sprites of one colour left out, as no search can tell them apart)
are shuffled (seeded) and packed, row by row with no gap, into sheets of 8 to 12 columns, each
sheet at one cell size: the sprites as drawn, or enlarged 2x or 3x with nearest-neighbour (16, 18,
24, 32, 36, 48, 54 and 72 px cells).  Each sprite is in one sheet.  Every other sprite is also
kept as a file of its own ("loose"): the tile of its sheet is then a copy of a better-ranked
result, the case where the collapse of near-identical results hid the tile.  Distractors: the
first ``--photos`` Flickr photos and the Kenney preview pictures and spaced tile maps.  With
``--sheets kenney`` the sheets are instead Kenney's own packed sheets as shipped
(``tilemap_packed.png`` of Tiny Town and Pixel Platformer, and the platformer's backgrounds),
each sprite of its ``Tiles`` folder the query (none loose).

Each configuration indexes the sheets (timed alone: the ingest cost per sheet, in seconds and in
catalog rows), then the loose sprites and the distractors, then searches each sprite's own file
(``search(bytes, k=10)``, default settings) and, with ``--enlarged``, the sprite enlarged 4x.
A hit is the sheet itself among the 10 results or, for code that shows tiles as results of their
own, a tile of the sheet among them (both are counted, and shown apart).

Configurations (``--configs``): ``default`` (no setting), ``off`` (``ingest.tiles = "off"``),
``auto``, or a grid ``32x32``.  ``--before SRC`` runs the same configurations again with another
``src`` folder (e.g. ``git archive integrate src | tar -x -C /tmp/before``), in a process of its
own (or those of ``--before-configs``), and prints both side by side.

Example::

    python benchmarks/sprite_sheets.py --gameart ../shared/data/gameart \\
        --photos-dir ../shared/data/photos_flickr/images --before /tmp/before/src --json out.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import image_files, load_average, machine, print_machine, print_table, write_json
from PIL import Image

import lookalike

PACKS = ("kenney_tiny_town/Tiles", "kenney_pixel_platformer/Tiles")
SCALES = (1, 2, 3)


def sprites(gameart: Path) -> dict[int, list[tuple[str, Image.Image]]]:
    """The sprites by side (16, 18, 24 px), one-colour ones left out."""
    found: dict[int, list[tuple[str, Image.Image]]] = {}
    for pack in PACKS:
        for path in image_files(gameart / pack):
            with Image.open(path) as opened:
                image = opened.convert("RGBA")
            if image.width != image.height or len(image.getcolors(2) or [None] * 3) <= 1:
                continue
            found.setdefault(image.width, []).append((str(path.relative_to(gameart)), image))
    return found


def build(gameart: Path, folder: Path, seed: int) -> list[dict[str, Any]]:
    """Pack the sprites into sheets under ``folder/sheets``; the loose ones under ``folder/loose``.
    Returns one entry per sprite: its file, its sheet and its cell."""
    rng = np.random.default_rng(seed)
    (folder / "sheets").mkdir(parents=True)
    (folder / "loose").mkdir()
    placed: list[dict[str, Any]] = []
    sheet_number = 0
    for side, group in sorted(sprites(gameart).items()):
        order = rng.permutation(len(group))
        start = 0
        while start < len(order):
            columns = int(rng.integers(8, 13))
            count = min(len(order) - start, columns * int(rng.integers(3, 6)))
            if count < 2 * columns:  # too few left for a sheet of 2 rows: join the last one
                count = len(order) - start
                columns = max(2, min(columns, count // 2))
            scale = SCALES[sheet_number % len(SCALES)]
            cell = side * scale
            rows = -(-count // columns)
            sheet = Image.new("RGBA", (columns * cell, rows * cell), (0, 0, 0, 0))
            name = f"sheet{sheet_number:02d}_{cell}px.png"
            for n, index in enumerate(order[start : start + count]):
                source, image = group[int(index)]
                x, y = (n % columns) * cell, (n // columns) * cell
                sheet.paste(image.resize((cell, cell), Image.Resampling.NEAREST), (x, y))
                entry = {
                    "sprite": source,
                    "sheet": name,
                    "box": [x, y, cell, cell],
                    "cell": cell,
                    "loose": len(placed) % 2 == 0,
                }
                if entry["loose"]:
                    image.save(folder / "loose" / f"{len(placed):04d}.png")
                placed.append(entry)
            sheet.save(folder / "sheets" / name)
            start += count
            sheet_number += 1
    return placed


#: Kenney's own packed sheets and the folder of the sprites each one holds.
KENNEY = {
    "kenney_tiny_town/Tilemap/tilemap_packed.png": "kenney_tiny_town/Tiles",
    "kenney_pixel_platformer/Tilemap/tilemap_packed.png": "kenney_pixel_platformer/Tiles",
    "kenney_pixel_platformer/Tilemap/tilemap-backgrounds_packed.png": "kenney_pixel_platformer/Tiles/Backgrounds",
}
CELLS = (16, 18, 24)  # their cell sizes


def kenney(gameart: Path, folder: Path) -> list[dict[str, Any]]:
    """Kenney's own packed sheets (as shipped) under ``folder/sheets``, and each sprite of the folder
    it was packed from; none loose."""
    (folder / "sheets").mkdir(parents=True)
    (folder / "loose").mkdir()
    placed: list[dict[str, Any]] = []
    for n, (sheet, tiles) in enumerate(KENNEY.items()):
        name = f"kenney{n}_{Path(sheet).name}"
        (folder / "sheets" / name).write_bytes((gameart / sheet).read_bytes())
        for path in sorted((gameart / tiles).glob("*.png")):
            with Image.open(path) as opened:
                if len(opened.convert("RGBA").getcolors(2) or [None] * 3) <= 1:
                    continue  # one colour: no search can tell it apart
            placed.append(
                {
                    "sprite": str(path.relative_to(gameart)),
                    "sheet": name,
                    "box": None,
                    "cell": CELLS[n],
                    "loose": False,
                }
            )
    return placed


def distractors(gameart: Path, photos: Path | None, count: int, folder: Path) -> int:
    """Copy the distractor pictures under ``folder``; returns how many."""
    folder.mkdir()
    chosen = [p for p in image_files(gameart, exclude=("Tiles", "archives")) if "_packed" not in p.name]
    if photos is not None:
        chosen += image_files(photos, limit=count)
    for n, path in enumerate(chosen):
        (folder / f"{n:04d}{path.suffix.lower()}").write_bytes(path.read_bytes())
    return len(chosen)


def run(args: argparse.Namespace, config: str, work: Path, placed: list[dict[str, Any]]) -> dict[str, Any]:
    ingest: dict[str, Any] = {"workers": 1}
    if config != "default":
        ingest["tiles"] = config
    home = Path(tempfile.mkdtemp(dir=work, prefix=f"home-{config}-"))
    sheets = work / "data" / "sheets"
    with lookalike.open(home, ingest=ingest) as collection:
        began = time.perf_counter()
        collection.index([sheets])
        sheet_seconds = time.perf_counter() - began
        sheet_rows = int(collection.stats()["images"])
        collection.index([work / "data" / "loose", work / "data" / "distractors"])
        rows = int(collection.stats()["images"])
        ids = {}
        for path in sorted(sheets.iterdir()):
            whole = [
                i
                for i in collection.catalog.images.ids_at(str(path.resolve()))
                if collection.catalog.images.occurrences([i])[i][0].box is None
            ]
            ids[path.name] = whole[0]
        forms = ["sprite", "enlarged"] if args.enlarged else ["sprite"]
        found: dict[str, dict[str, int]] = {
            f: {"sheet": 0, "tile": 0, "either": 0, "loose": 0} for f in forms
        }
        loose_hits = {f: 0 for f in forms}
        seconds: list[float] = []
        for entry in placed:
            with Image.open(args.gameart / entry["sprite"]) as opened:
                image = opened.convert("RGBA")
            for form in forms:
                query = (
                    image
                    if form == "sprite"
                    else image.resize((image.width * 4,) * 2, Image.Resampling.NEAREST)
                )
                out = io.BytesIO()
                query.save(out, "PNG")
                began = time.perf_counter()
                results = collection.search(out.getvalue(), k=10)
                seconds.append(time.perf_counter() - began)
                sheet_id = ids[entry["sheet"]]
                as_sheet = any(r.image_id == sheet_id for r in results)
                as_tile = any(o.parent_id == sheet_id for r in results for o in r.occurrences)
                found[form]["sheet"] += as_sheet
                found[form]["tile"] += as_tile
                found[form]["either"] += as_sheet or as_tile
                if entry["loose"]:
                    found[form]["loose"] += as_sheet or as_tile
                    loose_hits[form] += 1
    n = len(placed)
    return {
        "config": config,
        "sheets": len(ids),
        "sheet_index_s": round(sheet_seconds, 2),
        "s_per_sheet": round(sheet_seconds / len(ids), 3),
        "rows_per_sheet": round(sheet_rows / len(ids), 1),
        "rows": rows,
        "queries": n,
        "search_p50_ms": round(1000 * float(np.median(seconds)), 1),
        "top10": {
            form: {
                "sheet": round(v["sheet"] / n, 3),
                "tile": round(v["tile"] / n, 3),
                "either": round(v["either"] / n, 3),
                "loose_either": round(v["loose"] / max(loose_hits[form], 1), 3),
            }
            for form, v in found.items()
        },
    }


def grid_ranks(folder: Path, placed: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the true grid of each sheet ranks among the grids that this checkout's detection tries
    (1: first; 0: not among them)."""
    from lookalike.sources.tiles import packed_grids

    cells = {e["sheet"]: e["cell"] for e in placed}
    ranks = {}
    for name, cell in sorted(cells.items()):
        with Image.open(folder / name) as opened:
            widths = [g.width for g in packed_grids(np.asarray(opened.convert("RGBA")))]
        ranks[name] = widths.index(cell) + 1 if cell in widths else 0
    values = list(ranks.values())
    return {
        "ranks": ranks,
        "first": sum(r == 1 for r in values),
        "top3": sum(1 <= r <= 3 for r in values),
        "sheets": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gameart", type=lambda text: Path(text).resolve(), required=True)
    parser.add_argument("--photos-dir", type=Path, default=None)
    parser.add_argument("--photos", type=int, default=200, help="Flickr photos among the distractors")
    parser.add_argument("--configs", default="default,off", help="comma-separated: default, off, auto, 32x32")
    parser.add_argument("--before", type=Path, default=None, help="another src folder, run alike")
    parser.add_argument("--before-configs", default=None, help="the configurations of --before (--configs)")
    parser.add_argument("--enlarged", action="store_true", help="also query each sprite enlarged 4x")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--sheets", choices=("generated", "kenney"), default="generated", help="packed here, or Kenney's own"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None, help="(internal) a built data folder to reuse")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        if args.work is None:
            made = build if args.sheets == "generated" else lambda art, where, _: kenney(art, where)
            placed = made(args.gameart, work / "data", args.seed)
            count = distractors(args.gameart, args.photos_dir, args.photos, work / "data" / "distractors")
            (work / "placed.json").write_text(json.dumps({"placed": placed, "distractors": count}))
        facts = json.loads((work / "placed.json").read_text())
        rows = [run(args, config, work, facts["placed"]) for config in args.configs.split(",")]
        if args.work is not None:  # the child of --before: hand the figures back
            print(json.dumps(rows))
            return
        before = _before(args, work) if args.before else []
        ranks = grid_ranks(work / "data" / "sheets", facts["placed"])
    report = {
        "machine": machine(),
        "load_average": load_average(),
        "sprites": len(facts["placed"]),
        "distractors": facts["distractors"],
        "after": rows,
        "before": before,
        "grid_ranks": ranks,
    }
    print_machine(report["machine"])
    print(
        f"{report['sprites']} sprites packed into {rows[0]['sheets']} sheets, {report['distractors']} distractors;"
        f" load {report['load_average']}"
    )
    headers = [
        "code",
        "config",
        "form",
        "sheet@10",
        "tile@10",
        "either@10",
        "loose",
        "rows/sheet",
        "s/sheet",
        "rows",
        "p50 ms",
    ]
    table = []
    for code, found in (("before", before), ("after", rows)):
        for row in found:
            for form, top in row["top10"].items():
                table.append(
                    [
                        code,
                        row["config"],
                        form,
                        top["sheet"],
                        top["tile"],
                        top["either"],
                        top["loose_either"],
                        row["rows_per_sheet"],
                        row["s_per_sheet"],
                        row["rows"],
                        row["search_p50_ms"],
                    ]
                )
    print_table(headers, table)
    print(
        f"the true grid ranked first for {ranks['first']} of {ranks['sheets']} sheets, among the 3 cut for"
        f" {ranks['top3']}: {ranks['ranks']}"
    )
    if args.json:
        write_json(str(args.json), report)


def _before(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    configs = args.before_configs or args.configs
    command = [
        sys.executable,
        __file__,
        "--gameart",
        str(args.gameart),
        "--configs",
        configs,
        "--work",
        str(work),
    ]
    command += ["--sheets", args.sheets] + (["--enlarged"] if args.enlarged else [])
    env = {**os.environ, "PYTHONPATH": str(args.before)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
