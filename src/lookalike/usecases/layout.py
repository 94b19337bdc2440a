"""The map's geometry: features to 2-D points, points to grid cells without overlaps.

Pure numpy (and scipy, openTSNE or umap-learn where installed): arrays in, arrays out.

* :func:`reduce` turns feature rows into 2-D points: PCA to at most 50 dimensions, then
  openTSNE or UMAP (``method``), or PCA's first two components when neither is installed.
* :func:`snap` puts every point in its own cell of a ``cols`` x ``rows`` grid: a balanced
  k-d split (cut the points at the share of cells on each side, along the longer side of
  the rectangle, until blocks of at most :data:`LEAF` cells), then an exact assignment of
  points to cells inside each block (scipy's ``linear_sum_assignment``, which measured
  faster than lapjv at these sizes).  It is O(n log n) overall, where an exact assignment of
  the whole map is cubic (a 100k x 100k cost matrix does not even fit in memory).
* :func:`nearest_free` places new images in the free cells nearest to their neighbours'
  cells, without moving anything already placed.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from lookalike.errors import ConfigError

__all__ = ["LEAF", "METHODS", "grid_shape", "method_for", "nearest_free", "nearest_rows", "reduce", "snap"]

#: The ways to lay out and the package each needs (None: numpy only).
METHODS: dict[str, str | None] = {"tsne": "openTSNE", "umap": "umap", "pca": None}
#: From this many images ``auto`` prefers UMAP to t-SNE: on 2 cores openTSNE took 23 s at 10k
#: points and UMAP 28 s (its JIT compiling included), but at 100k UMAP 57 s and openTSNE 83 s.
UMAP_FROM = 30_000
#: Cells of a block solved exactly by :func:`snap`.
LEAF = 1024
#: Dimensions PCA keeps before openTSNE or UMAP.
PCA_DIMS = 50


def method_for(method: str, n: int = 0) -> str:
    """The layout method ``method`` names, with ``auto`` resolved to the fastest installed one for ``n`` points."""
    if method == "auto":
        best = ("umap", "tsne") if n >= UMAP_FROM else ("tsne", "umap")
        return next((m for m in best if _installed(str(METHODS[m]))), "pca")
    if method not in METHODS:
        raise ConfigError(f"unknown map method {method!r}: one of auto, {', '.join(METHODS)}")
    package = METHODS[method]
    if package is not None and not _installed(package):
        raise ConfigError(f"map method {method!r} needs {package}: pip install 'lookalike[map]'")
    return method


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def pca(x: np.ndarray, dims: int) -> np.ndarray:
    """``x`` centred and projected on its first ``dims`` principal axes (from the covariance)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    dims = min(dims, x.shape[1], max(len(x) - 1, 1))
    values, vectors = np.linalg.eigh(x.T @ x)
    axes = vectors[:, np.argsort(values)[::-1][:dims]]
    return np.asarray(x @ axes, dtype=np.float32)


def reduce(x: np.ndarray, method: str = "auto", seed: int = 0) -> np.ndarray:
    """2-D points for the rows of ``x`` (n, d); nearby rows end up nearby."""
    n = len(x)
    if n < 3:
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, dtype=np.float32)])
    method = method_for(method, n)
    reduced = pca(x, PCA_DIMS if method != "pca" else 2)
    if method == "pca" or n < 10:
        return _two_columns(reduced)
    if method == "tsne":
        from openTSNE import TSNE

        perplexity = float(min(30, max(2, (n - 1) // 3)))
        # one thread: on 2 shared cores, 2000 points took 6 s with one and 26 s with two (they spin)
        embedding = TSNE(perplexity=perplexity, n_jobs=1, random_state=seed, initialization="pca").fit(
            reduced
        )
        return np.asarray(embedding, dtype=np.float32)
    import umap

    model = umap.UMAP(n_neighbors=min(15, n - 1), min_dist=0.1, random_state=seed, n_jobs=1)
    return np.asarray(model.fit_transform(reduced), dtype=np.float32)


def _two_columns(reduced: np.ndarray) -> np.ndarray:
    if reduced.shape[1] >= 2:
        return reduced[:, :2]
    return np.column_stack([reduced[:, 0], np.zeros(len(reduced), dtype=np.float32)])


def grid_shape(n: int, spare: float = 0.1, aspect: float = 1.5) -> tuple[int, int]:
    """Columns and rows of a grid a little wider than tall, with ``spare`` of its cells free."""
    cells = max(1, math.ceil(n * (1.0 + spare)))
    rows = max(1, math.ceil(math.sqrt(cells / aspect)))
    return max(1, math.ceil(cells / rows)), rows


def snap(points: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """A distinct cell (``row * cols + col``) for each point, near where the point lies."""
    n = len(points)
    if n > cols * rows:
        raise ValueError(f"{n} points do not fit in {cols} x {rows} cells")
    cells = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return cells
    p = np.asarray(points, dtype=np.float64)
    low, high = p.min(axis=0), p.max(axis=0)
    p = (p - low) / np.where(high > low, high - low, 1.0) * [cols, rows]  # spread over the grid
    _split(p, np.arange(n), (0, 0, cols, rows), cells, cols)
    return cells


def _split(
    p: np.ndarray, which: np.ndarray, box: tuple[int, int, int, int], out: np.ndarray, cols: int
) -> None:
    x0, y0, w, h = box
    if w * h <= LEAF:
        _solve(p[which], which, box, out, cols)
        return
    axis, size = (0, w) if w >= h else (1, h)
    first = size // 2
    share = first * (h if axis == 0 else w)
    rest = w * h - share
    take = round(len(which) * share / (w * h))
    take = min(max(take, len(which) - rest), share)  # both halves must hold their points
    order = which[np.argsort(p[which, axis], kind="stable")]
    if axis == 0:
        halves = ((x0, y0, first, h), (x0 + first, y0, w - first, h))
    else:
        halves = ((x0, y0, w, first), (x0, y0 + first, w, h - first))
    _split(p, order[:take], halves[0], out, cols)
    _split(p, order[take:], halves[1], out, cols)


def _solve(
    local: np.ndarray, which: np.ndarray, box: tuple[int, int, int, int], out: np.ndarray, cols: int
) -> None:
    """Points of one block to its cells, minimizing the summed squared distance."""
    if len(which) == 0:
        return
    x0, y0, w, h = box
    gx, gy = np.meshgrid(np.arange(w), np.arange(h))
    centres = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float64) + 0.5
    low, high = local.min(axis=0), local.max(axis=0)
    spread = np.where(high > low, high - low, 1.0)
    fitted = (local - low) / spread * [w, h]  # the block's points over the block's cells
    cost = ((fitted[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    chosen = _assign(cost)
    out[which] = (y0 + chosen // w) * cols + x0 + chosen % w


def _assign(cost: np.ndarray) -> np.ndarray:
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:  # no scipy: each point takes its cheapest free cell, in order of need
        return _greedy(cost)
    rows, chosen = linear_sum_assignment(cost)
    found = np.empty(len(cost), dtype=np.int64)
    found[rows] = chosen
    return found


def _greedy(cost: np.ndarray) -> np.ndarray:
    found = np.empty(len(cost), dtype=np.int64)
    taken = np.zeros(cost.shape[1], dtype=bool)
    for i in np.argsort(cost.min(axis=1)):
        row = np.where(taken, np.inf, cost[i])
        found[i] = int(np.argmin(row))
        taken[found[i]] = True
    return found


def nearest_free(anchors: np.ndarray, occupied: np.ndarray, cols: int) -> np.ndarray:
    """A free cell for each new image, as near as can be to its ``anchors`` cell (its nearest
    placed neighbour's; -1: anywhere); ``occupied`` (bool per cell) is updated in place."""
    found = np.empty(len(anchors), dtype=np.int64)
    free = np.flatnonzero(~occupied)
    if len(free) < len(anchors):
        raise ValueError(f"{len(anchors)} new images but only {len(free)} free cells")
    fx, fy = free % cols, free // cols
    alive = np.ones(len(free), dtype=bool)
    for i, anchor in enumerate(anchors):
        if anchor < 0:
            pick = int(np.flatnonzero(alive)[0])
        else:
            d = (fx - anchor % cols) ** 2 + (fy - anchor // cols) ** 2
            pick = int(np.argmin(np.where(alive, d, np.iinfo(np.int64).max)))
        alive[pick] = False
        found[i] = free[pick]
        occupied[free[pick]] = True
    return found


def nearest_rows(queries: np.ndarray, rows: np.ndarray, batch: int = 2048) -> np.ndarray:
    """For each query row, the index of the nearest of ``rows`` (Euclidean), a batch at a time."""
    found = np.empty(len(queries), dtype=np.int64)
    norms = (rows.astype(np.float32) ** 2).sum(axis=1)
    for start in range(0, len(queries), batch):
        q = queries[start : start + batch].astype(np.float32)
        found[start : start + len(q)] = np.argmin(
            norms[None, :] - 2.0 * (q @ rows.T.astype(np.float32)), axis=1
        )
    return found
