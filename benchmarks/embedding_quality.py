"""Retrieval quality of a real model's embedding, alone and fused, and ingest speed with it.

``--model PATH`` is a folder holding one ImageNet classifier as ONNX with two outputs
(pooled features and logits) and its ``labels.txt`` (such as EfficientNet-Lite0: its
README gives the preprocessing this script writes into the model's config: a 0.875
centre crop, (pixel - 127) / 128).  It is installed into a temp models folder with
``ModelStore.add`` (a folder with a ``lookalike-model.json``), as a user would.

1. One collection (a temp home) holds ``--near`` (near_duplicates: UKBench photos and
   their edited copies) and ``--flickr`` (photos_flickr) together, so that each is the
   other's distractors; signals phash, colour, junk, embedding and tags.
2. Distances: cosine distances of the embedding between members of one near-duplicate
   group and between unrelated Flickr photos (percentiles), raw and PCA-whitened: what the
   calibration (the midpoint and spread of ``image_calibration``) should be.
3. For each search configuration (signals, weights, whitening, alpha-QE), searching by
   image id through ``Collection.search`` (``collapse=False``, so every image counts):
   - near-duplicate **mAP**: each member of a group with two or more distinct images is a
     query; the other members are the positives; AP over the top ``--depth`` results;
   - **all in top 10**: share of those queries that find every other member in their top 10;
   - Flickr **P@10**: each Flickr photo with a tag (and not junk) is a query; precision of
     its top 10 at "shares a Flickr tag (case-folded) with the query".
4. Tags: the classifier's classes of each Flickr photo (``ImageEncoder.classify``, one
   thread, batches of 16, timed), kept at several probability thresholds (at most 3 a
   photo): share of photos tagged, tags per tagged photo, and the share of tags of which a
   word (of the tag or its synonyms) is among the photo's Flickr tags, title or text words,
   a loose stand-in for precision (a photo's owner seldom writes "golden retriever").
5. Ingest speed (``--ingest N`` photos): ``Collection.index`` into a fresh home, images/s
   end to end (read, decode, every signal, catalog, index), with workers=1 (one core)
   and workers=2 (both cores), with and without the model signals.

Example (from the repository root)::

    nice -n 10 python benchmarks/embedding_quality.py --model ../shared/models/efficientnet-lite0 \\
        --near ../shared/data/near_duplicates --flickr ../shared/data/photos_flickr --ingest 200
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import image_files, machine, print_machine, print_table, write_json

import lookalike
from lookalike.models import ModelStore
from lookalike.signals.whitening import Whitening

MODEL = "real"
SIGNALS = ["phash", "colour", "junk", "embedding", "tags"]


@dataclass(frozen=True)
class Config:
    """One way of searching: the signals, their weights, whitening and alpha-QE."""

    label: str
    signals: tuple[str, ...]
    weights: dict[str, float] = field(default_factory=dict)
    whiten: int | None = None  # None: off; 0: every dimension kept; n: the first n
    expansion: int = 0


FUSED = ("phash", "colour", "embedding")
CONFIGS = [
    Config("colour alone", ("colour",)),
    Config("phash alone", ("phash",)),
    Config("phash + colour (no model)", ("phash", "colour")),
    Config("embedding alone", ("embedding",)),
    Config("embedding, whitened (all dims)", ("embedding",), whiten=0),
    Config("embedding, whitened to 256", ("embedding",), whiten=256),
    Config("embedding, whitened to 128", ("embedding",), whiten=128),
    Config("embedding, whitened to 64", ("embedding",), whiten=64),
    Config("embedding, alpha-QE 3", ("embedding",), expansion=3),
    Config("embedding, alpha-QE 5", ("embedding",), expansion=5),
    Config("embedding, whitened to 128 + alpha-QE 3", ("embedding",), whiten=128, expansion=3),
    Config("fused phash 1, colour 0.35, embedding 1", FUSED),
    Config("fused phash 1, colour 0.35, embedding 2", FUSED, {"embedding": 2.0}),
    Config("fused phash 1, colour 0.35, embedding 4", FUSED, {"embedding": 4.0}),
    Config("fused phash 1, colour 0, embedding 1", FUSED, {"colour": 0.0}),
    Config("fused phash 1, colour 0.1, embedding 2", FUSED, {"colour": 0.1, "embedding": 2.0}),
    Config("fused (1, 0.35, 2), whitened to 128", FUSED, {"embedding": 2.0}, whiten=128),
    Config("fused (1, 0.35, 2), alpha-QE 3", FUSED, {"embedding": 2.0}, expansion=3),
]


def install(source: Path, models: Path, calibration: tuple[float, float]) -> None:
    """The model folder as lookalike reads it: the ONNX file, labels.txt and a config."""
    onnx = next(source.glob("*.onnx"))
    staging = models.parent / "model-src"
    staging.mkdir(parents=True)
    shutil.copy2(onnx, staging / "image.onnx")
    shutil.copy2(source / "labels.txt", staging / "labels.txt")
    config = {
        "name": MODEL,
        "kind": "image",
        "dim": 1280,
        "image": {
            "input": "pixel_values",
            "output": "features",
            "logits": "logits",
            "labels": "labels.txt",
            "size": 224,
            "crop_fraction": 0.875,
            "mean": [127 / 255] * 3,
            "std": [128 / 255] * 3,
        },
        "image_calibration": list(calibration),
        "source": str(source),
    }
    (staging / "lookalike-model.json").write_text(json.dumps(config), encoding="utf-8")
    ModelStore(models).add(MODEL, staging)


def open_home(home: Path, models: Path, config: Config | None = None, **ingest: Any) -> lookalike.Collection:
    search = {"weights": config.weights} if config else {}
    return lookalike.open(
        home,
        ingest={"signals": SIGNALS, **ingest},
        models={
            "folder": models,
            "embedding": MODEL,
            "whiten": bool(config and config.whiten is not None),
            "expansion": config.expansion if config else 0,
        },
        search=search,
    )


def ids_by_path(images: lookalike.Collection) -> dict[str, int]:
    found = {}
    for image_id in images.catalog.images.ok_ids():
        for place in images.info(image_id)["occurrences"]:
            found[str(Path(place["uri"]).resolve())] = image_id
    return found


def near_groups(near: Path, ids: dict[str, int]) -> list[set[int]]:
    """Each ground-truth group as the distinct image ids of its decodable members."""
    truth = json.loads((near / "groundtruth.json").read_text())
    groups = []
    for group in truth["groups"]:
        members = [group["original"], *group["duplicates"]]
        found = {ids[p] for p in (str((near / m).resolve()) for m in members) if p in ids}
        if len(found) >= 2:
            groups.append(found)
    return groups


def flickr_tags(flickr: Path, ids: dict[str, int]) -> dict[int, set[str]]:
    tags: dict[int, set[str]] = {}
    for line in (flickr / "metadata.jsonl").read_text().splitlines():
        entry = json.loads(line)
        path = str((flickr / "images" / entry["filename"]).resolve())
        if path not in ids:
            path = str((flickr / entry["filename"]).resolve())
        if path in ids and entry.get("tags"):
            tags.setdefault(ids[path], set()).update(t.casefold() for t in entry["tags"])
    return tags


def average_precision(ranked: Sequence[int], positives: set[int]) -> float:
    hits, total = 0, 0.0
    for rank, image_id in enumerate(ranked, 1):
        if image_id in positives:
            hits += 1
            total += hits / rank
    return total / len(positives) if positives else 0.0


def evaluate(
    images: lookalike.Collection,
    config: Config,
    groups: list[set[int]],
    tags: dict[int, set[str]],
    depth: int,
) -> dict[str, Any]:
    signals = list(config.signals)
    aps, complete = [], []
    started = time.perf_counter()
    searches = 0
    for group in groups:
        for query in sorted(group):
            ranked = [
                r.image_id for r in images.search(image_id=query, k=depth, signals=signals, collapse=False)
            ]
            ranked = [i for i in ranked if i != query]
            searches += 1
            aps.append(average_precision(ranked, group - {query}))
            complete.append((group - {query}) <= set(ranked[:10]))
    precisions = []
    for query, wanted in sorted(tags.items()):
        found = [r.image_id for r in images.search(image_id=query, k=11, signals=signals, collapse=False)]
        top = [i for i in found if i != query][:10]
        searches += 1
        precisions.append(sum(bool(tags.get(i, set()) & wanted) for i in top) / 10)
    elapsed = time.perf_counter() - started
    return {
        "config": config.label,
        "near_map": float(np.mean(aps)) if aps else None,
        "near_all_top10": float(np.mean(complete)) if complete else None,
        "near_queries": len(aps),
        "flickr_p10": float(np.mean(precisions)) if precisions else None,
        "flickr_queries": len(precisions),
        "ms_per_search": 1000 * elapsed / max(searches, 1),
    }


def distances(
    images: lookalike.Collection, groups: list[set[int]], tags: dict[int, set[str]]
) -> list[list[Any]]:
    """Percentiles of cosine distances: same near-duplicate group vs unrelated Flickr photos."""
    signal = images.signals["embedding"]
    every = sorted(images.catalog.images.ok_ids())
    stored = images.catalog.features.get("embedding", signal.spec.version, every)
    rows = {i: signal.decode(p)[0].astype(np.float32) for i, p in stored.items()}
    raw = np.stack([rows[i] for i in every])
    found = []
    for label, transform in (
        ("raw", None),
        ("whitened (all)", Whitening.fit(raw)),
        ("whitened to 128", Whitening.fit(raw, 128)),
    ):
        vectors = transform.apply(raw) if transform else raw / np.linalg.norm(raw, axis=1, keepdims=True)
        at = {i: j for j, i in enumerate(every)}
        same = [
            1 - float(vectors[at[a]] @ vectors[at[b]])
            for g in groups
            for a in g
            for b in g
            if a < b and a in at and b in at
        ]
        flickr = [at[i] for i in tags if i in at]
        rng = np.random.default_rng(0)
        pairs = rng.choice(len(flickr), size=(4000, 2))
        other = [1 - float(vectors[flickr[a]] @ vectors[flickr[b]]) for a, b in pairs if a != b]
        for name, values in (("same group", same), ("unrelated photos", other)):
            p = np.percentile(values, [5, 50, 95])
            found.append([label, name, len(values), f"{p[0]:.3f}", f"{p[1]:.3f}", f"{p[2]:.3f}"])
    return found


WORD = re.compile(r"[^\W_]+")


def tag_quality(flickr: Path, models: Path) -> tuple[list[list[Any]], float]:
    """Rows per threshold, and model images/s on one thread (preprocess + run, batches of 16)."""
    from lookalike.decode import decode
    from lookalike.settings import load_settings

    settings = load_settings()
    model = ModelStore(models, threads=1).load(MODEL)
    assert model.labels is not None
    words: list[set[str]] = []
    pictures = []
    for line in (flickr / "metadata.jsonl").read_text().splitlines():
        entry = json.loads(line)
        path = flickr / "images" / entry["filename"]
        try:
            pictures.append(decode(path.read_bytes(), settings.decode, str(path), 256).image)
        except (OSError, lookalike.DecodeError):
            continue
        said = " ".join([*entry.get("tags", []), entry.get("title") or "", entry.get("text") or ""])
        words.append({w.casefold() for w in WORD.findall(said)})
    model.image.classify(pictures[:16])  # warm-up
    started = time.perf_counter()
    probabilities = np.vstack(
        [model.image.classify(pictures[i : i + 16]) for i in range(0, len(pictures), 16)]
    )
    per_second = len(pictures) / (time.perf_counter() - started)
    rows = []
    best = np.argsort(-probabilities, axis=1)[:, :3]
    for threshold in (0.1, 0.2, 0.3, 0.5):
        kept = [[j for j in row if probabilities[i, j] >= threshold] for i, row in enumerate(best)]
        tagged = [k for k in kept if k]
        said = [
            bool({w.casefold() for name in model.labels[j] for w in WORD.findall(name)} & words[i])
            for i, k in enumerate(kept)
            for j in k
        ]
        rows.append([
            threshold,
            f"{len(tagged) / len(kept):.2f}",
            f"{np.mean([len(k) for k in tagged]):.2f}" if tagged else "-",
            f"{np.mean(said):.2f}" if said else "-",
        ])  # fmt: skip
    return rows, per_second


def ingest_speed(files: list[Path], scratch: Path, models: Path) -> list[list[Any]]:
    rows = []
    for signals, label in (
        (["phash", "colour", "junk"], "no model"),
        (SIGNALS, "with the model (embedding + tags)"),
    ):
        for workers in (1, 2):
            home = scratch / f"ingest-{workers}-{len(signals)}"
            shutil.rmtree(home, ignore_errors=True)
            # workers=1 runs in this process: one model thread, so that it is one core's figure
            chosen = {"folder": models, "embedding": MODEL, "threads": 1}
            with lookalike.open(
                home, ingest={"signals": signals, "workers": workers}, models=chosen
            ) as images:
                started = time.perf_counter()
                images.index(files)
                elapsed = time.perf_counter() - started
            rows.append([label, workers, len(files), f"{elapsed:.1f}", f"{len(files) / elapsed:.1f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="folder with the .onnx file and labels.txt")
    parser.add_argument(
        "--near", type=Path, required=True, help="near_duplicates folder (with groundtruth.json)"
    )
    parser.add_argument(
        "--flickr", type=Path, required=True, help="photos_flickr folder (with metadata.jsonl)"
    )
    parser.add_argument(
        "--depth", type=int, default=100, help="results read per near-duplicate query (AP depth)"
    )
    parser.add_argument(
        "--calibration", type=float, nargs=2, default=(0.25, 0.05), metavar=("MIDPOINT", "SPREAD")
    )
    parser.add_argument("--ingest", type=int, default=0, help="also time ingest of the first N Flickr photos")
    parser.add_argument("--only", default=None, help="run only the configs whose label holds this text")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    facts = machine()
    print_machine(facts)
    scratch = Path(tempfile.mkdtemp(prefix="lookalike-quality-"))
    try:
        models = scratch / "models"
        install(args.model, models, tuple(args.calibration))
        home = scratch / "home"
        started = time.perf_counter()
        with open_home(home, models, workers=2) as images:
            images.index([args.near, args.flickr])
            ids = ids_by_path(images)
            groups, tags = near_groups(args.near, ids), flickr_tags(args.flickr, ids)
            hidden = {i for i in tags if images.info(i).get("flags")}
            tags = {i: t for i, t in tags.items() if i not in hidden}
            spread = distances(images, groups, tags)
        print(
            f"indexed {len(ids)} files ({time.perf_counter() - started:.0f} s), {len(groups)} near-duplicate "
            f"groups of {sorted(len(g) for g in groups)} distinct images, {len(tags)} tagged Flickr queries\n"
        )
        print("cosine distance of the embedding (percentiles)")
        print_table(["vectors", "pairs", "n", "p5", "p50", "p95"], spread)
        results = []
        for config in CONFIGS:
            if args.only and args.only not in config.label:
                continue
            with open_home(home, models, config, workers=1) as images:
                if config.whiten is not None:
                    images.fit_whitening(config.whiten)
                results.append(evaluate(images, config, groups, tags, args.depth))
        print("\nretrieval quality (search by image id, collapse off)")
        print_table(
            ["search", "near mAP", "near: all in top 10", "Flickr P@10", "ms/search"],
            [
                [r["config"], f"{r['near_map']:.3f}", f"{r['near_all_top10']:.2f}", f"{r['flickr_p10']:.3f}",
                 f"{r['ms_per_search']:.1f}"]
                for r in results
            ],
        )  # fmt: skip
        tag_rows, model_speed = tag_quality(args.flickr, models)
        print(
            f"\ntags of the Flickr photos (at most 3 a photo); the model alone: {model_speed:.0f} images/s on one thread"
        )
        print_table(
            ["threshold", "photos tagged", "tags per tagged photo", "a tag word in the owner's words"],
            tag_rows,
        )
        speed = []
        if args.ingest:
            files = image_files(args.flickr, limit=args.ingest)
            speed = ingest_speed(files, scratch, models)
            print("\ningest speed (Collection.index, end to end)")
            print_table(["signals", "workers", "images", "s", "images/s"], speed)
        if args.json:
            write_json(
                args.json,
                {
                    "machine": facts,
                    "calibration": args.calibration,
                    "distances": spread,
                    "quality": results,
                    "tags": tag_rows,
                    "model_images_per_s_one_thread": model_speed,
                    "ingest": speed,
                },
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
