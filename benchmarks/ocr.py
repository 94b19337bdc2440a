"""OCR: how well the ``ocr`` signal reads text in images, finds it by words, and what it costs.

What is measured, on a test set this script generates (seeded, so every run draws the same set):

* **The test set.** Words and short phrases drawn onto real photos (``--images``; each photo is
  used once, so no two generated images look alike) in several fonts (Pillow's bundled
  ``ImageFont.load_default`` plus TrueType fonts found under ``--fonts``), text heights
  (``--heights``: ink height of "Hg", cap top to descender, in pixels of the file), colours and
  styles (plain colour chosen for contrast, outlined, on a banner) and angles (``--angles``),
  saved as JPEG quality 90; and plain "screenshots" (PNG, 480-1280 px wide, dark text on a light
  background, UI-like rows: title bar, labels, a button), always horizontal.  The ground truth
  (lines, height, angle, font, style) is kept per image.
* **Accuracy** (``--parts accuracy``), for each ``--variant`` side by side (default: lookalike's
  rapidocr engine and Tesseract): every image goes through ``lookalike.ingest.pipeline.extract_many``
  with the ``Ocr`` signal, exactly as ingest runs it (decode, the OCR view, ``ocr.min_confidence``).
  CER: Levenshtein distance between the ground truth and the lines read inside the box the text
  was drawn in (the photos hold signs, captions and watermarks of their own), both lower case,
  whitespace collapsed, read lines in reading order of the drawn angle, over the ground-truth
  length, summed over images.  Word recall: the share of each image's ground-truth words
  (lookalike's own tokens) found among the words read anywhere in it, which is what keyword
  search can find.  Broken down by height band (in the file, and in the view OCR reads), angle,
  kind, style and font.  The target: word recall >= 0.9 on horizontal text of at least 16 px.
  A variant is an engine name or ``NAME:key=value,...`` with lookalike settings, plus this
  script's own diagnostic switches ``bench.bgr``, ``bench.no_cls`` and ``bench.det_size``.
* **Search** (``--parts search``): the generated images plus ``--distractors`` photos without
  drawn text are indexed into a temp collection (ingest.signals phash, colour, ocr); each
  ground-truth word of at least 5 letters is queried with ``Collection.search(text=..., k=10)``
  with 0, 1 and 2 typos (seeded substitution, transposition or deletion; the typo'd word is
  exactly that many edits away).  recall@10 = relevant images in the top 10 / min(relevant, 10),
  averaged over words; relevant = generated images holding the word.  Also over the words OCR
  read (the search's own share), with the misses sorted by cause.  Target: >= 0.95 with one typo.
* **Speed** (``--parts speed``): wall and CPU time of ``Ocr.read`` on decoded images (decode not
  counted), images with text and photos without drawn text, with ``ocr.threads`` 1 and 2
  (Tesseract: ``OMP_THREAD_LIMIT``; lookalike's Tesseract engine ignores ``ocr.threads``).  CPU
  time includes Tesseract's child processes.  "Detection only": photos on which nothing was read
  (RapidOCR detects first and recognises only where it found text).  Target: <= 60 ms each on
  one core.
* **Index cost** (``--parts index``): a full ``Collection.index`` of the first ``--limit`` files of
  ``--images`` into fresh collections, ingest.signals phash+colour with and without ocr, for each
  ``--workers``; and ``Collection.backfill(["ocr"])`` over the collection indexed without it.

Timings on a shared machine are noisy; the load average is printed.  Figures are single runs.

Example::

    python benchmarks/ocr.py --images ../shared/data/photos_flickr/images --parts accuracy,search
    python benchmarks/ocr.py --images ../shared/data/photos_flickr/images --parts speed,index --limit 150
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import (
    image_files,
    load_average,
    machine,
    merge,
    parse_settings,
    percentile,
    print_machine,
    print_table,
    warm_cache,
    write_json,
)
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import OSA, Levenshtein

import lookalike
from lookalike.decode import decode
from lookalike.ingest.extract import extract_many
from lookalike.records import TextField
from lookalike.search.words import edits_for, tokens
from lookalike.settings import Settings, load_settings
from lookalike.signals.ocr import Ocr, make_engine

WORDS = """
about above account action address advice afternoon airport almost already animal answer apple
april autumn balance banana basket battery beach beautiful bedroom believe between bicycle
birthday blanket bottle bridge brother budget building butter button cabinet calendar camera
candle capital captain carpet castle celebrate central century chapter cheese chicken children
chocolate church circle classic climate closed coffee collection colour comfort company concert
contact copper corner cotton country courage cousin crystal culture current dance danger daughter
decision delivery desert design dinner doctor dragon dream driver during early eastern editor
electric elephant energy engine evening example family farmer father festival field finger flower
forest fountain friday friend future galaxy garden garlic gentle giant golden government
grandmother harbour harvest health heaven history holiday honey horizon hospital hotel hunter
island jacket journey jungle kitchen knowledge ladder language laptop leather lemon letter library
light lighthouse listen little lobster machine magazine market marriage meadow medicine member
memory message method middle minute mirror modern monday monkey morning mountain museum music
nature network night number ocean office orange orchestra orchid oxygen palace paper parade parent
passenger pepper picture planet pocket police potato powder public purple puzzle quarter question
rabbit railway rainbow record river rocket saturday school science season secret server shadow
silver sister sketch snowman soldier spring square station stone storm street student summer
sunday sunset supper surprise teacher temple thunder ticket tiger tomato tonight tower traffic
travel treasure tuesday umbrella uniform valley vanilla village violin volcano wallet water
weather wedding welcome window winter wisdom wonder yellow yesterday
""".split()  # noqa: SIM905

UI_WORDS = """
account advanced appearance archive backup browse cancel changes confirm connect continue
dashboard delete details disable display download duplicate enable export favourites filter folder
general history import install language logout message network notifications options password
preferences preview print privacy profile recent refresh remove rename restore search security
settings share storage submit support sync update upload username version
""".split()  # noqa: SIM905

SHORT = """
a an at by in is it of on or to up we and are but for new now off out the
""".split()  # noqa: SIM905

#: TrueType fonts tried under --fonts, by file name (whichever exist): sans, serif, mono, bold, italic.
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansCondensed-Oblique.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationSerif-Italic.ttf",
    "LiberationSansNarrow-Regular.ttf",
    "LiberationMono-Regular.ttf",
)
SANS = (
    "pillow-default",
    "DejaVuSans",
    "DejaVuSans-Bold",
    "LiberationSans-Regular",
    "LiberationSans-Bold",
    "DejaVuSansMono",
    "LiberationSansNarrow-Regular",
    "LiberationMono-Regular",
)

PALETTE = {
    "white": (255, 255, 255),
    "black": (15, 15, 15),
    "yellow": (255, 221, 0),
    "red": (220, 30, 30),
    "blue": (25, 60, 200),
    "green": (20, 160, 60),
    "orange": (255, 140, 0),
    "cyan": (0, 220, 255),
}
UI_TEXT = {"near-black": (32, 32, 32), "dark grey": (85, 85, 85), "link blue": (26, 77, 153)}
UI_BACKGROUNDS = [(255, 255, 255), (245, 245, 245), (238, 242, 247)]
BANDS = ((0, 16, "<16 px"), (16, 24, "16-23 px"), (24, 36, "24-35 px"), (36, 10_000, "36+ px"))
WORD_RECALL_TARGET, SEARCH_TARGET, DETECT_TARGET_MS = 0.9, 0.95, 60.0


# ---- the generated test set ---------------------------------------------------------------


@dataclass
class Item:
    """One generated image and its ground truth."""

    file: str
    kind: str  # photo | screenshot
    height: int  # ink height of "Hg" in pixels of the file
    angle: int
    font: str
    style: str
    colour: str
    lines: list[str]
    size: tuple[int, int] = (0, 0)
    base: str = ""  # the photo it was drawn on
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # where the text was drawn, unit box
    read: dict[str, list[TextField]] = field(default_factory=dict)  # variant -> lines read

    @property
    def words(self) -> list[str]:
        return list(dict.fromkeys(tokens(" ".join(self.lines))))


class Fonts:
    """Font loaders by name, and the point size that gives a wanted ink height."""

    def __init__(self, folder: Path | None) -> None:
        self.loaders: dict[str, Callable[[int], Any]] = {
            "pillow-default": lambda size: ImageFont.load_default(size=size)
        }
        found = {p.name: p for p in folder.rglob("*.ttf")} if folder and folder.is_dir() else {}
        for name in FONT_FILES:
            if name in found:
                self.loaders[name.removesuffix(".ttf")] = partial(ImageFont.truetype, str(found[name]))
        self._ratio: dict[str, float] = {}

    @property
    def names(self) -> list[str]:
        return list(self.loaders)

    def for_height(self, name: str, height: int) -> Any:
        if name not in self._ratio:
            box = self.loaders[name](100).getbbox("Hg")
            self._ratio[name] = (box[3] - box[1]) / 100
        return self.loaders[name](max(4, round(height / self._ratio[name])))


def _phrase(rng: random.Random, pool: Sequence[str], fits: Callable[[str], bool], most: int) -> str:
    """1 to ``most`` words, the first always a long one, as many as fit; with a case style."""
    words = [rng.choice(pool)]
    for _ in range(rng.randint(0, most - 1)):
        nxt = rng.choice(SHORT) if rng.random() < 0.25 else rng.choice(pool)
        if not fits(" ".join([*words, nxt])):
            break
        words.append(nxt)
    text = " ".join(words)
    case = rng.random()
    return (
        text.upper()
        if case < 0.25
        else text.title()
        if case < 0.6
        else text.capitalize()
        if case < 0.8
        else text
    )


def _luminance(rgb: Sequence[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(float(v)) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: Sequence[float], b: Sequence[float]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _text_layer(
    lines: list[str],
    font: Any,
    height: int,
    fill: tuple[int, ...],
    stroke: int,
    stroke_fill: tuple[int, ...] | None,
    banner: tuple[int, ...] | None,
) -> Image.Image:
    """The lines drawn on a transparent layer, left-aligned, 1.6 heights apart."""
    pad = max(4, height // 3) + stroke
    widths = [font.getbbox(line, stroke_width=stroke)[2] for line in lines]
    top = font.getbbox("Hg")[1]
    step = round(height * 1.6)
    layer = Image.new(
        "RGBA", (max(widths) + 2 * pad, step * (len(lines) - 1) + height + 2 * pad), (0, 0, 0, 0)
    )
    draw = ImageDraw.Draw(layer)
    if banner:
        draw.rectangle((0, 0, layer.width - 1, layer.height - 1), fill=banner)
    for i, line in enumerate(lines):
        draw.text(
            (pad, pad + i * step - top),
            line,
            font=font,
            fill=fill,
            stroke_width=stroke,
            stroke_fill=stroke_fill,
        )
    return layer


def _on_photo(
    rng: random.Random,
    photo: Path,
    index: int,
    height: int,
    angle: int,
    font_name: str,
    fonts: Fonts,
    out: Path,
) -> Item | None:
    with Image.open(photo) as im:
        base = im.convert("RGB")
    w, h = base.size
    font = fonts.for_height(font_name, height)
    rad = math.radians(abs(angle))

    def fits(text: str) -> bool:
        tw = font.getbbox(text)[2] + height
        th = height * 3
        return bool(
            tw * math.cos(rad) + th * math.sin(rad) <= 0.92 * w and tw * math.sin(rad) + th <= 0.85 * h
        )

    lines = [_phrase(rng, WORDS, fits, 3)]
    if not fits(lines[0]):
        return None
    if rng.random() < 0.4 and (2 * 1.6 + 1) * height * math.cos(rad) < 0.6 * h:
        lines.append(_phrase(rng, WORDS, fits, 3))
    style = ("plain", "outline", "banner")[index % 3]
    stroke, stroke_fill, banner = 0, None, None
    if style == "outline":
        colour = rng.choice(["white", "yellow"])
        stroke, stroke_fill = max(1, round(height / 12)), (0, 0, 0)
    elif style == "banner":
        dark = rng.random() < 0.6
        colour = "white" if dark else "black"
        banner = (0, 0, 0, 160) if dark else (255, 255, 255, 190)
    else:
        colour = "?"  # chosen below, for contrast with where the text goes
    layer = _text_layer(
        lines, font, height, (*PALETTE.get(colour, (0, 0, 0)), 255), stroke, stroke_fill, banner
    )
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    if layer.width > w or layer.height > h:
        return None
    x, y = rng.randint(0, w - layer.width), rng.randint(0, h - layer.height)
    if style == "plain":  # a colour a reader can see against the mean background under the text
        mean = np.asarray(base.crop((x, y, x + layer.width, y + layer.height))).reshape(-1, 3).mean(axis=0)
        good = [n for n, c in PALETTE.items() if _contrast(c, mean) >= 3.0]
        colour = rng.choice(good) if good else max(PALETTE, key=lambda n: _contrast(PALETTE[n], mean))
        layer = _text_layer(lines, font, height, PALETTE[colour] + (255,), 0, None, None)
        layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    base.paste(layer, (x, y), layer)
    name = f"p{index:04d}.jpg"
    base.save(out / name, quality=90)
    region = (x / w, y / h, (x + layer.width) / w, (y + layer.height) / h)
    return Item(name, "photo", height, angle, font_name, style, colour, lines, (w, h), photo.name, region)


def _screenshot(rng: random.Random, index: int, height: int, font_name: str, fonts: Fonts, out: Path) -> Item:
    w = rng.choice([480, 640, 800, 1024, 1280])
    h = round(w * 0.625)
    bg = rng.choice(UI_BACKGROUNDS)
    colour = rng.choice(list(UI_TEXT))
    font = fonts.for_height(font_name, height)
    top = font.getbbox("Hg")[1]
    im = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(im)
    margin = max(12, height)

    def fits(text: str) -> bool:
        return bool(font.getbbox(text)[2] + 2 * margin + height <= w)

    step = round(height * 2.2)
    rows = max(1, min(6, (h - 2 * margin) // step))
    lines: list[str] = []
    bar = (224, 224, 224) if bg == (255, 255, 255) else (210, 214, 220)
    draw.rectangle((0, 0, w, margin + step - height // 2), fill=bar)
    for row in range(rows):
        text = _phrase(rng, UI_WORDS if row % 2 == 0 else WORDS, fits, 4)
        if not fits(text):
            text = text.split()[0]
            if not fits(text):
                continue
        y = margin + row * step
        x = margin + (height if row > 0 and row % 3 == 1 else 0)  # indented items, like a menu
        fill = UI_TEXT[colour]
        if row == rows - 1 and rows > 2:  # a button: outlined box round the last label
            tw = font.getbbox(text)[2]
            draw.rounded_rectangle(
                (x - height // 2, y - height // 3, x + tw + height // 2, y + height + height // 3),
                radius=max(2, height // 4),
                outline=(136, 136, 136),
                width=max(1, height // 16),
            )
        draw.text((x, y - top), text, font=font, fill=fill)
        lines.append(text)
    name = f"s{index:04d}.png"
    im.save(out / name)
    return Item(name, "screenshot", height, 0, font_name, "ui", colour, lines, (w, h))


def make_set(
    photos: list[Path],
    n_photos: int,
    n_screens: int,
    heights: list[int],
    angles: list[int],
    fonts: Fonts,
    out: Path,
    seed: int,
) -> list[Item]:
    """The generated images in ``out`` and their ground truth; each photo is used at most once."""
    rng = random.Random(seed)
    combos = [(hgt, ang) for hgt in heights for ang in angles]
    order = [combos[i % len(combos)] for i in range(n_photos)]
    rng.shuffle(order)
    items: list[Item] = []
    pool = iter(photos)
    for i, (hgt, ang) in enumerate(order):
        for photo in pool:  # a photo too small for the text is passed over
            made = _on_photo(rng, photo, i, hgt, ang, fonts.names[i % len(fonts.names)], fonts, out)
            if made is not None:
                items.append(made)
                break
    sans = [n for n in fonts.names if n in SANS] or fonts.names
    sizes = [heights[i % len(heights)] for i in range(n_screens)]
    rng.shuffle(sizes)
    for i, hgt in enumerate(sizes):
        items.append(_screenshot(rng, i, hgt, sans[i % len(sans)], fonts, out))
    return items


# ---- variants and reading -----------------------------------------------------------------


@dataclass
class Variant:
    """An engine with settings: ``NAME`` (an engine) or ``NAME:key=value,key=value``."""

    name: str
    overrides: dict[str, Any]
    bgr: bool = False  # bench.bgr: hand the engine BGR pixels (what RapidOCR expects of an array)
    no_cls: bool = False  # bench.no_cls: RapidOCR without its 0/180 degree direction classifier
    det_size: int = 0  # bench.det_size: RapidOCR detects on a view this long, reads crops of the full one

    @classmethod
    def parse(cls, spec: str, base: dict[str, Any]) -> Variant:
        name, _, rest = spec.partition(":")
        pairs = [p for p in rest.split(",") if p]
        tree = parse_settings(pairs)
        bench = tree.pop("bench", {})
        if name in ("rapidocr", "tesseract"):
            tree = merge({"ocr": {"engine": name}}, tree)
        return cls(
            name,
            merge(base, tree),
            bool(bench.get("bgr")),
            bool(bench.get("no_cls")),
            int(bench.get("det_size", 0)),
        )

    def settings(self, threads: int = 1, **extra: Any) -> Settings:
        return load_settings(**merge(merge(self.overrides, {"ocr": {"threads": threads}}), extra))

    def signal(self, settings: Settings) -> Ocr:
        if settings.ocr.engine == "tesseract":
            os.environ["OMP_THREAD_LIMIT"] = str(settings.ocr.threads or os.cpu_count() or 1)
        engine = make_engine(settings.ocr, settings.models.folder / "rapidocr")
        if self.no_cls:
            engine._ocr.use_cls = False  # type: ignore[attr-defined]
        if self.det_size:
            engine._ocr._load_det_model().limit_side_len = self.det_size  # type: ignore[attr-defined]
        if self.bgr:
            engine = _Swapped(engine)
        return Ocr(settings.ocr, engine)


class _Swapped:
    def __init__(self, engine: Any) -> None:
        self.engine, self.name, self.models = engine, engine.name + "+bgr", engine.models

    def read(self, rgb: np.ndarray) -> Any:
        return self.engine.read(np.ascontiguousarray(rgb[..., ::-1]))


def read_set(items: list[Item], folder: Path, variant: Variant) -> float:
    """Every item through ``extract_many`` with the variant's OCR signal; seconds taken."""
    settings = variant.settings()
    signals = {"ocr": variant.signal(settings)}
    t0 = time.perf_counter()
    for item in items:
        data = (folder / item.file).read_bytes()
        (ex,) = extract_many(
            [(hashlib.sha256(data).hexdigest(), data, item.file)], settings, signals, tiles=False
        )
        item.read[variant.name] = list(ex.texts.get("ocr", ())) if ex.failure is None else []
    return time.perf_counter() - t0


def reading_order(
    fields: Iterable[TextField], angle: float = 0.0, size: tuple[int, int] = (1, 1)
) -> list[str]:
    """Lines top to bottom, those on one row left to right (boxes are unit quads), in the frame of
    text drawn ``angle`` degrees anticlockwise (its boxes are turned back first)."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    placed = []
    for f in fields:
        b = f.box or (0, 1, 0, 1, 0, 1, 0, 1)
        px, py = [v * size[0] for v in b[0::2]], [v * size[1] for v in b[1::2]]
        xs = [x * cos - y * sin for x, y in zip(px, py, strict=True)]
        ys = [x * sin + y * cos for x, y in zip(px, py, strict=True)]
        placed.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), f.text))
    placed.sort()
    rows: list[list[tuple[float, float, float, str]]] = []
    for p in placed:
        if rows and abs(p[0] - rows[-1][0][0]) < 0.5 * max(min(p[1], rows[-1][0][1]), 1e-6):
            rows[-1].append(p)
        else:
            rows.append([p])
    return [p[3] for row in rows for p in sorted(row, key=lambda q: q[2])]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _inside(f: TextField, region: tuple[float, float, float, float]) -> bool:
    """Whether a line's centre lies in the region the text was drawn in (photos hold text of their own)."""
    if not f.box:
        return True
    cx, cy = sum(f.box[0::2]) / 4, sum(f.box[1::2]) / 4
    return region[0] - 0.01 <= cx <= region[2] + 0.01 and region[1] - 0.01 <= cy <= region[3] + 0.01


def score(item: Item, variant: str) -> dict[str, Any]:
    """CER over the lines read where the text was drawn; word recall over every word read."""
    fields = item.read.get(variant, [])
    inside = [f for f in fields if _inside(f, item.region)]
    truth = _norm(" ".join(item.lines))
    read = _norm(" ".join(reading_order(inside, item.angle, item.size)))
    seen = set(tokens(" ".join(f.text for f in fields)))
    words = item.words
    return {
        "distance": Levenshtein.distance(truth, read),
        "chars": len(truth),
        "words": len(words),
        "found": sum(w in seen for w in words),
        "images": 1,
        "exact": int(truth == read),
        "lines_elsewhere": len(fields) - len(inside),
    }


def band(height: float) -> str:
    return next(label for lo, hi, label in BANDS if lo <= height < hi)


def effective_height(item: Item, work_size: int) -> float:
    """The text's height in the view OCR reads: ingest decodes to decode.work_size at most."""
    return item.height * min(1.0, work_size / max(item.size))


def accuracy_tables(items: list[Item], variants: list[Variant], markdown: bool) -> dict[str, Any]:
    def total(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
        acc: dict[str, Any] = defaultdict(int)
        for r in rows:
            for k, v in r.items():
                acc[k] += v
        acc["cer"] = acc["distance"] / acc["chars"] if acc["chars"] else float("nan")
        acc["word_recall"] = acc["found"] / acc["words"] if acc["words"] else float("nan")
        return dict(acc)

    scored = {v.name: [score(it, v.name) for it in items] for v in variants}
    work = {v.name: v.settings().decode.work_size for v in variants}
    groupings: dict[str, Callable[[Item, str], str]] = {
        "height band (in the file)": lambda it, v: band(it.height),
        "height band (in the view OCR reads)": lambda it, v: band(effective_height(it, work[v])),
        "angle": lambda it, v: f"{it.angle:+d}" if it.angle else "0",
        "kind": lambda it, v: it.kind,
        "style": lambda it, v: it.style,
        "font": lambda it, v: it.font,
        "target: horizontal, >= 16 px": lambda it, v: (
            f"{it.kind}" if it.angle == 0 and it.height >= 16 else ""
        ),
    }
    out: dict[str, Any] = {"overall": {}, "by": {}}
    headers = ["group", "images"]
    for v in variants:
        headers += [f"{v.name} CER", f"{v.name} word recall"]
    print(f"Accuracy on {len(items)} generated images (CER: lower is better; word recall: higher)")
    print(
        "CER counts the lines read inside the box the text was drawn in (the photos hold signs, captions and\n"
        "watermarks of their own); word recall counts every word read anywhere in the image."
    )
    overall_row = ["all", len(items)]
    for v in variants:
        t = total(scored[v.name])
        out["overall"][v.name] = t
        overall_row += [t["cer"], t["word_recall"]]
        print(
            f"{v.name}: {t['exact']} of {len(items)} images read exactly; {t['lines_elsewhere']} lines read "
            "outside the drawn text (text the photos hold, or misplaced boxes)"
        )
    print_table(headers, [overall_row], markdown)
    for title, key in groupings.items():
        groups: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for v in variants:
            for it, s in zip(items, scored[v.name], strict=True):
                g = key(it, v.name)
                if g:
                    groups[g][v.name].append(s)
        if title.startswith("target"):
            for g in list(groups):
                for v in variants:
                    groups["all"][v.name].extend(groups[g][v.name])
        rows: list[list[Any]] = []
        table: dict[str, dict[str, Any]] = {}
        for g in sorted(groups, key=_group_order):
            row: list[Any] = [g, len(next(iter(groups[g].values())))]
            table[g] = {}
            for v in variants:
                t = total(groups[g][v.name])
                table[g][v.name] = t
                row += [t["cer"], t["word_recall"]]
            rows.append(row)
        out["by"][title] = table
        print(f"by {title}")
        print_table(headers, rows, markdown)
    return out


def _group_order(g: str) -> tuple[Any, ...]:
    for i, (_, _, label) in enumerate(BANDS):
        if g == label:
            return (0, i)
    if g.lstrip("+-").isdigit():
        return (1, abs(int(g)), int(g))
    return (2, g == "all", g)


# ---- search -------------------------------------------------------------------------------


def typo(word: str, n: int) -> str:
    """``word`` exactly ``n`` edits away (optimal string alignment), seeded by the word."""
    if n == 0:
        return word
    rng = random.Random(f"{word}:{n}")
    for _ in range(200):
        w = list(word)
        for _ in range(n):
            op = rng.choice(("substitute", "transpose", "delete"))
            i = rng.randrange(len(w))
            if op == "substitute":
                w[i] = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != w[i]])
            elif op == "transpose" and i + 1 < len(w) and w[i] != w[i + 1]:
                w[i], w[i + 1] = w[i + 1], w[i]
            elif len(w) > 3:
                del w[i]
        out = "".join(w)
        if OSA.distance(word, out) == n:
            return out
    raise RuntimeError(f"no typo of {word!r} at {n} edits")


def run_search(
    items: list[Item],
    folder: Path,
    distractors: list[Path],
    variant: Variant,
    scratch: Path,
    workers: int,
    markdown: bool,
) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="ocrbench-search-", dir=scratch))
    overrides = merge(
        variant.overrides, {"ingest": {"workers": workers, "signals": ["phash", "colour", "ocr"]}}
    )
    try:
        with lookalike.open(home, **overrides) as col:
            t0 = time.perf_counter()
            report = col.index([folder, *distractors], retire=False)
            index_s = time.perf_counter() - t0
            print(
                f"search collection: {report.images_new} images ({len(items)} generated, {len(distractors)} "
                f"distractor photos) indexed in {index_s:.1f} s with ocr ({variant.name}), workers={workers}"
            )
            by_word: dict[str, set[str]] = defaultdict(set)
            for it in items:
                for w in it.words:
                    if len(w) >= 5 and w.isalpha():
                        by_word[w].add(it.file)
            read_words = {
                it.file: set(tokens(" ".join(f.text for f in it.read.get(variant.name, [])))) for it in items
            }
            have_reads = all(variant.name in it.read for it in items)
            target = {it.file for it in items if it.angle == 0 and it.height >= 16}
            texts = col.app.catalog.texts
            where: dict[int, str] = {}

            def name_of(result: Any) -> str:
                return Path(result.location).name if "gen" in Path(result.location).parts else result.location

            def name_of_id(image_id: int) -> str:
                if image_id not in where:
                    occ = col.info(image_id)["occurrences"]
                    uri = occ[0]["uri"] if occ else f"id:{image_id}"
                    where[image_id] = Path(uri).name if "gen" in Path(uri).parts else uri
                return where[image_id]

            rows: list[list[Any]] = []
            summary: dict[str, Any] = {}
            latencies: list[float] = []
            examples: dict[int, list[str]] = {}
            for n in (0, 1, 2):
                stats: dict[str, list[float]] = defaultdict(list)
                causes: dict[str, int] = defaultdict(int)
                for word, relevant in sorted(by_word.items()):
                    query = typo(word, n)
                    t = time.perf_counter()
                    results = col.search(text=query, k=10)
                    latencies.append(time.perf_counter() - t)
                    top = {name_of(r) for r in results}
                    folded = top | {name_of_id(i) for r in results for i in r.collapsed}
                    want = min(len(relevant), 10)
                    recall = len(relevant & top) / want
                    stats["all"].append(recall)
                    stats["with collapsed"].append(len(relevant & folded) / want)
                    stats["5-6 letters" if len(word) <= 6 else "7+ letters"].append(recall)
                    if relevant & target:
                        stats["horizontal >= 16 px"].append(
                            len(relevant & target & top) / min(len(relevant & target), 10)
                        )
                    if have_reads:
                        readable = {f for f in relevant if word in read_words[f]}
                        if readable:
                            r2 = len(readable & top) / min(len(readable), 10)
                            stats["words OCR read"].append(r2)
                            if r2 < 1:
                                cause = _miss_cause(query, word, n, texts)
                                causes[cause] += 1
                                if cause == "corrected to another word":
                                    examples.setdefault(n, []).append(
                                        f"{word} -> {query} -> {_nearest(texts, query)}"
                                    )
                for key, values in stats.items():
                    summary.setdefault(key, {})[n] = statistics.fmean(values)
                summary.setdefault("queries", {})[n] = len(stats["all"])
                summary.setdefault("misses among words OCR read", {})[n] = dict(causes)
            cols = [
                "all",
                "7+ letters",
                "5-6 letters",
                "horizontal >= 16 px",
                "words OCR read",
                "with collapsed",
            ]
            for n in (0, 1, 2):
                rows.append(
                    [
                        n,
                        summary["queries"][n],
                        *(summary.get(c, {}).get(n, float("nan")) for c in cols),
                        ", ".join(
                            f"{k} {v}" for k, v in sorted(summary["misses among words OCR read"][n].items())
                        )
                        or "-",
                    ]
                )
            print_table(
                [
                    "typos",
                    "queries",
                    "recall@10",
                    "7+ letters",
                    "5-6 letters",
                    "in horizontal >= 16 px",
                    "words OCR read",
                    "counting collapsed",
                    "misses (words OCR read) by cause",
                ],
                rows,
                markdown,
            )
            lat = {"p50_ms": percentile(latencies, 50) * 1000, "p90_ms": percentile(latencies, 90) * 1000}
            for n, seen in examples.items():
                print(
                    f"{n} typo(s), corrected to another word (word -> query -> correction): {'; '.join(seen)}"
                )
            summary["wrong corrections"] = examples
            print(f"text query latency: p50 {lat['p50_ms']:.1f} ms, p90 {lat['p90_ms']:.1f} ms\n")
            return {
                "index_seconds": index_s,
                "images": report.images_new,
                "recall_at_10": summary,
                "query_latency": lat,
                "variant": variant.name,
            }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _miss_cause(query: str, word: str, n: int, texts: Any) -> str:
    if n == 0:
        return "ranked below 10"
    if edits_for(query, 2) < n:
        return (
            "5-6 letters: 1 edit allowed" if len(word) <= 6 else "a deletion left 6 letters: 1 edit allowed"
        )
    if texts.known_words([query]):
        return "typo is a word read elsewhere"
    near = _nearest(texts, query)
    if near and word not in near:
        return "corrected to another word"
    if not near:
        return "no correction found"
    return "ranked below 10"


def _nearest(texts: Any, query: str) -> list[str]:
    """The words a query word is corrected to (every one at the nearest distance, as search does)."""
    near = texts.near_words(query, edits_for(query, 2))
    return [w for w, d in near if d == near[0][1]]


# ---- speed --------------------------------------------------------------------------------


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_speed(
    text_files: list[Path], photos: list[Path], variants: list[Variant], threads: list[int], markdown: bool
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    rows = []
    for v in variants:
        for th in threads:
            settings = v.settings(threads=th)
            signal = v.signal(settings)
            for warm in text_files[:2] + photos[:1]:  # model load and first-run allocations
                signal.read(decode(warm.read_bytes(), settings.decode, str(warm), signal.input_size))
            measured: dict[str, list[tuple[float, float, int]]] = {"text": [], "photo": []}
            decode_s = []
            for kind, files in (("text", text_files), ("photo", photos)):
                for path in files:
                    data = path.read_bytes()
                    t = time.perf_counter()
                    image = decode(data, settings.decode, str(path), signal.input_size)
                    decode_s.append(time.perf_counter() - t)
                    c, t = _cpu(), time.perf_counter()
                    lines = signal.read(image)
                    measured[kind].append((time.perf_counter() - t, _cpu() - c, len(lines)))
            groups = {
                "with text": measured["text"],
                "photos": measured["photo"],
                "photos, nothing read (detection only)": [m for m in measured["photo"] if m[2] == 0],
            }
            key = f"{v.name} threads={th}"
            results[key] = {
                "decode_ms_p50": percentile(decode_s, 50) * 1000,
                "photos_with_lines_read": sum(1 for m in measured["photo"] if m[2]),
                "lines_read_on_photos": sum(m[2] for m in measured["photo"]),
            }
            for g, ms in groups.items():
                wall = [m[0] * 1000 for m in ms]
                cpu = [m[1] * 1000 for m in ms]
                stats = {
                    "n": len(ms),
                    "p50_ms": percentile(wall, 50),
                    "mean_ms": statistics.fmean(wall) if ms else float("nan"),
                    "p90_ms": percentile(wall, 90),
                    "cpu_p50_ms": percentile(cpu, 50),
                }
                results[key][g] = stats
                rows.append(
                    [
                        v.name,
                        th,
                        g,
                        stats["n"],
                        stats["p50_ms"],
                        stats["mean_ms"],
                        stats["p90_ms"],
                        stats["cpu_p50_ms"],
                    ]
                )
    print(
        f"Ocr.read per image ({len(text_files)} images with text, {len(photos)} photos; decode not counted)"
    )
    print_table(
        ["variant", "threads", "images", "n", "p50 ms", "mean ms", "p90 ms", "CPU p50 ms"], rows, markdown
    )
    for key, r in results.items():
        print(
            f"{key}: lines read on {r['photos_with_lines_read']} of {len(photos)} photos without drawn text "
            f"({r['lines_read_on_photos']} lines); decode p50 {r['decode_ms_p50']:.1f} ms"
        )
    print()
    return results


# ---- index cost ---------------------------------------------------------------------------


def run_index(
    files: list[Path],
    workers: list[int],
    overrides: dict[str, Any],
    scratch: Path,
    markdown: bool,
    backfill: bool,
) -> dict[str, Any]:
    def once(
        signals: list[str], w: int, then_backfill: bool = False, files: list[Path] = files
    ) -> dict[str, Any]:
        home = Path(tempfile.mkdtemp(prefix="ocrbench-index-", dir=scratch))
        try:
            settings = merge(overrides, {"ingest": {"workers": w, "signals": signals}})
            with lookalike.open(home, **settings) as col:
                cpu0, t0 = time.process_time(), time.perf_counter()
                report = col.index(files, retire=False)
                out = {
                    "seconds": time.perf_counter() - t0,
                    "cpu_main": time.process_time() - cpu0,
                    "images": report.images_new,
                    "failed": report.failed,
                }
            if then_backfill:
                with lookalike.open(
                    home, **merge(settings, {"ingest": {"signals": [*signals, "ocr"]}})
                ) as col:
                    t0 = time.perf_counter()
                    done = col.backfill(["ocr"])
                    out["backfill_seconds"] = time.perf_counter() - t0
                    out["backfilled"] = done["computed"].get("ocr", 0)
            return out
        finally:
            shutil.rmtree(home, ignore_errors=True)

    once(
        ["phash", "colour", "ocr"], 1, files=files[:3]
    )  # warm-up: imports, models from disk into the page cache
    cores = os.cpu_count() or 1
    results: dict[str, Any] = {}
    rows = []
    for w in workers:
        off = once(["phash", "colour"], w, then_backfill=backfill)
        on = once(["phash", "colour", "ocr"], w)
        n = len(files)
        results[f"workers={w}"] = {"off": off, "on": on, "slowdown": on["seconds"] / off["seconds"]}
        label = f"{w}" + (f" (default: {cores} processes)" if w == 0 else "")
        rows.append(
            [
                label,
                n,
                off["seconds"],
                n / off["seconds"],
                on["seconds"],
                n / on["seconds"],
                on["seconds"] / off["seconds"],
                (on["seconds"] - off["seconds"]) / n * 1000,
                off.get("backfill_seconds"),
                off.get("backfilled"),
            ]
        )
    print(f"Collection.index of {len(files)} files, phash+colour with and without ocr (single runs)")
    print_table(
        [
            "workers",
            "files",
            "off s",
            "off img/s",
            "ocr on s",
            "on img/s",
            "slowdown x",
            "ms added per image",
            "backfill ocr s",
            "backfilled",
        ],
        rows,
        markdown,
    )
    return results


# ---- main ---------------------------------------------------------------------------------


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def verdict(goal: str, value: float, target: float, higher: bool = True) -> str:
    met = value >= target if higher else value <= target
    share = value / target if higher else target / value if value else float("inf")
    return f"{goal}: {'MET' if met else 'NOT MET'} ({value:.3g}, {share:.1%} of target)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--images",
        type=Path,
        required=True,
        help="folder of real photos (backgrounds, distractors, index runs)",
    )
    parser.add_argument("--parts", default="accuracy,search,speed,index", help="what to run, comma-separated")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME[:KEY=VALUE,...]",
        help="engine and settings to compare (repeatable); default rapidocr and tesseract; "
        "the first is the one searched; bench.bgr=true hands the engine BGR pixels, "
        "bench.no_cls=true turns RapidOCR's direction classifier off, bench.det_size=N detects on a "
        "view N px long (recognition still reads the full view)",
    )
    parser.add_argument("--photos", type=int, default=160, help="generated images with text on photos")
    parser.add_argument("--screenshots", type=int, default=60, help="generated screenshot-like images")
    parser.add_argument(
        "--distractors", type=int, default=100, help="photos without drawn text in the search collection"
    )
    parser.add_argument("--heights", default="10,13,16,20,24,32,40,48", help="text heights in px")
    parser.add_argument(
        "--angles", default="0,0,5,-5,15,-15", help="angles for text on photos (repeat 0 to weight it)"
    )
    parser.add_argument(
        "--fonts", type=Path, default=Path("/usr/share/fonts"), help="where TrueType fonts are looked for"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--speed-images", type=int, default=30, help="images of each kind timed in the speed part"
    )
    parser.add_argument("--threads", default="1,2", help="ocr.threads values timed in the speed part")
    parser.add_argument(
        "--limit", type=int, default=150, help="files of --images indexed in the index part (0: all)"
    )
    parser.add_argument("--workers", default="0,1", help="ingest.workers values of the index part")
    parser.add_argument(
        "--search-workers", type=int, default=1, help="ingest.workers for the search collection"
    )
    parser.add_argument(
        "--no-backfill", action="store_true", help="skip the backfill timing of the index part"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="lookalike setting for every run"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the generated set (and truth.json) here and keep it"
    )
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    parser.add_argument(
        "--json", default=None, metavar="PATH", help="also write the figures as JSON ('-': stdout)"
    )
    args = parser.parse_args(argv)

    parts = set(args.parts.split(","))
    base = parse_settings(args.set)
    variants = [Variant.parse(s, base) for s in (args.variant or ["rapidocr", "tesseract"])]
    facts = machine()
    print_machine(facts)
    photos = [p for p in image_files(args.images) if min(_size(p)) >= 200]
    load_before = load_average()
    payload: dict[str, Any] = {
        "benchmark": "ocr",
        "machine": facts,
        "images": str(args.images),
        "variants": {
            v.name: {"settings": v.overrides, "bgr": v.bgr, "no_cls": v.no_cls, "det_size": v.det_size}
            for v in variants
        },
        "load_average": [load_before],
    }
    from lookalike.signals.ocr import engine_status

    for v in variants:
        print(
            f"variant {v.name}: {engine_status(v.settings().ocr, v.settings().models.folder / 'rapidocr')[1]}; settings {v.overrides}"
            f"{' + BGR pixels' if v.bgr else ''}{' without the direction classifier' if v.no_cls else ''}"
            f"{f', detection on {v.det_size} px' if v.det_size else ''}"
        )
    verdicts: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="ocrbench-", dir=args.scratch))
    try:
        gen = (args.keep or work) / "gen"
        gen.mkdir(parents=True, exist_ok=True)
        fonts = Fonts(args.fonts)
        items: list[Item] = []
        if parts & {"accuracy", "search", "speed"}:
            t0 = time.perf_counter()
            items = make_set(
                photos,
                args.photos,
                args.screenshots,
                [int(h) for h in args.heights.split(",")],
                [int(a) for a in args.angles.split(",")],
                fonts,
                gen,
                args.seed,
            )
            used = {it.base for it in items if it.base}
            spare = [p for p in photos if p.name not in used]
            n_words = sum(len(it.words) for it in items)
            print(
                f"generated {len(items)} images ({sum(it.kind == 'photo' for it in items)} on photos, "
                f"{sum(it.kind == 'screenshot' for it in items)} screenshots, {n_words} words) in "
                f"{time.perf_counter() - t0:.1f} s; fonts: {', '.join(fonts.names)}\n"
            )
            (gen.parent / "truth.json").write_text(
                json.dumps([{k: v for k, v in it.__dict__.items() if k != "read"} for it in items], indent=1),
                encoding="utf-8",
            )
        else:
            spare = photos

        if "accuracy" in parts:
            for v in variants:
                seconds = read_set(items, gen, v)
                print(f"read with {v.name} in {seconds:.1f} s")
            acc = accuracy_tables(items, variants, args.markdown)
            payload["accuracy"] = acc
            for v in variants:
                target = acc["by"]["target: horizontal, >= 16 px"]["all"][v.name]["word_recall"]
                verdicts.append(
                    verdict(
                        f"{v.name}: word recall >= {WORD_RECALL_TARGET} on horizontal text >= 16 px",
                        target,
                        WORD_RECALL_TARGET,
                    )
                )
            payload["per_image"] = [
                {
                    "file": it.file,
                    "kind": it.kind,
                    "height": it.height,
                    "angle": it.angle,
                    "font": it.font,
                    "style": it.style,
                    "truth": it.lines,
                    "read": {n: [f.text for f in fs] for n, fs in it.read.items()},
                }
                for it in items
            ]

        if "search" in parts:
            distractors = spare[: args.distractors]
            spare = spare[args.distractors :]
            found = run_search(
                items, gen, distractors, variants[0], args.scratch, args.search_workers, args.markdown
            )
            payload["search"] = found
            one = found["recall_at_10"]["all"][1]
            verdicts.append(
                verdict(
                    f"{variants[0].name}: search recall@10 >= {SEARCH_TARGET} with one typo",
                    one,
                    SEARCH_TARGET,
                )
            )
            verdicts.append(
                verdict(
                    f"{variants[0].name}: search recall@10 >= {SEARCH_TARGET} with one typo, "
                    "text horizontal >= 16 px",
                    found["recall_at_10"]["horizontal >= 16 px"][1],
                    SEARCH_TARGET,
                )
            )
            if "words OCR read" in found["recall_at_10"]:
                verdicts.append(
                    verdict(
                        f"{variants[0].name}: search recall@10 >= {SEARCH_TARGET} with one typo, "
                        "words OCR read",
                        found["recall_at_10"]["words OCR read"][1],
                        SEARCH_TARGET,
                    )
                )

        if "speed" in parts:
            texts = [gen / it.file for it in items]
            rng = random.Random(args.seed)
            rng.shuffle(texts)
            speed = run_speed(
                texts[: args.speed_images],
                spare[-args.speed_images :],
                variants,
                [int(t) for t in args.threads.split(",")],
                args.markdown,
            )
            payload["speed"] = speed
            for v in variants:
                r = speed.get(f"{v.name} threads=1")
                if r and r["photos, nothing read (detection only)"]["n"]:
                    verdicts.append(
                        verdict(
                            f"{v.name}: detection only <= {DETECT_TARGET_MS:g} ms on one core (p50)",
                            r["photos, nothing read (detection only)"]["p50_ms"],
                            DETECT_TARGET_MS,
                            higher=False,
                        )
                    )

        if "index" in parts:
            files = image_files(args.images, limit=args.limit)
            warm_cache(files)
            idx_overrides = merge(base, {"ocr": variants[0].overrides.get("ocr", {})})
            payload["index"] = run_index(
                files,
                [int(w) for w in args.workers.split(",")],
                idx_overrides,
                args.scratch,
                args.markdown,
                not args.no_backfill,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    load_after = load_average()
    payload["load_average"].append(load_after)
    print(f"load average {load_before:.2f} before, {load_after:.2f} after")
    for line in verdicts:
        print(line)
    payload["verdicts"] = verdicts
    if args.json:
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
