"""Real model features for the dense-index benchmark: many genuine embeddings from few images.

Runs a real ONNX image model (by default the EfficientNet-Lite0 of ``../shared/models``, whose
README gives the preprocessing: 224 px, bicubic, ``(pixel - 127) / 128``) over augmented views
of real images, and keeps, besides each view's pooled embedding (what lookalike stores for an
image), region features: the model's last feature map before its global average pool (7 x 7 x
1280 for this model), averaged over random rectangular sub-windows of 2 to 7 cells a side, as
R-MAC does with its regions.  The full window is exactly the model's own ``features`` output
(checked at start).  To read that map, a copy of the graph with the pooled tensor's input added
as an output is written to a temporary folder (needs the ``onnx`` package, for this script only).

Augmented views: view 0 is the model's reference centre crop; the others are random crops of
25-100% of the area (aspect 3:4 to 4:3), flipped half the time, with brightness, contrast and
saturation each moved by up to 30%.  Every feature is L2-normalised and kept as float16, as
lookalike's ``embedding`` signal stores it.

Images are split by a hash of their path: ``--holdout`` of them give only queries (the pooled
feature of each of their views, i.e. whole-image queries as a user makes them), the others give
the base set (pooled and region features).  So no query is a row of the base set, nor a view of
an image in it; but every feature is near the other features of its own source image: the base
set is about ``views x (regions + 1)`` related vectors around each of its source images.

Writes ``OUT.npy`` (base, float16, rows in a random order), ``OUT.queries.npy`` and
``OUT.json`` (what was made, and how).

Example::

    python benchmarks/real_features.py --images ../shared/data/photos_flickr ../shared/data/photos_camera \\
        --out /tmp/real.npy --views 40 --regions 25
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
SIZE = 224


def feature_map_model(model: Path, folder: Path) -> tuple[Path, str]:
    """A copy of the graph with the input of its global average pool as a second output."""
    try:
        import onnx
    except ImportError:
        sys.exit("this script needs the onnx package to read the feature map: pip install onnx")
    graph = onnx.load(str(model))
    pools = [n for n in graph.graph.node if n.op_type == "GlobalAveragePool"]
    if len(pools) != 1:
        sys.exit(f"{model}: expected one GlobalAveragePool, found {len(pools)}")
    name = pools[0].input[0]
    graph.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    out = folder / "with_map.onnx"
    onnx.save(graph, str(out))
    return out, name


def load(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as img:
            img.draft("RGB", (2 * SIZE, 2 * SIZE))  # JPEG: decode at a reduced DCT scale
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGB")
            img.load()
    except Exception:  # a corrupt or unreadable file: skipped, counted
        return None
    return img if max(img.size) >= 32 else None  # lookalike's junk rule: too small to mean much


def centre(img: Image.Image) -> Image.Image:
    w, h = img.size
    side = int(SIZE / (SIZE + 32) * min(w, h))
    left, top = (w - side + 1) // 2, (h - side + 1) // 2
    return img.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.BICUBIC)


def augmented(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = img.size
    for _ in range(10):
        area = rng.uniform(0.25, 1.0) * w * h
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = round(float(np.sqrt(area * aspect))), round(float(np.sqrt(area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            break
    else:
        cw, ch = w, h
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    view = img.crop((x, y, x + cw, y + ch)).resize((SIZE, SIZE), Image.BICUBIC)
    if rng.random() < 0.5:
        view = ImageOps.mirror(view)
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        view = enhance(view).enhance(float(rng.uniform(0.7, 1.3)))
    return view


def region_features(fmap: np.ndarray, regions: int, rng: np.random.Generator) -> np.ndarray:
    """(B, C, H, W) maps -> (B * (regions + 1), C): the whole map, then random sub-windows."""
    b, c, h, w = fmap.shape
    integral = np.zeros((b, h + 1, w + 1, c), dtype=np.float64)
    integral[:, 1:, 1:] = np.cumsum(np.cumsum(fmap.transpose(0, 2, 3, 1), axis=1), axis=2)
    rh = np.concatenate([np.full((b, 1), h), rng.integers(2, h + 1, (b, regions))], axis=1)
    rw = np.concatenate([np.full((b, 1), w), rng.integers(2, w + 1, (b, regions))], axis=1)
    y0 = (rng.random((b, regions + 1)) * (h - rh + 1)).astype(int)
    x0 = (rng.random((b, regions + 1)) * (w - rw + 1)).astype(int)
    y1, x1 = y0 + rh, x0 + rw
    bi = np.repeat(np.arange(b), regions + 1).reshape(b, regions + 1)
    total = integral[bi, y1, x1] - integral[bi, y0, x1] - integral[bi, y1, x0] + integral[bi, y0, x0]
    return (total / (rh * rw)[..., None]).reshape(-1, c).astype(np.float32)


def unit16(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float16)


def merge(parts: list[Path], out: Path, seed: int) -> None:
    """One base file (rows shuffled again) and one query file from the shard runs' outputs."""
    rows = np.concatenate([np.load(p) for p in parts])
    rows = rows[np.random.default_rng(seed).permutation(len(rows))]
    np.save(out, rows)
    np.save(
        out.with_suffix(".queries.npy"),
        np.concatenate([np.load(p.with_suffix(".queries.npy")) for p in parts]),
    )
    facts = [json.loads(p.with_suffix(".json").read_text()) for p in parts]
    total = {
        k: sum(f[k] for f in facts)
        for k in ("files", "base_images", "query_images", "skipped", "base_rows", "query_rows", "seconds")
    }
    out.with_suffix(".json").write_text(
        json.dumps({**facts[0], **total, "shard": "merged", "parts": facts}, indent=2)
    )
    print(json.dumps(total, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", nargs="+", type=Path, default=[], help="folders, searched recursively")
    parser.add_argument(
        "--model", type=Path, default=Path("../shared/models/efficientnet-lite0/efficientnet-lite0.onnx")
    )
    parser.add_argument("--out", type=Path, required=True, help="base features, .npy")
    parser.add_argument("--views", type=int, default=40, help="views per image (view 0: the centre crop)")
    parser.add_argument("--regions", type=int, default=25, help="region features per view of a base image")
    parser.add_argument("--holdout", type=float, default=0.05, help="share of images that give only queries")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads; 0: every core")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard", default="0/1", help="I/N: this run reads every N-th image from the I-th")
    parser.add_argument(
        "--merge", nargs="+", type=Path, help="instead: join the outputs of shard runs into --out"
    )
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.out, args.seed)
        return
    import onnxruntime as ort

    started = time.perf_counter()
    files = sorted(p for d in args.images for p in d.rglob("*") if p.suffix.lower() in SUFFIXES)
    shard, shards = map(int, args.shard.split("/"))
    files = files[shard::shards]
    rng = np.random.default_rng([args.seed, shard])
    with tempfile.TemporaryDirectory() as tmp:
        path, map_name = feature_map_model(args.model, Path(tmp))
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads or len(os.sched_getaffinity(0))
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    base: list[np.ndarray] = []
    queries: list[np.ndarray] = []
    used = {"base": 0, "query": 0, "skipped": 0}
    checked = False
    for number, file in enumerate(files):
        img = load(file)
        if img is None:
            used["skipped"] += 1
            continue
        bucket = int(hashlib.sha256(str(file.name).encode()).hexdigest()[:8], 16) / 16**8
        held = bucket < args.holdout
        used["query" if held else "base"] += 1
        views = [centre(img)] + [augmented(img, rng) for _ in range(args.views - 1)]
        for start in range(0, len(views), args.batch):
            batch = np.stack([np.asarray(v, dtype=np.float32) for v in views[start : start + args.batch]])
            pixels = ((batch - 127.0) / 128.0).transpose(0, 3, 1, 2)
            pooled, fmap = session.run(["features", map_name], {input_name: pixels})
            if not checked:  # the whole window must be the model's own pooled output
                whole = fmap.mean(axis=(2, 3))
                err = float(np.abs(whole - pooled).max() / np.abs(pooled).max())
                if err > 1e-4:
                    sys.exit(f"feature map mean differs from the pooled output by {err:.2g}")
                checked = True
            if held:
                queries.append(unit16(pooled))
            else:
                base.append(unit16(region_features(fmap, args.regions, rng)))
        if number % 50 == 0:
            rows = sum(len(b) for b in base)
            print(
                f"{number}/{len(files)} images, {rows} base rows, {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    rows = np.concatenate(base)
    rows = rows[rng.permutation(len(rows))]
    np.save(args.out, rows)
    np.save(args.out.with_suffix(".queries.npy"), np.concatenate(queries))
    facts: dict[str, Any] = {
        "model": str(args.model),
        "images": [str(d) for d in args.images],
        "shard": args.shard,
        "files": len(files),
        "base_images": used["base"],
        "query_images": used["query"],
        "skipped": used["skipped"],
        "views": args.views,
        "regions": args.regions,
        "base_rows": len(rows),
        "query_rows": int(sum(len(q) for q in queries)),
        "dim": int(rows.shape[1]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.with_suffix(".json").write_text(json.dumps(facts, indent=2))
    print(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
