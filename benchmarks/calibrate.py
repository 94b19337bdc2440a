"""Fit the calibration of the identity signals: P(same picture | distance) for phash and keypoints.

For ``--limit`` originals of DIR (evenly spaced, deterministic) every edit of
copy_detection.py's ``EDITS`` is made in memory (re-encodes, resizes, recolours,
greyscale, blur, border, text, mirror, rotations, crops).  Each edit is compared
with its own original (a positive pair; for phash only the copy edits of
``COPY_EDITS``, not crops and quarter turns) and with ``--negatives`` other originals
(negative pairs, drawn with a fixed seed), by each signal alone, exactly as the
planner re-scores a candidate:

    phash      Hamming distance of the stored hash to the nearest query row
               (the image and its mirror image)
    keypoints  inliers of the geometric check (0 when it finds no match)

A logistic curve ``P = 1 / (1 + exp((d - midpoint) / spread))`` (increasing in
inliers for keypoints) is fitted to each signal's pairs by weighted maximum
likelihood, positives and negatives weighted to equal totals (reported, and kept
for keypoints, whose random negative pairs never give inliers); phash gets a
monotone table instead (pooled adjacent violators over bins of 8 bits), with the
positives weighted to ``--prior`` (1%) of all pairs: the probability that a
candidate at that distance is the same picture when one candidate in a hundred is.  The fitted
parameters go to ``--out`` (the table the signals read: src/lookalike/search/
calibration.json), with the pair counts and the commit; ``--diagram`` draws the
reliability diagram (predicted probability against the share of positives, in
ten bins) as a PNG.

Hard negatives (benchmarks/_hard_negatives.py) join the photos' pairs: different pictures
whose hashes come close because they share a flat background: generated drawings (``--drawings``
per uniform background, half of them one large shape in the middle), the demo's sample images,
and pixel-art sprites of ``--gameart``, none two of a group with the same silhouette (a
recoloured or mirrored one is a copy).  Each is edited like the photos, against itself (a
positive, but for the sprites: a halved 16 px sprite is no fair copy) and against up to
``--negatives`` others of its group.  Of the negatives' weight the hard ones have
``--hard-share`` (half): the table then answers for a collection where half the near candidates
are graphics.  ``--pairs FILE`` keeps the photos' distances (the slow part) for a refit.

The copy tier's threshold is not set here but measured where it matters, in
search: ``copy_detection.py --tiers``; where the phash alone is unsure, the colour must agree
(``copy_band.py`` measures that rule on these pairs).

Example::

    python benchmarks/calibrate.py --images ../shared/data/photos_flickr --limit 150 --negatives 20 \\
        --gameart ../shared/data/gameart --out src/lookalike/signals/calibration.json --diagram docs/calibration.png
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import image_files, machine, print_machine
from _hard_negatives import drawings, samples, sprites
from copy_detection import EDITS, Source
from PIL import Image, ImageDraw

from lookalike.decode import decode
from lookalike.settings import DecodeSettings
from lookalike.signals import distances
from lookalike.signals.keypoints import Keypoints
from lookalike.signals.phash import PHash

SIGNALS = {"phash": "decreasing", "keypoints": "increasing"}
#: The edits whose pairs count as positives for the hash: the copy tier's edits.  Crops and quarter
#: turns are the crop tier's (keypoints) and the dihedral query variants'; as phash positives they
#: would sit among the unrelated pairs and lift the probability of every far pair.
COPY_EDITS = {"resize50", "jpeg30", "mirror", "rotate5", "bright130", "grey", "blur2", "border10", "text"}


def features(data: bytes, signal: Any, query: bool) -> np.ndarray:
    image = decode(data, DecodeSettings(work_size=max(512, signal.input_size)), None, signal.input_size)
    return signal.query(image) if query else signal.extract(image)


def pair_distances(originals: list[bytes], negatives: int, seed: int) -> dict[str, dict[str, list[float]]]:
    """Per signal: distances of positive pairs (an edit and its original) and negative pairs."""
    phash, keypoints = PHash(), Keypoints()
    stored = {
        "phash": [features(d, phash, False)[:1] for d in originals],
        "keypoints": [features(d, keypoints, False) for d in originals],
    }
    rng = random.Random(seed)
    found: dict[str, dict[str, list[float]]] = {s: {"positive": [], "negative": []} for s in SIGNALS}
    for i, data in enumerate(originals):
        source = Source(data, "auto")
        others = rng.sample([j for j in range(len(originals)) if j != i], min(negatives, len(originals) - 1))
        for name, edit in EDITS.items():
            copy = edit(source)
            rows = features(copy, phash, True)
            for j, kind in [
                *([(i, "positive")] if name in COPY_EDITS else []),
                *((j, "negative") for j in others),
            ]:
                found["phash"][kind].append(
                    float(distances(phash.spec.metric, rows, stored["phash"][j]).min())
                )
            query = features(copy, keypoints, True)
            for j, kind in [(i, "positive"), *((j, "negative") for j in others[:3])]:
                match = keypoints.verify(query, stored["keypoints"][j])
                found["keypoints"][kind].append(float(match.inliers if match else 0))
        print(f"\r{i + 1}/{len(originals)} originals", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return found


def hard_distances(groups: list[list[bytes]], negatives: int, seed: int) -> dict[str, list[float]]:
    """Phash distances within groups of hard cases: each original's copy edits against itself
    (positives) and against up to ``negatives`` other originals of its group (negatives)."""
    phash = PHash()
    rng = random.Random(seed)
    found: dict[str, list[float]] = {"positive": [], "negative": []}
    for group in groups:
        stored = [features(d, phash, False)[:1] for d in group]
        for i, data in enumerate(group):
            source = Source(data, "auto")
            others = rng.sample([j for j in range(len(group)) if j != i], min(negatives, len(group) - 1))
            for name in sorted(COPY_EDITS):
                rows = features(EDITS[name](source), phash, True)
                for j in [i, *others]:
                    d = float(distances(phash.spec.metric, rows, stored[j]).min())
                    found["positive" if j == i else "negative"].append(d)
    return found


def weights(pairs: dict[str, list[float]], hard_share: float) -> dict[str, np.ndarray]:
    """Each pair's weight: the positives (edited copies of photos and of hard cases) pooled, each
    kind of pair summing to 1; of the negatives, the hard ones weigh ``hard_share`` in all."""
    pos = np.array(pairs["positive"] + pairs.get("hard_positive", []), dtype=np.float64)
    easy, hard = np.array(pairs["negative"]), np.array(pairs.get("hard_negative", []))
    share = hard_share if len(hard) else 0.0
    return {
        "pos": pos,
        "pos_w": np.full(len(pos), 1 / len(pos)),
        "neg": np.concatenate([easy, hard]),
        "neg_w": np.concatenate(
            [np.full(len(easy), (1 - share) / len(easy)), np.full(len(hard), share / max(1, len(hard)))]
        ),
    }


def fit(positive: list[float], negative: list[float], direction: str) -> tuple[float, float]:
    """(midpoint, spread) of the weighted logistic fit, by Newton's method on (a, b) of a + b*d."""
    d = np.array(positive + negative, dtype=np.float64)
    y = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    w = np.where(y == 1, 0.5 / len(positive), 0.5 / len(negative))
    scale = d.std() or 1.0
    x = np.stack([np.ones_like(d), (d - d.mean()) / scale], axis=1)
    beta = np.zeros(2)
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -50, 50)))
        gradient = x.T @ (w * (y - p))
        hessian = (x * (w * p * (1 - p))[:, None]).T @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    a, b = beta[0] - beta[1] * d.mean() / scale, beta[1] / scale  # back to a + b*d
    midpoint, spread = -a / b, abs(1 / b)
    if (direction == "decreasing") != (b < 0):
        raise SystemExit(f"the fit runs the wrong way ({direction}): b={b}")
    return float(midpoint), float(spread)


def isotonic(pairs: dict[str, np.ndarray], direction: str, width: float, prior: float) -> list[list[float]]:
    """A monotone table [[distance, P], ...]: in bins of ``width``, the share of positives when a
    share ``prior`` of all pairs are positives (``pairs``: :func:`weights`), made monotone by
    pooling adjacent violators."""
    pos, neg = pairs["pos"], pairs["neg"]
    top = max(pos.max(), neg.max())
    edges = np.arange(0, top + width, width)
    wp = prior * np.histogram(pos, edges, weights=pairs["pos_w"])[0]
    wn = (1 - prior) * np.histogram(neg, edges, weights=pairs["neg_w"])[0]
    blocks = [[float(p), float(p + n), [i]] for i, (p, n) in enumerate(zip(wp, wn, strict=True)) if p + n > 0]
    sign = -1 if direction == "decreasing" else 1  # PAV makes the sequence non-decreasing in sign * P
    merged: list[list[Any]] = []
    for block in blocks:
        merged.append(block)
        while len(merged) > 1 and sign * merged[-2][0] / merged[-2][1] > sign * merged[-1][0] / merged[-1][1]:
            last = merged.pop()
            merged[-1] = [merged[-1][0] + last[0], merged[-1][1] + last[1], merged[-1][2] + last[2]]
    table = []
    for share, total, members in merged:
        centre = float(np.mean([(edges[i] + edges[i + 1]) / 2 for i in members]))
        table.append([round(centre, 2), round(share / total, 4)])
    return table


def probability(d: np.ndarray, midpoint: float, spread: float, direction: str) -> np.ndarray:
    z = (d - midpoint) / spread
    return 1 / (1 + np.exp(np.clip(z if direction == "decreasing" else -z, -50, 50)))


def predict(entry: dict[str, Any], d: np.ndarray) -> np.ndarray:
    """P(same picture) by a fitted entry: its monotone table if it has one, else its logistic curve."""
    if "table" in entry:
        xs, ps = zip(*entry["table"], strict=True)
        return np.interp(d, xs, ps)
    return probability(d, entry["midpoint"], entry["spread"], entry["direction"])


def reliability(
    found: dict[str, dict[str, list[float]]], table: dict[str, Any], prior: float, hard_share: float
) -> dict[str, list[list[float]]]:
    """Per signal, ten bins of predicted probability: [mean predicted, share positive, pairs], the
    pairs weighted as the table was fitted (positives ``prior`` of all pairs, hard negatives
    ``hard_share`` of the negatives)."""
    bins: dict[str, list[list[float]]] = {}
    for name, pairs in found.items():
        w = weights(pairs, hard_share)
        pos, neg = predict(table[name], w["pos"]), predict(table[name], w["neg"])
        share = prior if table[name].get("prior") else 0.5
        rows = []
        for lo in np.arange(0, 1, 0.1):
            in_pos, in_neg = (pos >= lo) & (pos < lo + 0.1 + 1e-9), (neg >= lo) & (neg < lo + 0.1 + 1e-9)
            wp, wn = share * w["pos_w"][in_pos].sum(), (1 - share) * w["neg_w"][in_neg].sum()
            if wp + wn:
                predicted = (
                    share * (w["pos_w"] * pos)[in_pos].sum() + (1 - share) * (w["neg_w"] * neg)[in_neg].sum()
                ) / (wp + wn)
                rows.append([float(predicted), float(wp / (wp + wn)), int(in_pos.sum() + in_neg.sum())])
        bins[name] = rows
    return bins


def draw(bins: dict[str, list[list[float]]], path: Path) -> None:
    size, pad = 360, 40
    image = Image.new("RGB", (len(bins) * (size + pad) + pad, size + 2 * pad), "white")
    pen = ImageDraw.Draw(image)
    for k, (name, rows) in enumerate(bins.items()):
        x0 = pad + k * (size + pad)

        def at(p: float, q: float, x0: int = x0) -> tuple[float, float]:
            return x0 + p * size, pad + (1 - q) * size

        pen.rectangle((*at(0, 1), *at(1, 0)), outline="black")
        pen.line((*at(0, 0), *at(1, 1)), fill=(180, 180, 180), width=1)
        points = [at(p, q) for p, q, _ in rows]
        pen.line(points, fill=(30, 90, 200), width=2)
        for (px, py), (_, _, n) in zip(points, rows, strict=True):
            r = 2 + min(6, np.log10(n + 1) * 2)
            pen.ellipse((px - r, py - r, px + r, py + r), fill=(30, 90, 200))
        pen.text(
            (x0, 8), f"{name}: predicted (x) against observed (y), pairs weighted as fitted", fill="black"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


#: The hard cases whose edited copies count as positives too.  Not the sprites': halving a 16 px
#: sprite or writing text over it leaves little of the picture, and those copies, far from their
#: originals, would lift the probability of the distances where unrelated sprites are.
HARD_POSITIVES = ("drawings", "samples")


def hard_sets(args: argparse.Namespace) -> dict[str, list[list[bytes]]]:
    """The hard cases by kind, each a list of groups whose members are different pictures."""
    sets = {"drawings": drawings(args.drawings, args.seed), "samples": samples()}
    if args.gameart:
        sets["sprites"] = sprites(args.gameart, args.sprites)
    return {k: v for k, v in sets.items() if sum(len(g) for g in v) > 1}


def report_hard(pairs: dict[str, list[float]]) -> None:
    """How close each kind of pair comes: the share within 100, 150, 200 and 225 bits."""
    for kind, found in sorted(pairs.items()):
        if kind.startswith(("hard_", "positive", "negative")) and kind not in (
            "hard_positive",
            "hard_negative",
        ):
            d = np.array(found)
            shares = ", ".join(f"<= {b}: {np.mean(d <= b):.3f}" for b in (100, 150, 200, 225))
            print(f"phash {kind}: {len(d)} pairs, median {np.median(d):.0f}; {shares}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of photos (recursively)")
    parser.add_argument("--limit", type=int, default=150, help="originals to edit")
    parser.add_argument("--negatives", type=int, default=20, help="other originals per edit (keypoints: 3)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--prior",
        type=float,
        default=0.01,
        help="share of candidates that are the same picture (the table's odds)",
    )
    parser.add_argument(
        "--gameart", type=Path, help="folder of pixel-art sprites for hard negatives (PNG on transparency)"
    )
    parser.add_argument("--sprites", type=int, default=80, help="sprites of --gameart to use")
    parser.add_argument("--drawings", type=int, default=40, help="generated drawings per uniform background")
    parser.add_argument(
        "--hard-share",
        type=float,
        default=0.5,
        help="weight of the hard negatives among all negatives (flat backgrounds, sprites, the demo's images)",
    )
    parser.add_argument("--pairs", type=Path, help="reuse the distances saved here, or save them here")
    parser.add_argument("--out", type=Path, help="write the fitted table here (JSON)")
    parser.add_argument("--diagram", type=Path, help="write the reliability diagram here (PNG)")
    args = parser.parse_args(argv)
    facts = machine()
    print_machine(facts)
    started = time.perf_counter()
    if args.pairs and args.pairs.is_file():
        found = json.loads(args.pairs.read_text(encoding="utf-8"))
        print(f"the photos' distances from {args.pairs}")
    else:
        files = image_files(args.images)
        step = max(1, len(files) // args.limit)
        originals = [p.read_bytes() for p in files[::step][: args.limit]]
        found = pair_distances(originals, args.negatives, args.seed)
        if args.pairs:
            args.pairs.write_text(json.dumps(found), encoding="utf-8")
    for kind, groups in hard_sets(args).items():
        hard = hard_distances(groups, args.negatives, args.seed)
        if kind in HARD_POSITIVES:
            found["phash"][f"hard_positive:{kind}"] = hard["positive"]
        found["phash"][f"hard_negative:{kind}"] = hard["negative"]
    for name in found:
        for kind in ("positive", "negative"):
            found[name][f"hard_{kind}"] = [
                d for k, v in found[name].items() if k.startswith(f"hard_{kind}:") for d in v
            ]
    report_hard(found["phash"])
    table: dict[str, Any] = {}
    for name, pairs in found.items():
        midpoint, spread = fit(pairs["positive"], pairs["negative"], SIGNALS[name])
        entry: dict[str, Any] = {"version": 1, "direction": SIGNALS[name]}
        if name == "phash":  # a monotone table: copies that phash cannot find (crops, quarter turns) sit
            # among the unrelated pairs, and a logistic curve would move its midpoint there
            entry["table"] = isotonic(weights(pairs, args.hard_share), SIGNALS[name], 8.0, args.prior)
            entry |= {"prior": args.prior, "hard_share": args.hard_share}
        else:  # the keypoints' hand-set curve stays: random unrelated pairs never give inliers, so a
            # fit would trust a handful of them; the benchmark measures the crop tier instead
            entry |= {"midpoint": 10.0, "spread": 2.0}
        entry |= {"positive_pairs": len(pairs["positive"]), "negative_pairs": len(pairs["negative"])}
        if pairs.get("hard_negative"):
            entry |= {
                "hard_positive_pairs": len(pairs["hard_positive"]),
                "hard_negative_pairs": len(pairs["hard_negative"]),
            }
        table[name] = entry
        pos, neg = np.array(pairs["positive"]), np.array(pairs["negative"])
        print(
            f"{name}: logistic fit midpoint {midpoint:.2f}, spread {spread:.2f}; positives median {np.median(pos):.0f}"
            f" (p90 {np.percentile(pos, 90 if SIGNALS[name] == 'decreasing' else 10):.0f}), negatives median "
            f"{np.median(neg):.0f} (p1 {np.percentile(neg, 1 if SIGNALS[name] == 'decreasing' else 99):.0f})"
        )
    bins = reliability(found, table, args.prior, args.hard_share)
    for name, rows in bins.items():
        print(f"{name} reliability: " + ", ".join(f"{p:.2f}->{q:.2f} ({n})" for p, q, n in rows))
    print(f"{len(EDITS)} edits of each original in {time.perf_counter() - started:.0f} s")
    if args.out:
        fitted = {
            "fitted_by": "benchmarks/calibrate.py " + " ".join(argv or sys.argv[1:]),
            "commit": facts.get("git_commit", ""),
            "edits": {"phash": sorted(COPY_EDITS), "keypoints": sorted(EDITS)},
            "signals": table,
        }
        args.out.write_text(json.dumps(fitted, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    if args.diagram:
        draw(bins, args.diagram)
        print(f"wrote {args.diagram}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
