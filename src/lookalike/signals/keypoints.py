"""Local keypoints (OpenCV ORB) and the geometric check that finds crops and partial copies.

A feature is a uint8 array of 36-byte rows.  Row 0 is a header: the analysed
view's width and height and how many rows follow that belong to the image
itself (uint16 each).  Every further row is one keypoint: its 32-byte ORB
descriptor, then its x and y in the view as uint16 in 1/64 pixel.  At most
``MAX_KEYPOINTS`` rows, spread over a grid, so a feature is at most 9,036 bytes.

A stored feature holds the image's own keypoints; a query feature adds those
of the mirrored image (positions mapped back into the unmirrored frame), so a
mirrored crop verifies as a transform with a reflection.

Verification (:meth:`Keypoints.verify`) matches descriptors with a ratio test,
fits a homography with MAGSAC++ (``cv2.USAC_MAGSAC``), or a similarity by
RANSAC when the homography fails, and returns the inlier count and the matched
region as a polygon in each image (coordinates as fractions of width and height).
"""

from __future__ import annotations

import cv2
import faiss
import numpy as np

from lookalike.decode import DecodedImage
from lookalike.signals.base import BaseSignal, Capability, Kind, Match, Metric, Region, SignalSpec

__all__ = ["Keypoints"]

DESCRIPTOR_BYTES = 32
ROW_BYTES = DESCRIPTOR_BYTES + 4
MAX_KEYPOINTS = 250
QUERY_KEYPOINTS = 500  # a query is not stored: more keypoints find small parts of a large query
VIEW_SIZE = 512  # most pixels on the long side of the grey view keypoints are found in
FINE_FROM = 1.5  # a query this many times VIEW_SIZE also gets a finer view's keypoints
MIN_VIEW = 128  # smaller images are enlarged to about this (by a whole factor)
GRID = 6  # cells per side of the grid that spreads keypoints over the image
SUBPIXEL = 64  # positions are stored in 1/64 pixel
RATIO = 0.8  # Lowe's ratio test on the two nearest stored descriptors
MAX_MATCH_DISTANCE = 80  # of 256 bits; farther descriptor pairs are never matched
MIN_MATCHES = 6  # descriptor pairs needed to try a fit
MIN_INLIERS = 8  # inliers needed to report a match (unrelated scenes reach 6-7 by chance)
REPROJECTION = 4.0  # pixels of the view, for both model fits


def _orb() -> cv2.ORB:
    # FAST's default threshold (20) finds few corners on smooth photos; 2000 candidates
    # before the grid picks 250 of them
    return cv2.ORB.create(nfeatures=3000, scaleFactor=1.2, nlevels=8, edgeThreshold=15, fastThreshold=7)


def _view_size(width: int, height: int, limit: int = VIEW_SIZE) -> tuple[int, int]:
    """The grey view keypoints are found in: the image itself, at most VIEW_SIZE on the long side.

    Smaller images are not enlarged (a crop keeps the pixel scale of its source, which
    matches best), except tiny ones (sprites), which are enlarged by a whole factor to
    MIN_VIEW with nearest-neighbour so that FAST finds their corners.
    """
    long_side = max(width, height)
    if long_side > limit:
        scale = limit / long_side
        return max(1, round(width * scale)), max(1, round(height * scale))
    factor = -(-MIN_VIEW // long_side) if long_side < MIN_VIEW else 1
    return width * factor, height * factor


def _spread(keypoints: list[cv2.KeyPoint], width: int, height: int, limit: int) -> list[int]:
    """Indices of at most ``limit`` keypoints: the strongest of each grid cell in turn.

    Round ``d`` takes the ``d``-th strongest keypoint of every cell that has one, strongest
    first (ties: the cell whose strongest keypoint is stronger first); rounds follow each other
    until ``limit`` are taken.  One sort of numpy keys (a Python loop took 4-6 ms a photo).
    """
    if not keypoints:
        return []
    response = np.array([k.response for k in keypoints], dtype=np.float64)
    points = np.asarray(cv2.KeyPoint.convert(keypoints), dtype=np.float64)  # in C++: reading .pt cost 3.5 ms
    order = np.argsort(-response, kind="stable")
    cx = np.minimum(GRID - 1, (points[order, 0] * GRID / width).astype(np.int64))
    cy = np.minimum(GRID - 1, (points[order, 1] * GRID / height).astype(np.int64))
    cell = cx * GRID + cy
    first = np.full(GRID * GRID, len(order), dtype=np.int64)  # where each cell first comes in order
    np.minimum.at(first, cell, np.arange(len(order)))
    by_cell = np.lexsort((np.arange(len(order)), cell))  # each cell's keypoints, strongest first
    depth = np.empty(len(order), dtype=np.int64)
    starts = np.searchsorted(cell[by_cell], cell[by_cell], side="left")
    depth[by_cell] = np.arange(len(order)) - starts
    chosen = np.lexsort((first[cell], -response[order], depth))[:limit]
    return [int(i) for i in order[chosen]]


def _rows(grey: np.ndarray, mirror: bool, limit: int = MAX_KEYPOINTS, scale: float = 1.0) -> np.ndarray:
    """Keypoint rows of a grey view (mirrored first if asked, positions in the unmirrored frame,
    times ``scale``: a finer view's positions in the frame of the feature's own view)."""
    height, width = grey.shape
    view = np.ascontiguousarray(grey[:, ::-1]) if mirror else grey
    keypoints, descriptors = _orb().detectAndCompute(view, None)
    if descriptors is None or not keypoints:
        return np.empty((0, ROW_BYTES), dtype=np.uint8)
    chosen = _spread(list(keypoints), width, height, limit)
    points = np.array([keypoints[i].pt for i in chosen], dtype=np.float64)
    if mirror:
        points[:, 0] = (width - 1) - points[:, 0]
    fixed = np.clip(np.round(points * scale * SUBPIXEL), 0, 65535).astype("<u2")
    rows = np.empty((len(chosen), ROW_BYTES), dtype=np.uint8)
    rows[:, :DESCRIPTOR_BYTES] = descriptors[chosen]
    rows[:, DESCRIPTOR_BYTES:] = fixed.view(np.uint8).reshape(len(chosen), 4)
    return rows


def _header(width: int, height: int, direct: int) -> np.ndarray:
    row = np.zeros((1, ROW_BYTES), dtype=np.uint8)
    row[0, :6] = np.array([width, height, direct], dtype="<u2").view(np.uint8)
    return row


def parse(feature: np.ndarray) -> tuple[int, int, int]:
    """(view width, view height, rows of the image itself) from a feature's header."""
    width, height, direct = np.ascontiguousarray(feature[0, :6]).view("<u2")
    return int(width), int(height), int(direct)


def positions(rows: np.ndarray) -> np.ndarray:
    """Keypoint positions (n, 2) in view pixels."""
    fixed = np.ascontiguousarray(rows[:, DESCRIPTOR_BYTES:ROW_BYTES]).view("<u2").reshape(-1, 2)
    return fixed.astype(np.float32) / SUBPIXEL


class Keypoints(BaseSignal):
    """ORB keypoints spread over the image; compared by a geometric check, not one distance.

    ``similarity`` maps a verified inlier count (the Evidence ``distance`` of this
    signal, where larger is closer) to [0, 1].  Measured on generated scenes and
    photo crops: unrelated images verify with 0-7 inliers (mostly none), so fewer
    than ``MIN_INLIERS`` (8) is no match; true crops verify with 15-150.  Midpoint
    10 and spread 2 put 8 inliers at 0.27, 15 at 0.92.
    """

    spec = SignalSpec("keypoints", 1, Kind.BINARY, Metric.HAMMING, DESCRIPTOR_BYTES * 8, "uint8")
    input_size = VIEW_SIZE
    #: The long side a query is decoded at for its finer view (see :meth:`query`).
    query_size = 2 * VIEW_SIZE
    capabilities = frozenset({Capability.LOCAL})
    description = "local keypoints (ORB) with a geometric check: crops and partial copies"
    index_backend = "descriptors"
    midpoint = 10.0
    spread = 2.0
    #: Nearest stored descriptors per query descriptor, and the farthest that still votes.
    vote_neighbours = 8
    vote_distance = 64
    min_votes = MIN_MATCHES

    def __init__(self) -> None:
        # ingest runs one worker process per core; OpenCV's own threads would only compete
        cv2.setNumThreads(1)

    def extract(self, image: DecodedImage) -> np.ndarray:
        """Header, then the image's own keypoint rows."""
        width, height = _view_size(*image.image.size)
        rows = _rows(image.grey(width, height), mirror=False)
        return np.vstack([_header(width, height, len(rows)), rows])

    def query(self, image: DecodedImage) -> np.ndarray:
        """Header, the image's keypoint rows, then the mirrored image's.

        A query at least 1.5 times the view (decoded at up to ``query_size``) also gets the
        keypoints of a view up to twice as fine, their positions in the view's frame, among its own rows: a
        picture inside a larger one (a screenshot of a page showing it) keeps about the pixel
        scale it was stored at, where a view of the whole page would shrink it by half."""
        width, height = _view_size(*image.image.size)
        grey = image.grey(width, height)
        own = _rows(grey, mirror=False, limit=QUERY_KEYPOINTS)
        if max(image.image.size) >= FINE_FROM * VIEW_SIZE:  # barely larger: more chance pairs than gain
            fine = _view_size(*image.image.size, limit=self.query_size)
            rows = _rows(image.grey(*fine), mirror=False, limit=QUERY_KEYPOINTS, scale=width / fine[0])
            own = np.vstack([own, rows])
        mirrored = _rows(grey, mirror=True, limit=QUERY_KEYPOINTS)
        return np.vstack([_header(width, height, len(own)), own, mirrored])

    def index_rows(self, feature: np.ndarray) -> np.ndarray:
        """Every keypoint row (the header is not indexed)."""
        return feature[1:]

    def index_vectors(self, stored: np.ndarray) -> np.ndarray:
        """The descriptors of keypoint rows."""
        return np.ascontiguousarray(stored[:, :DESCRIPTOR_BYTES], dtype=np.uint8)

    def similarity(self, distance: np.ndarray) -> np.ndarray:
        inliers = np.nan_to_num(np.asarray(distance, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        z = (inliers - self.midpoint) / self.spread
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def encode(self, feature: np.ndarray) -> bytes:
        rows = np.ascontiguousarray(feature, dtype=np.uint8)
        if rows.ndim != 2 or rows.shape[1] != ROW_BYTES or not len(rows):
            raise ValueError(f"keypoints: feature shape {rows.shape} is not (n, {ROW_BYTES})")
        return rows.tobytes()

    def decode(self, payload: bytes) -> np.ndarray:
        return np.frombuffer(payload, dtype=np.uint8).reshape(-1, ROW_BYTES)

    def verify(self, query: np.ndarray, stored: np.ndarray) -> Match | None:
        """The best geometric match of a query feature against a stored one, if any."""
        q_size, s_size = parse(query), parse(stored)
        direct = q_size[2]
        target = stored[1:]
        if len(target) < MIN_MATCHES:
            return None
        best: Match | None = None
        for rows, mirrored in ((query[1 : 1 + direct], False), (query[1 + direct :], True)):
            found = _verify_rows(rows, target, q_size[:2], s_size[:2], mirrored)
            if found is not None and (best is None or found.inliers > best.inliers):
                best = found
        return best


def _verify_rows(
    rows: np.ndarray, target: np.ndarray, q_size: tuple[int, int], s_size: tuple[int, int], mirrored: bool
) -> Match | None:
    if len(rows) < MIN_MATCHES:
        return None
    pairs = _match(rows[:, :DESCRIPTOR_BYTES], target[:, :DESCRIPTOR_BYTES])
    if len(pairs) < MIN_INLIERS:  # fewer pairs cannot give enough inliers
        return None
    src = positions(rows)[pairs[:, 0]]
    dst = positions(target)[pairs[:, 1]]
    model, inliers = _fit(src, dst, mirrored, q_size)
    if model is None or inliers < MIN_INLIERS:
        return None
    regions = _regions(model, q_size, s_size)
    if regions is None:
        return None
    return Match(inliers, len(pairs), mirrored, *regions)


def _match(query: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pairs (query row, target row) that pass the ratio test, one per target row.

    The two nearest target rows of each query row come from a FAISS binary flat
    index: 1 ms for 500 x 250 rows here, against 3 ms for OpenCV's brute-force matcher.
    """
    if len(target) < 2 or not len(query):
        return np.empty((0, 2), dtype=np.int64)
    faiss.omp_set_num_threads(1)  # threads cost more than they save on so few rows
    index = faiss.IndexBinaryFlat(DESCRIPTOR_BYTES * 8)
    index.add(np.ascontiguousarray(target, dtype=np.uint8))
    distances, nearest = index.search(np.ascontiguousarray(query, dtype=np.uint8), 2)
    first, second = distances[:, 0].astype(np.float32), distances[:, 1].astype(np.float32)
    rows = np.flatnonzero((first <= MAX_MATCH_DISTANCE) & (first <= RATIO * second))
    if not len(rows):
        return np.empty((0, 2), dtype=np.int64)
    best = nearest[rows, 0]
    order = np.lexsort((first[rows], best))  # by target row, the closest query row first
    rows, best = rows[order], best[order]
    unique = np.concatenate([[True], best[1:] != best[:-1]])
    return np.stack([rows[unique], best[unique]], axis=1).astype(np.int64)


def _fit(
    src: np.ndarray, dst: np.ndarray, mirrored: bool, size: tuple[int, int]
) -> tuple[np.ndarray | None, int]:
    """A homography by MAGSAC++, else a similarity by RANSAC; (3x3 model, inliers)."""
    model, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, REPROJECTION, maxIters=1000, confidence=0.995)
    if model is not None and mask is not None and _plausible(model, mirrored, size):
        return model, int(mask.sum())
    if mirrored:  # a similarity cannot reflect; flip the query points, fit, flip back
        flip = np.array([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        src = src * np.array([-1.0, 1.0], dtype=np.float32)
    affine, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION
    )
    if affine is None or mask is None:
        return None, 0
    model = np.vstack([affine, [0.0, 0.0, 1.0]])
    if mirrored:
        model = model @ flip
    return (model, int(mask.sum())) if _plausible(model, mirrored, size) else (None, 0)


def _plausible(model: np.ndarray, mirrored: bool, size: tuple[int, int]) -> bool:
    """Rejects degenerate fits: the query's outline must map to a convex quadrilateral in front
    of the camera, turned the right way (reflected for the mirrored keypoints), not collapsed."""
    w, h = size
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=np.float64) @ model.T
    if not (corners[:, 2] > 1e-6).all():
        return False
    quad = corners[:, :2] / corners[:, 2:3]
    edges = np.roll(quad, -1, axis=0) - quad
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if mirrored:
        turns = -turns
    if not (turns > 0).all():  # convex, and clockwise in image coordinates like the outline itself
        return False
    area = 0.5 * abs(
        float(np.sum(quad[:, 0] * np.roll(quad[:, 1], -1) - np.roll(quad[:, 0], -1) * quad[:, 1]))
    )
    return 1 / 64 < area / (w * h) < 64


def _regions(
    model: np.ndarray, q_size: tuple[int, int], s_size: tuple[int, int]
) -> tuple[Region, Region] | None:
    """The part of the query that lies inside the stored image, in both frames."""
    qw, qh = q_size
    outline = np.array([[0, 0], [qw, 0], [qw, qh], [0, qh]], dtype=np.float64)
    projected = _project(model, outline)
    inside = _clip(projected, s_size)
    if len(inside) < 3:
        return None
    back = _clip(_project(np.linalg.inv(model), inside), q_size)
    if len(back) < 3:
        return None
    return _normalise(back, q_size), _normalise(inside, s_size)


def _project(model: np.ndarray, points: np.ndarray) -> np.ndarray:
    h = np.hstack([points, np.ones((len(points), 1))]) @ model.T
    return np.asarray(h[:, :2] / h[:, 2:3])


def _clip(polygon: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Sutherland-Hodgman clip of a polygon to the rectangle [0, w] x [0, h]."""
    w, h = size
    points = [tuple(p) for p in polygon]
    for axis, limit, keep_below in (
        (0, 0.0, False),
        (0, float(w), True),
        (1, 0.0, False),
        (1, float(h), True),
    ):
        out: list[tuple[float, float]] = []
        for i, current in enumerate(points):
            previous = points[i - 1]
            cur_in = current[axis] <= limit if keep_below else current[axis] >= limit
            prev_in = previous[axis] <= limit if keep_below else previous[axis] >= limit
            if cur_in != prev_in:
                t = (limit - previous[axis]) / (current[axis] - previous[axis])
                out.append(tuple(p + t * (c - p) for p, c in zip(previous, current, strict=True)))
            if cur_in:
                out.append(current)
        points = out
        if not points:
            break
    return np.array(points, dtype=np.float64).reshape(-1, 2)


def _normalise(polygon: np.ndarray, size: tuple[int, int]) -> Region:
    w, h = size
    points: list[tuple[float, float]] = []
    for x, y in polygon:
        point = (round(float(x) / w, 4), round(float(y) / h, 4))
        if not points or point != points[-1]:
            points.append(point)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    return tuple(points)
