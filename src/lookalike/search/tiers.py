"""What each hit is: the same file, a copy of the picture, a part of it, or only alike.

A result's tier comes from its evidence, best first:

- ``exact``: the same bytes as the query;
- ``copy``: the phash (on the image or its mirror image) says it is the same picture with a
  calibrated probability of at least ``COPY_THRESHOLD``, or of at least ``AGREE_THRESHOLD`` with
  the colour histograms agreeing (see :func:`lookalike.signals.calibration.is_copy`);
- ``crop``: local keypoints verified one geometric transform that maps a part of one
  image onto the other (the matched region covers less than :data:`WHOLE` of either),
  with a probability of at least ``CROP_THRESHOLD``; over the whole picture, a ``copy``;
- ``similar``: anything else: it only looks alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from lookalike.signals import Match, Region
from lookalike.signals.calibration import COPY_THRESHOLD, CROP_THRESHOLD, is_copy

__all__ = ["CONTENT_CUT", "HEADINGS", "MatchTier", "Tier", "judge", "sections", "worth_showing"]

#: A look-alike is shown by default when a content signal (a model's embedding) finds it at least
#: this similar: the midpoint of the model's calibrated curve.
CONTENT_CUT = 0.5
_WORDS = ("text", "_text")  # evidence of a word query: its hits are shown whatever their tier
T = TypeVar("T")

#: A matched region covering less of an image than this makes the hit a crop.
WHOLE = 0.8


class Evidence(Protocol):
    """What the tiers read of a signal's judgement (the planner's Evidence)."""

    @property
    def signal(self) -> str: ...
    @property
    def distance(self) -> float | None: ...
    @property
    def similarity(self) -> float: ...
    @property
    def match(self) -> Match | None: ...
    @property
    def variant(self) -> str | None: ...
    @property
    def telling(self) -> bool: ...


class Tier(StrEnum):
    EXACT = "exact"
    COPY = "copy"
    CROP = "crop"
    SIMILAR = "similar"


#: How a list of results names each tier's section, in the order the sections come.
HEADINGS = {Tier.EXACT: "Same image", Tier.COPY: "Copies", Tier.CROP: "Crops", Tier.SIMILAR: "Look-alikes"}


@dataclass(frozen=True)
class MatchTier:
    """A result's tier, the probability that it is the same picture, and the evidence for both."""

    tier: Tier
    probability: float
    evidence: str

    def as_dict(self) -> dict[str, Any]:
        return {"tier": self.tier.value, "probability": round(self.probability, 4), "evidence": self.evidence}


def judge(why: Sequence[Evidence], same_bytes: bool, identity: Collection[str], bits: int) -> MatchTier:
    """The tier of a result from its evidence; ``identity``: the signals that say "same picture"
    (their similarity is a calibrated probability); ``bits``: the phash's length, for the evidence."""
    judged = [e for e in why if e.signal in identity and e.telling]
    probability = max((e.similarity for e in judged), default=0.0)
    if same_bytes:
        return MatchTier(Tier.EXACT, 1.0, "the same bytes as the query")
    best = max((e for e in judged if e.match is None), key=lambda e: e.similarity, default=None)
    colour = next((e.distance for e in why if e.signal == "colour" and e.distance is not None), None)
    if best is not None and best.distance is not None and is_copy(best.similarity, colour):
        row = f" on {best.variant}" if best.variant else ""
        agrees = f", colours agree ({colour:.2f})" if best.similarity < COPY_THRESHOLD else ""
        return MatchTier(
            Tier.COPY, probability, f"{best.signal} distance {best.distance:.0f}/{bits}{row}{agrees}"
        )
    local = next((e for e in judged if e.match is not None), None)
    if local is not None and local.match is not None and local.similarity >= CROP_THRESHOLD:
        part = min(_area(local.match.query_region), _area(local.match.result_region))
        evidence = f"{local.match.inliers} inliers, region {_box(local.match.result_region)} of it" + (
            ", mirrored" if local.match.mirrored else ""
        )
        return MatchTier(Tier.CROP if part < WHOLE else Tier.COPY, local.similarity, evidence)
    return MatchTier(Tier.SIMILAR, probability, _alike(why))


def _alike(why: Sequence[Evidence]) -> str:
    best = max(why, key=lambda e: e.similarity, default=None)
    if best is None or best.similarity < 0.05:
        return "no signal finds it alike"
    return f"looks alike ({best.signal} {best.similarity:.2f})"


def _area(region: Region) -> float:
    """The area of a polygon in unit coordinates (the shoelace formula)."""
    points = list(region)
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def _box(region: Region) -> str:
    xs, ys = zip(*region, strict=True)
    return f"x {min(xs):.0%}-{max(xs):.0%}, y {min(ys):.0%}-{max(ys):.0%}"


def worth_showing(results: Sequence[Any], content: Collection[str]) -> tuple[list[Any], list[Any]]:
    """(results to show, weaker ones to keep a click away) of an image query: every exact, copy
    and crop hit, and the look-alikes a ``content`` signal finds at least :data:`CONTENT_CUT`
    alike.  A query with words shows everything: its hits are judged by words."""
    if any(e.signal.endswith(_WORDS) for r in results for e in r.why):
        return list(results), []
    shown: list[Any] = []
    weaker: list[Any] = []
    for r in results:
        alike = any(e.signal in content and e.similarity >= CONTENT_CUT for e in r.why)
        (shown if r.match is None or r.match.tier != Tier.SIMILAR or alike else weaker).append(r)
    return shown, weaker


def sections(items: Sequence[T], tier: Callable[[T], str | None]) -> list[tuple[Tier, list[T]]]:
    """``items`` in sections by their ``tier`` (a result without one counts as a look-alike): the
    same image, copies, crops, look-alikes, in that order, each in its own order; empty ones left out."""
    grouped: dict[Tier, list[T]] = {t: [] for t in HEADINGS}
    for item in items:
        grouped[Tier(tier(item) or Tier.SIMILAR)].append(item)
    return [(t, found) for t, found in grouped.items() if found]
