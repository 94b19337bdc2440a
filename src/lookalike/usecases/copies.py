"""Which images are the same picture, for ``lookalike dupes``: pairs found, joined into groups.

Two passes over what the index already holds, no image decoded again:

- hashes (:func:`hash_links`): each image's stored phash rows (the image and its mirror image)
  and those rows transposed, searched against the phash index.  The hash is a square block of
  DCT coefficients, so the transposed hash of the image is the hash of the image transposed,
  and the transposed hash of its mirror image the hash of the image turned a quarter.  A pair
  turned the other way is found from its other member (its quarter turn is the first one), so
  every quarter turn, mirrored or not, but for a half turn and an upside-down flip, is found;
- keypoints (:func:`keypoint_links`, where a local signal is indexed and
  ``search.dupes_keypoints`` is on): each image's keypoints vote for the images that share
  descriptors, and the best few candidates not already in its group are checked
  geometrically.  A transform that maps most of each image onto the other (the matched region
  covers at least :data:`~lookalike.search.tiers.WHOLE` of both) and whose colour histograms
  agree is a ``copy`` (a picture turned a few degrees, which its hash no longer finds); one
  that covers less of either, or whose colours differ (the same caption over two photos
  verifies from the caption alone), is a ``crop``, kept only when asked (``search.dupes_tiers`` with ``crop``, ``--crop``).

:class:`Links` joins the pairs transitively (union-find) and keeps, for each image, the pair
that brought it into its group: its tier and the evidence, in words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lookalike.app import App
from lookalike.search.tiers import WHOLE
from lookalike.signals import Match, Region, Signal
from lookalike.signals.calibration import AGREE_THRESHOLD, COLOUR_AGREES, CROP_THRESHOLD
from lookalike.signals.phash import HASH_SIZE

__all__ = ["Link", "Links", "hash_links", "keypoint_links"]

NEIGHBOURS = 16  # nearest hashes looked at per query row
#: Keypoint candidates verified per image (most votes first), and images voted for per batch.
VERIFY = 4
VOTE_BATCH = 256
#: What a query row of :func:`hash_links` is: stored (plain, mirrored), then transposed.
ROW_NAMES = ("", "mirrored", "transposed", "turned a quarter")

Same = Callable[[np.ndarray, bool, np.ndarray | None], np.ndarray]


@dataclass(frozen=True)
class Link:
    """Why an image is in its group: it is the same picture as ``other`` (``tier`` copy or crop)."""

    other: int
    tier: str
    evidence: str


class Links:
    """Union-find over image ids; the first link that brought each image into its group."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.why: dict[int, Link] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(self, a: int, b: int, tier: str, evidence: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        self.parent[rb] = ra
        if b not in self.why:
            self.why[b] = Link(a, tier, evidence)
        elif a not in self.why:
            self.why[a] = Link(b, tier, evidence)

    def groups(self) -> list[list[int]]:
        """The groups of two images or more."""
        groups: dict[int, list[int]] = {}
        for image_id in self.parent:
            groups.setdefault(self.find(image_id), []).append(image_id)
        return [g for g in groups.values() if len(g) > 1]


def transposed(rows: np.ndarray) -> np.ndarray:
    """Packed hash rows of the transposed coefficient blocks (exact: the median is unchanged)."""
    n = len(rows)
    blocks = np.unpackbits(rows, axis=1).reshape(n, HASH_SIZE, HASH_SIZE).transpose(0, 2, 1)
    return np.packbits(blocks.reshape(n, -1), axis=1)


def hash_links(app: App, name: str, signal: Signal, same: Same, skip: set[int], links: Links) -> None:
    """Pairs whose hashes say they are the same picture: each image's hash and its mirror image's,
    then both transposed (the image transposed, turned a quarter); ``skip`` (junk) joins nothing."""
    index = app.indexes.get(name)
    telling_of = getattr(signal, "telling", None)
    for every in app.catalog.features.iterate(name, signal.spec.version, batch=4096):
        batch = [(i, p) for i, p in every if i not in skip]
        if not batch:
            continue
        ids = [i for i, _ in batch]
        stored = [signal.decode(p) for _, p in batch]
        telling = telling_of(np.stack([s[0] for s in stored])) if telling_of else np.ones(len(ids), bool)
        # the image, then its mirror image (and, where every one has a border, the whole image's)
        plain = [np.stack([s[row] for s in stored]) for row in range(min(len(s) for s in stored))]
        square = signal.spec.dim == HASH_SIZE * HASH_SIZE
        for row, queries in enumerate([*plain, *([transposed(q) for q in plain] if square else [])]):
            dist, found = index.search_batch(queries, NEIGHBOURS)
            unsure = (found >= 0) & (signal.similarity(dist) >= AGREE_THRESHOLD)  # where colours may decide
            rows = np.flatnonzero(unsure.any(axis=1))
            colours = _colours(app, {*(ids[j] for j in rows), *(int(o) for o in found[unsure])})
            for j, image_id in enumerate(ids):
                colour = _colour_gaps(colours, image_id, found[j]) if colours is not None else None
                close = (found[j] >= 0) & (found[j] != image_id) & same(dist[j], bool(telling[j]), colour)
                for k in np.flatnonzero(close):
                    other = int(found[j][k])
                    if other not in skip:
                        evidence = _hash_evidence(name, int(dist[j][k]), row >= len(plain), row % 2 == 1)
                        links.join(other, image_id, "copy", evidence)


def _hash_evidence(name: str, distance: int, turned: bool, mirrored: bool) -> str:
    how = ROW_NAMES[2 * turned + mirrored]
    return f"{name} distance {distance}/{HASH_SIZE * HASH_SIZE}" + (f" on the image {how}" if how else "")


def keypoint_links(app: App, skip: set[int], links: Links, crops: bool) -> int:
    """Pairs that local keypoints verify as the same picture (or, with ``crops``, a part of it);
    returns the geometric checks made (none without a local signal)."""
    local = app.signals.local()
    if not local:
        return 0
    name, signal = next(iter(local.items()))
    index = app.indexes.get(name)
    checked: set[tuple[int, int]] = set()
    for every in app.catalog.features.iterate(name, signal.spec.version, batch=VOTE_BATCH):
        batch = [(i, signal.decode(p)) for i, p in every if i not in skip]
        if not batch:
            continue
        rows = [signal.index_vectors(signal.index_rows(f)) for _, f in batch]
        if not sum(len(r) for r in rows):
            continue
        dist, found = index.search_batch(np.vstack(rows), signal.vote_neighbours)
        start = 0
        for (image_id, feature), own in zip(batch, rows, strict=True):
            d, f = dist[start : start + len(own)], found[start : start + len(own)]
            start += len(own)
            wanted = _candidates(image_id, d, f, signal.vote_distance, signal.min_votes, skip, links)
            wanted = [o for o in wanted if (min(o, image_id), max(o, image_id)) not in checked][:VERIFY]
            checked.update((min(o, image_id), max(o, image_id)) for o in wanted)
            stored = app.catalog.features.get(name, signal.spec.version, wanted)
            for other, payload in stored.items():
                match = signal.verify(feature, signal.decode(payload))
                if match is None or float(signal.similarity(np.array([match.inliers]))[0]) < CROP_THRESHOLD:
                    continue
                part = min(_area(match.query_region), _area(match.result_region))
                tier = "copy" if part >= WHOLE else "crop"
                if tier == "copy" and not _colours_agree(app, image_id, other):
                    tier = "crop"  # the same caption or logo over two photos: not the same picture
                if tier == "copy" or crops:
                    links.join(other, image_id, tier, _keypoint_evidence(name, match, image_id, other))
    return len(checked)


def _candidates(
    image_id: int,
    dist: np.ndarray,
    found: np.ndarray,
    near: float,
    least: int,
    skip: set[int],
    links: Links,
) -> list[int]:
    """Images by votes (one per query descriptor that finds one of theirs), most first, at least
    ``least`` votes, not ``image_id``, not junk, not already in its group."""
    close = (dist <= near) & (found >= 0)
    row = np.broadcast_to(np.arange(len(found))[:, None], found.shape)
    pairs = np.unique(np.stack([row[close], found[close]]), axis=1)
    images, counts = np.unique(pairs[1], return_counts=True)
    group = links.find(image_id)
    order = np.argsort(-counts, kind="stable")
    return [
        int(images[j])
        for j in order
        if counts[j] >= least
        and int(images[j]) != image_id
        and int(images[j]) not in skip
        and links.find(int(images[j])) != group
    ]


def _colours_agree(app: App, a: int, b: int) -> bool:
    """Whether the colour histograms of ``a`` and ``b`` agree (``COLOUR_AGREES``); True without the
    colour signal.  Keypoints over the whole of both images are not enough for a copy: the same
    caption over two photos verifies as a transform of the whole image from the caption alone."""
    colours = _colours(app, {a, b})
    if colours is None:
        return True
    gap = _colour_gaps(colours, a, np.array([b]))[0]
    return bool(gap <= COLOUR_AGREES)


def _area(region: Region) -> float:
    points = list(region)
    total = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    return abs(total) / 2


def _keypoint_evidence(name: str, match: Match, image_id: int, other: int) -> str:
    q, r = _area(match.query_region), _area(match.result_region)
    return (
        f"{name}: {match.inliers} inliers, the matched region is {q:.0%} of image {image_id} and {r:.0%} of image {other}"
        + (", mirrored" if match.mirrored else "")
    )


def _colours(app: App, ids: set[int]) -> dict[int, np.ndarray] | None:
    """The colour histograms of ``ids`` as indexed (Hellinger geometry); None without the signal."""
    colour = app.signals.get("colour")
    if colour is None:
        return None
    if not ids:
        return {}
    payloads = app.catalog.features.get("colour", colour.spec.version, sorted(ids))
    return {i: colour.index_vectors(colour.decode(p)[:1])[0] for i, p in payloads.items()}


def _colour_gaps(colours: dict[int, np.ndarray], image_id: int, others: np.ndarray) -> np.ndarray:
    """The colour distance of ``image_id`` to each of ``others`` (NaN where one has no histogram)."""
    own = colours.get(image_id)
    return np.array(
        [
            float(np.linalg.norm(own - colours[int(o)])) if own is not None and int(o) in colours else np.nan
            for o in others
        ]
    )
