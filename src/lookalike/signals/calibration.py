"""P(same picture | distance) for the identity signals: the tables benchmarks/calibrate.py fits.

``calibration.json`` beside this module is data, not code: it is written by
``benchmarks/calibrate.py`` from edited copies and unrelated pairs (the command and the
commit are in the file; how it was fitted is in docs/benchmarks.md, "Match tiers").  A
signal whose name and version have a table there turns its distances into that
probability; without one it keeps its own curve.  :data:`COPY_THRESHOLD` is the probability
from which a hit counts as a copy, measured for precision by
``benchmarks/copy_detection.py --tiers``.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import numpy as np

__all__ = ["COPY_THRESHOLD", "CROP_THRESHOLD", "fitted", "probability"]

#: From this calibrated probability a hit is the same picture (the ``copy`` tier): about 225 bits
#: of the phash, where ``copy_detection.py --tiers`` found no false copy in 1,405 queries.
COPY_THRESHOLD = 0.99
#: From this keypoints probability (their hand-set curve: 15 inliers) a verified region is a crop.
CROP_THRESHOLD = 0.9


@functools.cache
def _tables() -> dict[str, Any]:
    try:
        text = resources.files("lookalike.signals").joinpath("calibration.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return dict(json.loads(text).get("signals", {}))


def fitted(name: str, version: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The monotone table (distances, probabilities) of a signal version, if one was fitted."""
    entry = _tables().get(name)
    if not entry or entry.get("version") != version or "table" not in entry:
        return None
    xs, ps = zip(*entry["table"], strict=True)
    return np.asarray(xs, dtype=np.float64), np.asarray(ps, dtype=np.float64)


def probability(table: tuple[np.ndarray, np.ndarray], distance: np.ndarray) -> np.ndarray:
    """The table read at ``distance`` (linear between its points; a missing distance is 0)."""
    d = np.asarray(distance, dtype=np.float64)
    found = np.interp(np.nan_to_num(d, nan=np.inf, posinf=1e9), *table)
    return np.where(np.isfinite(d), found, 0.0)
