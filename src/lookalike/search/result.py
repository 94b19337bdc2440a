"""A search result and the evidence of each signal: what the planner returns and every adapter shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lookalike.records import ImageInfo, Occurrence
from lookalike.search.sheets import Cell
from lookalike.search.tiers import MatchTier
from lookalike.search.words import Snippet, WordHit
from lookalike.signals import Match, Region

__all__ = ["Evidence", "Result", "place_dict"]


@dataclass(frozen=True)
class Evidence:
    """How one signal judged a result."""

    signal: str
    distance: float | None  # in the signal's metric (keypoints: verified inliers); None for text
    similarity: float
    match: Match | None = None  # a local signal's verified match: the matched region in both images
    note: str | None = None  # why there is no distance, when that is not for want of a feature
    row: int = 0  # the query row that came nearest (phash: 1 is the mirrored image)
    variant: str | None = None  # what that row is, when the signal says ("the mirrored query")
    telling: bool = True  # False: the stored feature cannot tell pictures apart (a flat image's hash)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"distance": self.distance, "similarity": round(self.similarity, 4)}
        if self.row:
            found["row"] = self.row
        if self.variant:
            found["variant"] = self.variant
        if self.note is not None:
            found["note"] = self.note
        if self.match is not None:
            found["region"] = {
                "query": [list(p) for p in self.match.query_region],
                "result": [list(p) for p in self.match.result_region],
                "mirrored": self.match.mirrored,
                "inliers": self.match.inliers,
            }
        return found


@dataclass(frozen=True)
class Result:
    """One search result: the image, its score, why it matched and where it was seen."""

    image_id: int
    score: float
    why: tuple[Evidence, ...]
    image: ImageInfo | None
    occurrences: tuple[Occurrence, ...]
    collapsed: tuple[int, ...] = ()  # near-identical images folded into this one
    collapsed_places: tuple[tuple[int, tuple[Occurrence, ...]], ...] = ()  # where each of them was seen
    collapsed_matches: tuple[tuple[float, MatchTier | None], ...] = ()  # each one's score and tier, if known
    auto_tags: tuple[str, ...] = ()  # a classifier's stored tags, then zero-shot tags (CLIP), best first
    snippets: tuple[Snippet, ...] = ()  # read text (OCR lines) holding the query's words, with boxes
    match: MatchTier | None = None  # exact, copy, crop or similar, with the evidence
    words: tuple[WordHit, ...] = ()  # the query's words each field holds (title, tags, path, ocr...)
    flags: dict[str, str] = field(default_factory=dict)  # flag signal -> reason (safety: the labels)
    tile: Cell | None = None  # a sheet found by one of its tiles: that tile's image id and box

    @property
    def region(self) -> tuple[Region, Region] | None:
        """The matched region as (polygon in the query, polygon in this image), if verified."""
        for e in self.why:
            if e.match is not None:
                return e.match.query_region, e.match.result_region
        return None

    @property
    def location(self) -> str:
        """The first place this image was seen ('tile (x, y, w, h) of sheet S' for a tile,
        'video.mp4 at 00:01:23' for a frame)."""
        if not self.occurrences:
            return f"id:{self.image_id}"
        first = self.occurrences[0]
        return first.describe_part() or first.uri

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.image_id,
            "score": round(self.score, 4),
            "why": {e.signal: e.as_dict() for e in self.why},
            "image": asdict(self.image) if self.image else None,
            "occurrences": [_place(o) for o in self.occurrences],
            "collapsed": list(self.collapsed),
            "collapsed_members": self.members(),
            "auto_tags": list(self.auto_tags),
            "snippets": [s.as_dict() for s in self.snippets],
            "match": self.match.as_dict() if self.match else None,
            "words": [w.as_dict() for w in self.words],
            "flags": dict(self.flags),
            "tile": {"id": self.tile.tile_id, "box": list(self.tile.box)} if self.tile else None,
        }

    def members(self) -> list[dict[str, Any]]:
        """The near-identical images folded into this one: id, score and tier where known, and
        every place each was seen."""
        places = dict(self.collapsed_places)
        matches = dict(zip(self.collapsed, self.collapsed_matches, strict=False))
        found = []
        for i in self.collapsed:
            score, match = matches.get(i, (None, None))
            known = {"score": round(score, 4)} if score is not None else {}
            found.append(
                {"id": i, **known, **({"match": match.as_dict()} if match else {})}
                | {"occurrences": [_place(o) for o in places.get(i, ())]}
            )
        return found


def _place(o: Occurrence) -> dict[str, Any]:
    return place_dict(o)


def place_dict(o: Occurrence) -> dict[str, Any]:
    """A place as JSON: its fields, and what a tile or a frame is part of ('tile_of'; 'frame_of',
    'video' and 'timestamp' in seconds)."""
    found = {k: v for k, v in asdict(o).items() if v not in (None, (), {})}
    if o.box:
        found["tile_of"] = o.describe_tile()
    if o.at is not None:
        found |= {"frame_of": o.describe_frame(), "video": o.video_uri, "timestamp": o.at}
    return found
