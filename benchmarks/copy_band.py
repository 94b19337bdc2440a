"""The copy tier's colour agreement: which pairs the phash alone, and the phash with colour, call copies.

Pairs are made as in calibrate.py: each original in the copy edits (``COPY_EDITS``) against
itself (a positive) and against ``--negatives`` other originals of its set (negatives), for
``--limit`` photos of ``--images`` and the hard cases of benchmarks/_hard_negatives.py
(drawings on one flat background, the demo's sample images, sprites of ``--gameart``).  Each
pair has its phash distance (the planner's: the nearest query row, a hue-turned one made farther
as the planner does) and its colour histograms'
Hellinger distance.  Printed, for the rule in the code
(:func:`lookalike.signals.calibration.is_copy`) and for others: recall of the positives per set
(photos also without rotate5, which the phash cannot find) and the false copies per set,
against the old rule (phash probability 0.99 on the table fitted without hard negatives: about
225 bits) as the baseline.

Example::

    python benchmarks/copy_band.py --images ../shared/data/photos_flickr --gameart ../shared/data/gameart
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import image_files, machine, print_machine, print_table, write_json
from _hard_negatives import drawings, samples, sprites
from calibrate import COPY_EDITS, features
from copy_detection import EDITS, Source

from lookalike.signals import distances
from lookalike.signals.calibration import AGREE_THRESHOLD, COLOUR_AGREES, COPY_THRESHOLD, is_copy
from lookalike.signals.colour import Colour
from lookalike.signals.phash import PHash

OLD_BITS = 225  # where the table fitted without hard negatives reached 0.99


def pairs(label: str, group: list[bytes], negatives: int, rng: random.Random) -> list[dict[str, Any]]:
    phash, colour = PHash(), Colour()
    hashes = [features(d, phash, False)[:1] for d in group]
    colours = [colour.index_vectors(features(d, colour, False)[:1]) for d in group]
    found = []
    for i, data in enumerate(group):
        source = Source(data, "auto")
        others = rng.sample([j for j in range(len(group)) if j != i], min(negatives, len(group) - 1))
        for name in sorted(COPY_EDITS):
            copy = EDITS[name](source)
            rows, hue = features(copy, phash, True), colour.index_vectors(features(copy, colour, True)[:1])
            for j in [i, *others]:
                found.append(
                    {
                        "set": label,
                        "edit": name,
                        "positive": j == i,
                        "phash": float(phash.penalised(distances(phash.spec.metric, rows, hashes[j])).min()),
                        "colour": float(np.linalg.norm(hue[0] - colours[j][0])),
                    }
                )
    return found


def score(found: list[dict[str, Any]], called: np.ndarray) -> dict[str, Any]:
    kind = np.array([f["set"] for f in found])
    positive = np.array([f["positive"] for f in found])
    edit = np.array([f["edit"] for f in found])
    sets = sorted(set(kind))
    return {
        "recall": {
            s: float(called[(kind == s) & positive].mean()) for s in sets if ((kind == s) & positive).any()
        },
        "recall_photos_no_rotate5": float(called[(kind == "photos") & positive & (edit != "rotate5")].mean()),
        "false": {s: int(called[(kind == s) & ~positive].sum()) for s in sets},
        "negatives": {s: int(((kind == s) & ~positive).sum()) for s in sets},
        "recall_by_edit": {
            e: float(called[(kind == "photos") & positive & (edit == e)].mean()) for e in sorted(COPY_EDITS)
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of photos")
    parser.add_argument("--gameart", type=Path, help="folder of pixel-art sprites (PNG on transparency)")
    parser.add_argument("--limit", type=int, default=60, help="photos to edit")
    parser.add_argument("--negatives", type=int, default=10, help="other originals per edit")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    facts = machine()
    print_machine(facts)
    started = time.perf_counter()
    rng = random.Random(args.seed)
    files = image_files(args.images)
    photos = [p.read_bytes() for p in files[:: max(1, len(files) // args.limit)][: args.limit]]
    found = pairs("photos", photos, args.negatives, rng)
    sets = {"drawings": drawings(40, args.seed), "samples": samples()}
    if args.gameart:
        sets["sprites"] = sprites(args.gameart, 80)
    for label, groups in sets.items():
        for group in groups:
            if len(group) > 1:
                found += pairs(label, group, args.negatives, rng)
    phash = PHash()
    d = np.array([f["phash"] for f in found])
    c = np.array([f["colour"] for f in found])
    p = phash.similarity(d)
    rules = {
        f"old: phash alone within {OLD_BITS} bits (baseline)": d <= OLD_BITS,
        f"phash alone, probability >= {COPY_THRESHOLD}": p >= COPY_THRESHOLD,
        "phash alone within 200 bits": d <= 200,
        "phash alone within 100 bits": d <= 100,
        f"the rule (is_copy): >= {COPY_THRESHOLD}, or >= {AGREE_THRESHOLD} with colour <= {COLOUR_AGREES}": np.asarray(
            is_copy(p, c)
        ),
    }
    results = {name: score(found, called) for name, called in rules.items()}
    sets_seen = sorted({f["set"] for f in found})
    rows = [
        [
            name,
            *(f"{r['recall'].get(s, float('nan')):.3f}" for s in sets_seen),
            f"{r['recall_photos_no_rotate5']:.3f}",
            *(f"{r['false'][s]}" for s in sets_seen),
        ]
        for name, r in results.items()
    ]
    print_table(
        [
            "rule",
            *(f"recall {s}" for s in sets_seen),
            "recall photos w/o rotate5",
            *(f"false {s}" for s in sets_seen),
        ],
        rows,
        markdown=args.markdown,
    )
    baseline = next(iter(results.values()))
    print("negative pairs: " + ", ".join(f"{s} {n}" for s, n in baseline["negatives"].items()))
    for name, r in results.items():
        print(
            f"{name}: photos recall by edit "
            + ", ".join(f"{e} {v:.3f}" for e, v in r["recall_by_edit"].items())
        )
    print(f"{len(found)} pairs in {time.perf_counter() - started:.0f} s")
    if args.json:
        write_json(args.json, {"machine": facts, "pairs": len(found), "rules": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
