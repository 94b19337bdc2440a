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

__all__ = [
    "AGREE_THRESHOLD",
    "COLOUR_AGREES",
    "COPY_THRESHOLD",
    "CROP_THRESHOLD",
    "fitted",
    "is_copy",
    "probability",
]

#: From this calibrated probability a hit is the same picture by the phash alone (the ``copy``
#: tier): about 60 of 576 bits.  The table is fitted with hard negatives (pictures on one flat
#: background, sprites), which come as close as 60 bits; unrelated photos never come within 250.
COPY_THRESHOLD = 0.95
#: From this probability (about 220 bits) up to ``COPY_THRESHOLD`` a hit is a copy only when the
#: colour histograms agree too (:func:`is_copy`): there, copies of photos (text over them, a
#: blur, a rotation) and different pictures on one background (a disc and a colour wheel on black)
#: are both found, and the colours tell most of them apart.
AGREE_THRESHOLD = 0.08
#: The colour signal's Hellinger distance (0..1) within which the colours agree: copies there with
#: text or blurred are within 0.13 (90%), turned 5 degrees 0.25; different pictures in the band
#: 0.37 and more, but for sprites of one palette.  A framed copy is further (its frame's colour):
#: it needs the phash alone (``benchmarks/copy_band.py``, docs/benchmarks.md).
COLOUR_AGREES = 0.28
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


def is_copy(probability: Any, colour: Any = None) -> Any:
    """Whether a hit is the same picture (elementwise on arrays): its phash probability alone at
    ``COPY_THRESHOLD``, or from ``AGREE_THRESHOLD`` with the colour distance ``colour`` (None or
    NaN where unknown: no agreement) within ``COLOUR_AGREES``."""
    p = np.asarray(probability, dtype=np.float64)
    sure = p >= COPY_THRESHOLD
    if colour is None:
        return sure if sure.ndim else bool(sure)
    c = np.asarray(colour, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        found = sure | ((p >= AGREE_THRESHOLD) & (np.nan_to_num(c, nan=np.inf) <= COLOUR_AGREES))
    return found if found.ndim else bool(found)


def probability(table: tuple[np.ndarray, np.ndarray], distance: np.ndarray) -> np.ndarray:
    """The table read at ``distance`` (linear between its points; a missing distance is 0)."""
    d = np.asarray(distance, dtype=np.float64)
    found = np.interp(np.nan_to_num(d, nan=np.inf, posinf=1e9), *table)
    return np.where(np.isfinite(d), found, 0.0)
