"""Copy detection: recall@1 and recall@10 of edited copies, lookalike against imagehash.phash.

DIR is indexed into a temporary collection (the real ``Collection.index``).
For up to ``--limit`` of its distinct images (evenly spaced, deterministic),
edited copies are made in memory and searched for:

    resize50   half width and height
    jpeg30     re-encoded as JPEG quality 30
    crop80     centred crop keeping 80% of the area
    crop50     centred crop keeping 50% of the area
    mirror     left-right flip
    rotate90   quarter turn (counter-clockwise)
    rotate5    5 degrees, canvas expanded (corners black, or transparent with alpha)
    bright130  brightness +30% (ImageEnhance.Brightness 1.3)
    grey       greyscale
    blur2      Gaussian blur, radius 2
    border10   white border on every side, 10% of the shorter side wide
    text       two lines of text in Pillow's default font, white with a black outline

and the edits where a plain search used to lose (``HARD_EDITS``, issue 14):

    inset      the picture at its own size inside a page twice as wide and 1.6 times as
               high (31% of the page): a title bar, lines of grey "text" and a coloured
               panel around it, like a screenshot of a page showing the photo
    crop40     crop keeping 40% of the area, off centre (30% of the slack from the left,
               70% from the top)
    rotate2    2 degrees, canvas expanded (likewise rotate3, rotate4)
    hue90      hue turned a quarter (90 degrees) with saturation and value kept, alpha kept:
               a palette swap of pixel art

Resizing and rotating use nearest-neighbour for PNG/GIF/BMP sources (pixel art
and graphics) and Lanczos / bicubic for photos (``--resample``).  A copy is
encoded in its source's format (JPEG quality 95, or PNG), except ``jpeg30``.

* **lookalike**: ``Collection.search(copy_bytes, k=10, collapse=False)`` with the
  default signals (phash + colour); the original is found at k when its image
  id is among the first k results.  ``--phash-variants mirror,dihedral`` also
  reopens the same collection with ``search.phash_variants = "dihedral"``;
  ``--signal-sets phash+colour,phash`` also searches with phash alone, which
  shows what the hash does by itself (in a small collection the colour
  histogram alone often singles out the original).
* **imagehash** (the baseline): ``imagehash.phash`` (hash_size 8) of every
  distinct original in the collection and of the copy, brute-force Hamming
  ranking.  Ties are common with 64 bits, so recall@k is the expected value
  under a random order of tied originals (no optimistic tie-breaking).

``--tiers`` measures the match tiers instead (see benchmarks/_tiers.py): the copy
tier's precision on at least 1,000 queries that match nothing, and its recall on edits.

Example::

    python benchmarks/copy_detection.py --images /data/photos --limit 200 --phash-variants mirror,dihedral
    python benchmarks/copy_detection.py --images ../shared/data/photos_flickr --limit 300 --tiers
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import image_files, machine, parse_settings, print_machine, print_table, warm_cache, write_json
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

import lookalike

LOSSLESS = ("PNG", "GIF", "BMP")
WHITE = (255, 255, 255, 255)


class Source:
    """An original, upright, in RGB or RGBA, with the resampling its kind calls for."""

    def __init__(self, data: bytes, resample: str) -> None:
        with Image.open(io.BytesIO(data)) as im:
            self.format = im.format or "PNG"
            upright = ImageOps.exif_transpose(im)
            alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            self.image = upright.convert("RGBA" if alpha else "RGB")
        lossless = self.format in LOSSLESS
        nearest = resample == "nearest" or (resample == "auto" and lossless)
        self.resize = Image.Resampling.NEAREST if nearest else Image.Resampling.LANCZOS
        self.rotate = Image.Resampling.NEAREST if nearest else Image.Resampling.BICUBIC
        self.out_format = "PNG" if lossless else "JPEG"

    def encode(self, im: Image.Image, fmt: str | None = None, quality: int = 95) -> bytes:
        fmt = fmt or self.out_format
        if fmt == "JPEG" and im.mode in ("RGBA", "LA"):
            flat = Image.new("RGBA", im.size, WHITE)
            flat.alpha_composite(im.convert("RGBA"))
            im = flat.convert("RGB")
        buffer = io.BytesIO()
        if fmt == "JPEG":
            im.save(buffer, "JPEG", quality=quality)
        else:
            im.save(buffer, fmt)
        return buffer.getvalue()


def _crop(im: Image.Image, area: float) -> Image.Image:
    w, h = im.size
    scale = area**0.5
    cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
    left, top = (w - cw) // 2, (h - ch) // 2
    return im.crop((left, top, left + cw, top + ch))


def _border(im: Image.Image) -> Image.Image:
    width = max(1, round(0.1 * min(im.size)))
    fill = WHITE if im.mode == "RGBA" else WHITE[:3]
    return ImageOps.expand(im, border=width, fill=fill)


def _text(im: Image.Image) -> Image.Image:
    out = im.copy()
    w, h = out.size
    size = max(8, h // 10)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(out)
    x, y = round(w * 0.05), round(h * 0.62)
    for line in ("(c) lookalike 2024", "do not copy"):
        draw.text(
            (x, y),
            line,
            font=font,
            fill=WHITE[: len(out.getbands())],
            stroke_width=max(1, size // 12),
            stroke_fill=(0, 0, 0, 255)[: len(out.getbands())],
        )
        y += round(size * 1.2)
    return out


def _offset_crop(im: Image.Image, area: float) -> Image.Image:
    w, h = im.size
    scale = area**0.5
    cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
    left, top = round((w - cw) * 0.3), round((h - ch) * 0.7)
    return im.crop((left, top, left + cw, top + ch))


def _inset(im: Image.Image) -> Image.Image:
    """``im`` at its own size on a page around it (31% of the page's area)."""
    w, h = im.size
    page_w, page_h = 2 * w, round(1.6 * h)
    mode = "RGBA" if im.mode == "RGBA" else "RGB"
    page = Image.new(mode, (page_w, page_h), (246, 246, 244, 255)[: len(mode)])
    draw = ImageDraw.Draw(page)
    bar = max(4, page_h // 12)
    draw.rectangle((0, 0, page_w, bar), fill=(40, 60, 110, 255)[: len(mode)])
    left, top = round(0.06 * page_w), bar + round(0.12 * h)
    step = max(3, h // 14)
    for line in range(int((page_h - top) / step)):  # lines of "text" right of the picture
        y = top + line * step
        length = round((0.3 + 0.1 * ((line * 7) % 4)) * w)
        draw.rectangle((left + w + w // 12, y, left + w + w // 12 + length, y + step // 3), fill=(120,) * 3)
    if top + h + step < page_h - step:  # a panel under it
        draw.rectangle((left, top + h + step, left + w, page_h - step), fill=(200, 120, 60, 255)[: len(mode)])
    page.paste(im, (left, top), im if im.mode == "RGBA" else None)
    return page


def _hue(im: Image.Image, turn: float) -> Image.Image:
    """``im`` with its hue turned by ``turn`` of a full circle (saturation, value, alpha kept)."""
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    h, s, v = im.convert("RGB").convert("HSV").split()
    h = h.point(lambda x: (x + round(256 * turn)) % 256)
    out = Image.merge("HSV", (h, s, v)).convert("RGB")
    if alpha is not None:
        out.putalpha(alpha)
    return out


def _grey(src: Source) -> bytes:
    return src.encode(src.image.convert("LA" if src.image.mode == "RGBA" else "L"))


EDITS: dict[str, Callable[[Source], bytes]] = {
    "resize50": lambda s: s.encode(
        s.image.resize((max(1, s.image.width // 2), max(1, s.image.height // 2)), s.resize)
    ),
    "jpeg30": lambda s: s.encode(s.image, "JPEG", quality=30),
    "crop80": lambda s: s.encode(_crop(s.image, 0.8)),
    "crop50": lambda s: s.encode(_crop(s.image, 0.5)),
    "mirror": lambda s: s.encode(ImageOps.mirror(s.image)),
    "rotate90": lambda s: s.encode(s.image.transpose(Image.Transpose.ROTATE_90)),
    "rotate5": lambda s: s.encode(s.image.rotate(5, resample=s.rotate, expand=True)),
    "bright130": lambda s: s.encode(ImageEnhance.Brightness(s.image).enhance(1.3)),
    "grey": _grey,
    "blur2": lambda s: s.encode(s.image.filter(ImageFilter.GaussianBlur(2))),
    "border10": lambda s: s.encode(_border(s.image)),
    "text": lambda s: s.encode(_text(s.image)),
}


#: Edits where a plain search used to lose (issue 14); kept apart from ``EDITS``, which
#: benchmarks/calibrate.py fits the calibration on.
HARD_EDITS: dict[str, Callable[[Source], bytes]] = {
    "inset": lambda s: s.encode(_inset(s.image)),
    "crop40": lambda s: s.encode(_offset_crop(s.image, 0.4)),
    "rotate2": lambda s: s.encode(s.image.rotate(2, resample=s.rotate, expand=True)),
    "rotate3": lambda s: s.encode(s.image.rotate(3, resample=s.rotate, expand=True)),
    "rotate4": lambda s: s.encode(s.image.rotate(4, resample=s.rotate, expand=True)),
    "hue90": lambda s: s.encode(_hue(s.image, 0.25)),
}
ALL_EDITS = {**EDITS, **HARD_EDITS}


def _ihash(data: bytes) -> int | None:
    import imagehash

    try:
        with Image.open(io.BytesIO(data)) as im:
            bits = imagehash.phash(im).hash.flatten()
    except Exception:
        return None
    return int("".join("1" if b else "0" for b in bits), 2)


def expected_found(distances: np.ndarray, own: int, k: int) -> float:
    """Chance the original (row ``own``) is in the top k when tied rows come in random order."""
    d = distances[own]
    closer = int(np.count_nonzero(distances < d))
    ties = int(np.count_nonzero(distances == d)) - 1
    if closer >= k:
        return 0.0
    return min(1.0, (k - closer) / (ties + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, required=True, help="folder of images (searched recursively)")
    parser.add_argument(
        "--limit", type=int, default=200, help="originals to edit (evenly spaced); default 200"
    )
    parser.add_argument("--exclude", action="append", default=[], help="sub-folder name to skip (repeatable)")
    parser.add_argument(
        "--edits", default=",".join(ALL_EDITS), help="comma-separated edits to run (default: all)"
    )
    parser.add_argument(
        "--phash-variants",
        default="mirror",
        help="comma-separated search.phash_variants to run: mirror,dihedral",
    )
    parser.add_argument(
        "--signal-sets",
        default="phash+colour",
        help="comma-separated signal sets to search with, signals joined by '+' (default phash+colour)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="LABEL:KEY=VALUE;...",
        help="a lookalike column of its own: settings to index and search with, ';'-separated "
        "(e.g. 'before:search.local_fallback=false'); repeatable; replaces --phash-variants/--signal-sets",
    )
    parser.add_argument("--resample", choices=["auto", "nearest", "smooth"], default="auto")
    parser.add_argument(
        "--tiers",
        action="store_true",
        help="measure the match tiers instead: copy-tier precision on non-matching queries, recall on edits",
    )
    parser.add_argument(
        "--tier-positives", type=int, default=150, help="originals whose copies --tiers queries"
    )
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()), help="temp collections")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the figures as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)

    edits = args.edits.split(",")
    unknown = [e for e in edits if e not in ALL_EDITS]
    if unknown:
        parser.error(f"unknown edit(s): {', '.join(unknown)}")
    variants = args.phash_variants.split(",")
    signal_sets = [tuple(group.split("+")) for group in args.signal_sets.split(",")]
    configs = [(v, sigs) for sigs in signal_sets for v in variants]
    facts = machine()
    print_machine(facts)
    files = image_files(args.images, args.exclude)
    warm_cache(files)
    home = Path(tempfile.mkdtemp(prefix="copies-", dir=args.scratch))
    try:
        if args.tiers:
            from _tiers import print_tiers, run_tiers

            figures = run_tiers(files, home, args.limit, args.tier_positives)
            print_tiers(figures, args.markdown)
            if args.json:
                write_json(args.json, {"machine": facts, "tiers": figures})
            return 0
        return _run(args, facts, files, home, edits, configs)
    finally:
        shutil.rmtree(home, ignore_errors=True)


class Run:
    """One lookalike column: the settings a collection is indexed with, and those it is searched with."""

    def __init__(self, label: str, settings: dict[str, Any], signals: tuple[str, ...] | None = None) -> None:
        self.label, self.signals = label, signals
        self.settings = settings
        self.ingest = {k: v for k, v in settings.items() if k != "search"}  # what indexing depends on
        self.key = json.dumps(self.ingest, sort_keys=True)


def _runs(args: Any, configs: list[tuple[str, tuple[str, ...]]]) -> list[Run]:
    """``--config LABEL:KEY=VALUE;KEY=VALUE`` columns, else phash_variants x signal sets."""
    if args.config:
        runs = []
        for given in args.config:
            label, _, pairs = given.partition(":")
            runs.append(Run(label, parse_settings([p for p in pairs.split(";") if p])))
        return runs
    return [
        Run(f"{variant}/{'+'.join(sigs)}", {"search": {"phash_variants": variant}}, sigs)
        for variant, sigs in configs
    ]


def _run(
    args: Any,
    facts: dict[str, Any],
    files: list[Path],
    home: Path,
    edits: list[str],
    configs: list[tuple[str, tuple[str, ...]]],
) -> int:
    runs = _runs(args, configs)
    labels = [r.label for r in runs]
    homes: dict[str, Path] = {}
    truth: dict[str, dict[Path, int]] = {}  # collection key -> original file -> its image id there
    for run in runs:
        if run.key in homes:
            continue
        homes[run.key] = home / f"c{len(homes)}"
        t0 = time.perf_counter()
        with lookalike.open(homes[run.key], **run.ingest) as col:
            report = col.index(files, retire=False)
            # one file per distinct usable image, in file order
            first: dict[int, Path] = {}
            for path in files:
                for image_id in col.catalog.images.ids_at(str(path)):
                    info = col.catalog.images.get(image_id)
                    if info is not None and info.status == "ok":
                        first.setdefault(image_id, path)
        truth[run.key] = {path: i for i, path in first.items()}
        print(
            f"indexed {len(files)} files under {args.images} in {time.perf_counter() - t0:.1f}s "
            f"({run.ingest or 'default settings'}): {len(first)} distinct usable images ({report.failed} failed)"
        )
    originals = list(truth[runs[0].key])

    # baseline: imagehash of every distinct original
    hashes = {p: _ihash(p.read_bytes()) for p in originals}
    base_paths = [p for p in originals if hashes[p] is not None]
    base_codes = np.array([hashes[p] for p in base_paths], dtype=np.uint64)
    base_pos = {p: j for j, p in enumerate(base_paths)}

    step = max(1, len(originals) / max(1, args.limit))
    chosen = [originals[int(j * step)] for j in range(min(args.limit, len(originals)))]
    print(f"{len(chosen)} originals x {len(edits)} edits; lookalike runs: {', '.join(labels)}\n")

    copies: dict[str, list[tuple[Path, bytes]]] = {e: [] for e in edits}
    skipped: dict[str, int] = {e: 0 for e in edits}
    for path in chosen:
        try:
            src = Source(path.read_bytes(), args.resample)
        except Exception:
            for e in edits:
                skipped[e] += 1
            continue
        for e in edits:
            try:
                copies[e].append((path, ALL_EDITS[e](src)))
            except Exception:
                skipped[e] += 1

    results: dict[str, dict[str, Any]] = {e: {"copies": len(copies[e]), "skipped": skipped[e]} for e in edits}
    for e in edits:  # imagehash
        found1 = found10 = 0.0
        for path, data in copies[e]:
            h = _ihash(data)
            if h is None or path not in base_pos:
                continue
            d = np.bitwise_count(base_codes ^ np.uint64(h))
            found1 += expected_found(d, base_pos[path], 1)
            found10 += expected_found(d, base_pos[path], 10)
        n = max(1, len(copies[e]))
        results[e]["imagehash"] = {"r1": found1 / n, "r10": found10 / n}

    for run in runs:  # lookalike
        ids = truth[run.key]
        with lookalike.open(homes[run.key], **run.settings) as col:
            warm = next((c[0][1] for c in copies.values() if c), None)
            if warm is not None:  # not timed: opens the indexes
                col.search(warm, k=10, signals=run.signals, collapse=False)
            for e in edits:
                hit1 = hit10 = errors = 0
                times = []
                tiers: dict[str, int] = {}
                for path, data in copies[e]:
                    t = time.perf_counter()
                    try:
                        hits = col.search(data, k=10, signals=run.signals, collapse=False)
                    except lookalike.LookalikeError:
                        errors += 1
                        continue
                    times.append(time.perf_counter() - t)
                    found = [r.image_id for r in hits]
                    hit1 += bool(found[:1] == [ids.get(path)])
                    hit10 += ids.get(path) in found
                    if found[:1] == [ids.get(path)] and hits[0].match is not None:
                        tiers[hits[0].match.tier.value] = tiers.get(hits[0].match.tier.value, 0) + 1
                n = max(1, len(copies[e]))
                results[e][f"lookalike {run.label}"] = {
                    "r1": hit1 / n,
                    "r10": hit10 / n,
                    "errors": errors,
                    "mean_ms": 1000 * sum(times) / max(1, len(times)),
                    "tiers_at_1": tiers,
                }

    headers = ["edit", "copies"]
    for label in labels:
        headers += [f"{label} R@1", "R@10"]
    headers += ["imagehash R@1", "R@10", "R@1 diff"]
    rows = []
    for e in edits:
        r = results[e]
        row: list[Any] = [e, r["copies"]]
        for label in labels:
            row += [r[f"lookalike {label}"]["r1"], r[f"lookalike {label}"]["r10"]]
        row += [r["imagehash"]["r1"], r["imagehash"]["r10"]]
        row += [f"{r[f'lookalike {labels[0]}']['r1'] - r['imagehash']['r1']:+.2f}"]
        rows.append(row)
    mean: list[Any] = ["mean of edits", sum(results[e]["copies"] for e in edits)]
    for label in labels:
        mean += [float(np.mean([results[e][f"lookalike {label}"][m] for e in edits])) for m in ("r1", "r10")]
    mean += [float(np.mean([results[e]["imagehash"][m] for e in edits])) for m in ("r1", "r10")]
    mean += [f"{mean[2] - mean[2 + 2 * len(labels)]:+.2f}"]
    rows.append(mean)
    print("R@1 diff = first lookalike column - imagehash")
    print_table(headers, rows, markdown=args.markdown)
    failures = {label: sum(results[e][f"lookalike {label}"]["errors"] for e in edits) for label in labels}
    if any(failures.values()) or any(skipped.values()):
        print(f"lookalike search errors (counted as not found): {failures}; copies not made: {skipped}")
    for label in labels:
        ms = np.mean([results[e][f"lookalike {label}"]["mean_ms"] for e in edits])
        print(f"lookalike [{label}] mean search time per copy: {ms:.1f} ms")

    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "copy_detection",
                "machine": facts,
                "images": str(args.images),
                "indexed_files": len(files),
                "distinct_images": len(originals),
                "settings": {run.label: run.settings for run in runs},
                "originals": len(chosen),
                "lookalike_runs": labels,
                "results": results,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
