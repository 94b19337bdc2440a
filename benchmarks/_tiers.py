"""copy_detection.py --tiers: precision of the ``copy`` tier on queries that match nothing, recall on edits.

The originals (every other image of DIR, up to ``--limit``) are indexed with the
default signals.  Two sets of queries go through ``Collection.search(k=1, collapse=False)``:

- **edited copies** of the first ``--tier-positives`` originals, one per copy edit
  (benchmarks/calibrate.py ``COPY_EDITS``): the hit is right when the top result is the
  original and its tier is ``copy`` or ``exact``;
- **non-matching queries**: the images of DIR that were not indexed, each as it is and
  in four edits (jpeg30, mirror, grey, resize50), at least 1,000 in all: any ``copy``,
  ``exact`` or ``crop`` tier on them is a false copy, except when the top result is the
  same picture in the data (``TWINS``, exact_duplicate_groups.json): those queries leave
  the non-matching set.

precision = right copies / every query whose top result is tiered a copy (of either
set); recall = right copies / edited copies, per edit.  The same figures are printed
for other thresholds of the top result's calibrated probability (``match.probability``),
which shows where ``COPY_THRESHOLD`` sits.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from calibrate import COPY_EDITS
from copy_detection import EDITS, Source

import lookalike
from lookalike.signals.calibration import COPY_THRESHOLD

NEGATIVE_EDITS = ("jpeg30", "mirror", "grey", "resize50")
#: Pairs of photos_flickr that are the same picture though not the same bytes, checked by eye:
#: a "non-matching" query that finds its twin found a true copy.  Byte-identical groups come
#: from the folder's exact_duplicate_groups.json.
TWINS = [("11.jpg", "12.jpg"), ("396.jpg", "397.jpg")]
THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def twins(files: list[Path]) -> dict[str, set[str]]:
    """File name -> the names of the same picture elsewhere in the folder."""
    groups = [set(pair) for pair in TWINS]
    for listed in {p.parent / "exact_duplicate_groups.json" for p in files} | {
        p.parent.parent / "exact_duplicate_groups.json" for p in files
    }:
        if listed.is_file():
            groups += [set(group) for group in json.loads(listed.read_text(encoding="utf-8"))]
    found: dict[str, set[str]] = {}
    for group in groups:
        for name in group:
            found.setdefault(name, set()).update(group - {name})
    return found


def run_tiers(files: list[Path], home: Path, limit: int, positives: int) -> dict[str, Any]:
    indexed, others = files[0::2][:limit], files[1::2]
    same = twins(files)
    started = time.perf_counter()
    with lookalike.open(home / "tiers", ingest={"workers": 1}) as collection:
        collection.index(indexed)
        ids = {str(p): collection.catalog.images.ids_at(str(p.resolve())) for p in indexed[:positives]}
        hits: list[dict[str, Any]] = []
        for path in indexed[:positives]:
            source = Source(path.read_bytes(), "auto")
            for edit in sorted(COPY_EDITS):
                hits.append(_top(collection, EDITS[edit](source), edit, set(ids[str(path)]), path.name))
        for path in others:
            data = path.read_bytes()
            source = Source(data, "auto")
            queries = [("as is", data), *((e, EDITS[e](source)) for e in NEGATIVE_EDITS)]
            for edit, query in queries:
                hit = _top(collection, query, edit, None, path.name)
                hit["twin"] = hit["found"] in same.get(path.name, set())
                hits.append(hit)
    return {"indexed": len(indexed), "seconds": time.perf_counter() - started, **summarise(hits)}


def _top(collection: Any, data: bytes, edit: str, truth: set[int] | None, name: str) -> dict[str, Any]:
    found = collection.search(data, k=1, collapse=False)
    top = found[0] if found else None
    return {
        "query": name,
        "found": Path(top.location).name if top is not None else None,
        "evidence": top.match.evidence if top is not None and top.match else None,
        "edit": edit,
        "positive": truth is not None,
        "right": bool(top is not None and truth is not None and top.image_id in truth),
        "tier": top.match.tier.value if top is not None and top.match else "none",
        "probability": top.match.probability if top is not None and top.match else 0.0,
    }


def summarise(hits: list[dict[str, Any]]) -> dict[str, Any]:
    def at(threshold: float | None) -> dict[str, Any]:
        def called(h: dict[str, Any]) -> bool:
            if threshold is None:
                return h["tier"] in ("copy", "exact", "crop")
            return h["tier"] == "exact" or h["probability"] >= threshold

        said = [h for h in hits if called(h)]
        right = [h for h in said if h["positive"] and h["right"]]
        false = [h for h in said if not (h["positive"] and h["right"]) and not h.get("twin")]
        positives = [h for h in hits if h["positive"]]
        return {
            "precision": len(right) / (len(right) + len(false)) if right or false else 1.0,
            "recall": len(right) / len(positives) if positives else 0.0,
            "false_copies": len(false),
            "false_on_non_matching": sum(1 for h in said if not h["positive"] and not h.get("twin")),
        }

    negatives = [h for h in hits if not h["positive"] and not h.get("twin")]
    by_edit = {}
    for edit in sorted({h["edit"] for h in hits if h["positive"]}):
        mine = [h for h in hits if h["positive"] and h["edit"] == edit]
        by_edit[edit] = sum(1 for h in mine if h["right"] and h["tier"] in ("copy", "exact")) / len(mine)
    false = [
        h
        for h in hits
        if h["tier"] in ("copy", "exact", "crop") and not (h["positive"] and h["right"]) and not h.get("twin")
    ]
    return {
        "false_copies": [f"{h['query']} ({h['edit']}) -> {h['found']}: {h['evidence']}" for h in false],
        "queries": {"edited copies": sum(1 for h in hits if h["positive"]), "non-matching": len(negatives)},
        "tier": at(None),
        "thresholds": {str(t): at(t) for t in THRESHOLDS},
        "recall_by_edit": by_edit,
        "copy_threshold": COPY_THRESHOLD,
    }


def print_tiers(figures: dict[str, Any], markdown: bool) -> None:
    from _common import print_table

    print(
        f"\nmatch tiers: {figures['indexed']} originals indexed; {figures['queries']['edited copies']} edited copies, "
        f"{figures['queries']['non-matching']} non-matching queries ({figures['seconds']:.0f} s)"
    )
    rows = [
        ["tier (COPY_THRESHOLD " + str(figures["copy_threshold"]) + ")", *_cells(figures["tier"])],
        *([f"probability >= {t}", *_cells(f)] for t, f in figures["thresholds"].items()),
    ]
    print_table(["copy when", "precision", "recall", "false copies", "on non-matching"], rows, markdown)
    for line in figures["false_copies"]:
        print(f"  false copy: {line}")
    print_table(
        ["edit", "copy-tier recall@1"],
        [[e, f"{r:.3f}"] for e, r in figures["recall_by_edit"].items()],
        markdown,
    )


def _cells(f: dict[str, Any]) -> list[str]:
    return [
        f"{f['precision']:.4f}",
        f"{f['recall']:.3f}",
        str(f["false_copies"]),
        str(f["false_on_non_matching"]),
    ]
