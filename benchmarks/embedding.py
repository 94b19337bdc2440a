"""Model signals: embedding throughput, text-query latency, and what whitening and query expansion do.

Models here are the tiny ONNX models the tests build (``tests/tiny_models.py``):
a random-weight CNN (two convolutions and a global pool) fed 224x224, and a
CLIP-like colour model.  No trained model can be downloaded on our machines;
``--model NAME`` adds an installed model (``lookalike models list``) to part 1.

1. Throughput: ``ModelSignal.extract_batch`` (preprocess + ONNX Runtime, one
   thread, ``models.threads=1``) over decoded photos, batch 1 and 16: images/s
   per core.  Decoding is timed apart (it is shared by every signal).
2. Text query: ``Collection.search(text=...)`` with the clip signal over the
   indexed photos: p50/p99 of the whole call and of ``embed_text`` alone.
3. Whitening and alpha-QE: the photos indexed with the CNN embedding; for every
   ``--limit``-th photo, edited copies (``--edits``, from copy_detection.py) are
   searched with ``signals=["embedding"]``; recall@1 and recall@10 of the
   original, for plain vectors (baseline), PCA whitening, alpha-QE, and both.
   With random weights the figures show the mechanism, not what a trained model gives.

Example::

    python benchmarks/embedding.py --images ../shared/data/photos_flickr --limit 60
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tiny model builders

from _common import image_files, machine, print_machine, print_table, summary_ms, write_json
from copy_detection import EDITS, Source

import lookalike
from lookalike.decode import decode
from lookalike.models import ModelStore
from lookalike.settings import load_settings

from tiny_models import clip_folder, image_folder


def part_throughput(store: ModelStore, files: list[Path], extra: str | None) -> list[list[Any]]:
    from lookalike.signals.neural import ModelSignal

    settings = load_settings()
    decoded, started = [], time.perf_counter()
    for path in files:
        with contextlib.suppress(lookalike.DecodeError):  # the junk files of the folder
            decoded.append(decode(path.read_bytes(), settings.decode, str(path), 240))
    decode_s = time.perf_counter() - started
    rows = [["decode (shared by all signals)", "-", len(decoded), f"{len(decoded) / decode_s:.0f}"]]
    for name in ["tiny-cnn", *([extra] if extra else [])]:
        model = store.load(name)
        for batch in (1, 16):
            signal = ModelSignal("embedding", model, batch)
            signal.extract_batch(decoded[:batch])  # session start and first-run warm-up
            started = time.perf_counter()
            signal.extract_batch(decoded)
            seconds = time.perf_counter() - started
            rows.append(
                [
                    f"{name} ({model.config.image.size}px)",
                    batch,
                    len(decoded),
                    f"{len(decoded) / seconds:.0f}",
                ]
            )
    return rows


def part_text(store: ModelStore, files: list[Path], scratch: Path, queries: int) -> dict[str, Any]:
    home = scratch / "text"
    words = ["red", "green", "blue", "yellow", "white", "black"]
    with lookalike.open(
        home,
        ingest={"signals": ["phash", "colour", "clip"], "workers": 1},
        models={"folder": store.folder, "clip": "tiny-clip", "threads": 1},
    ) as images:
        images.index([files[0].parent])
        clip = images.signals["clip"]
        images.search(text="red")
        whole, embed = [], []
        for i in range(queries):
            word = f"something {words[i % len(words)]}"
            started = time.perf_counter()
            clip.embed_text([word])  # type: ignore[attr-defined]
            embed.append(time.perf_counter() - started)
            started = time.perf_counter()
            images.search(text=word, k=12)
            whole.append(time.perf_counter() - started)
        return {
            "images": images.stats()["images"],
            "search": summary_ms(whole),
            "embed_text": summary_ms(embed),
        }


CONFIGS = {
    "plain (baseline)": {},
    "whitened": {"whiten": True},
    "alpha-QE n=3": {"expansion": 3},
    "whitened + alpha-QE": {"whiten": True, "expansion": 3},
}


def part_whitening(
    store: ModelStore, files: list[Path], scratch: Path, limit: int, edits: list[str]
) -> list[list[Any]]:
    home = scratch / "whiten"
    base = {"folder": store.folder, "embedding": "tiny-cnn", "threads": 1}
    opened = lambda **m: lookalike.open(  # noqa: E731
        home, ingest={"signals": ["phash", "embedding"], "workers": 2}, models={**base, **m}
    )
    with opened() as images:
        images.index([files[0].parent])
        ids = {
            Path(o.uri).name: i
            for i, places in images.catalog.images.occurrences(images.catalog.images.ok_ids()).items()
            for o in places
        }
    chosen = [p for p in files if p.name in ids][:: max(1, len(files) // limit)][:limit]
    copies = []
    for path in chosen:
        source = Source(path.read_bytes(), "auto")
        copies += [(ids[path.name], edit, EDITS[edit](source)) for edit in edits]
    rows = []
    for label, knobs in CONFIGS.items():
        with opened(**knobs) as images:
            if knobs.get("whiten"):
                images.fit_whitening()
            hits1 = hits10 = 0
            per_edit: dict[str, list[int]] = {e: [0, 0] for e in edits}
            for own, edit, data in copies:
                found = [r.image_id for r in images.search(data, k=10, signals=["embedding"], collapse=False)]
                hits1 += found[:1] == [own]
                hits10 += own in found
                per_edit[edit][0] += found[:1] == [own]
                per_edit[edit][1] += own in found
            n = len(copies)
            rows.append(
                [
                    label,
                    n,
                    f"{hits1 / n:.3f}",
                    f"{hits10 / n:.3f}",
                    *(f"{per_edit[e][0] / len(chosen):.2f}" for e in edits),
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=60, help="originals whose copies are searched (part 3)")
    parser.add_argument("--edits", default="crop80,bright130,grey,jpeg30,blur2")
    parser.add_argument("--queries", type=int, default=100, help="text queries (part 2)")
    parser.add_argument("--model", help="an installed model to add to part 1")
    parser.add_argument("--json")
    args = parser.parse_args()
    facts = machine()
    print_machine(facts)
    files = image_files(args.images)
    scratch = Path(tempfile.mkdtemp(prefix="lookalike-embedding-"))
    try:
        store = ModelStore(scratch / "models", threads=1)
        store.add("tiny-cnn", image_folder(scratch / "src-cnn", dim=64, size=224))
        store.add("tiny-clip", clip_folder(scratch / "src-clip"))
        if args.model:
            settings = load_settings().models  # the user's own models folder
            shutil.copytree(settings.folder / args.model, store.folder / args.model)
        print(f"\n## 1. embedding throughput, one thread ({len(files)} files)")
        throughput = part_throughput(store, files, args.model)
        print_table(["model", "batch", "images", "images/s"], throughput, markdown=True)
        print("\n## 2. text query (clip), one model thread")
        text = part_text(store, files, scratch, args.queries)
        print_table(
            ["step", "p50 ms", "p99 ms"],
            [
                [
                    f"Collection.search(text=...) over {text['images']} images",
                    f"{text['search']['p50_ms']:.2f}",
                    f"{text['search']['p99_ms']:.2f}",
                ],
                [
                    "embed_text alone",
                    f"{text['embed_text']['p50_ms']:.2f}",
                    f"{text['embed_text']['p99_ms']:.2f}",
                ],
            ],
            markdown=True,
        )
        edits = args.edits.split(",")
        print(f"\n## 3. whitening and alpha-QE (tiny random CNN, 64-d), copies of {args.limit} photos")
        effect = part_whitening(store, files, scratch, args.limit, edits)
        print_table(
            ["vectors", "queries", "recall@1", "recall@10", *(f"@1 {e}" for e in edits)],
            effect,
            markdown=True,
        )
        if args.json:
            write_json(
                args.json, {"machine": facts, "throughput": throughput, "text": text, "whitening": effect}
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
