"""The query planner: candidates from each index, one similarity scale, fusion, collapse, why.

Each signal's index proposes candidates.  Every candidate is then re-scored
exactly by every signal in the query from its stored feature, so a candidate
found by one signal is judged by all; distances become calibrated similarities
in [0, 1] (see :class:`lookalike.signals.BaseSignal`) and the fused score is
their weighted mean.  Results whose phash is within ``collapse_bits`` of a better
result are folded into it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .catalog import SqliteCatalog
from .index import IndexSet
from .records import ImageInfo, Occurrence
from .settings import SearchSettings
from .signals import Signal, distances

__all__ = ["Evidence", "Planner", "Result"]

TEXT = "text"
ROW_CACHE = 200_000  # indexed rows kept in memory per signal for re-scoring and collapsing


@dataclass(frozen=True)
class Evidence:
    """How one signal judged a result."""

    signal: str
    distance: float | None  # in the signal's metric; None for text (a BM25 score instead)
    similarity: float


@dataclass(frozen=True)
class Result:
    """One search result: the image, its score, why it matched and where it was seen."""

    image_id: int
    score: float
    why: tuple[Evidence, ...]
    image: ImageInfo | None
    occurrences: tuple[Occurrence, ...]
    collapsed: tuple[int, ...] = ()  # near-identical images folded into this one

    @property
    def location(self) -> str:
        """The first place this image was seen."""
        return self.occurrences[0].uri if self.occurrences else f"id:{self.image_id}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.image_id,
            "score": round(self.score, 4),
            "why": {
                e.signal: {"distance": e.distance, "similarity": round(e.similarity, 4)} for e in self.why
            },
            "image": asdict(self.image) if self.image else None,
            "occurrences": [
                {k: v for k, v in asdict(o).items() if v not in (None, (), {})} for o in self.occurrences
            ],
            "collapsed": list(self.collapsed),
        }


class Planner:
    """Runs a query over the indexes and the catalog."""

    def __init__(
        self,
        catalog: SqliteCatalog,
        indexes: IndexSet,
        signals: Mapping[str, Signal],
        settings: SearchSettings,
    ) -> None:
        self.catalog, self.indexes, self.signals, self.settings = catalog, indexes, signals, settings
        self._rows: dict[str, dict[int, np.ndarray]] = {}  # signal -> image id -> indexed row

    def search(
        self,
        vectors: Mapping[str, np.ndarray],
        text: str | None = None,
        k: int | None = None,
        exclude: Collection[int] = (),
        collapse: bool = True,
    ) -> list[Result]:
        """``vectors``: query rows per signal (stored form); ``text``: words for keyword search."""
        k = k or self.settings.k
        wanted = max(self.settings.candidates, k * 4)
        candidates: set[int] = set()
        for name, rows in vectors.items():
            found_d, found_ids = self.indexes.get(name).search_batch(
                self.signals[name].index_vectors(rows), wanted
            )
            candidates.update(int(i) for i in found_ids[np.isfinite(found_d) & (found_ids >= 0)])
        text_scores = self._text(text, wanted) if text else {}
        candidates.update(text_scores)
        candidates.difference_update(exclude)
        ids = sorted(candidates)
        evidence = self._rescore(vectors, ids)
        if text:
            evidence[TEXT] = [Evidence(TEXT, None, text_scores.get(i, 0.0)) for i in ids]
        scores = self._fuse(evidence, len(ids))
        order = sorted(range(len(ids)), key=lambda j: (-scores[j], ids[j]))
        return self._results(ids, order, scores, evidence, k, collapse)

    def _text(self, text: str, limit: int) -> dict[int, float]:
        hits = self.catalog.text_search(text, limit=max(limit, 200))
        if not hits:
            return {}
        best = max(score for _, score in hits) or 1.0
        return {image_id: max(score, 0.0) / best for image_id, score in hits}

    def _rescore(self, vectors: Mapping[str, np.ndarray], ids: list[int]) -> dict[str, list[Evidence]]:
        """Exact distance of every candidate for every signal of the query (best query variant)."""
        evidence: dict[str, list[Evidence]] = {}
        for name, rows in vectors.items():
            signal = self.signals[name]
            stored = self.indexed_rows(name, ids)
            found = [i for i in ids if i in stored]
            dist = np.full(len(ids), np.inf)
            if found:
                matrix = np.stack([stored[i] for i in found])
                d = distances(signal.spec.metric, signal.index_vectors(rows), signal.index_vectors(matrix))
                position = {i: j for j, i in enumerate(ids)}
                dist[[position[i] for i in found]] = d.min(axis=0)
            sims = signal.similarity(dist)
            evidence[name] = [
                Evidence(name, float(d) if np.isfinite(d) else None, float(s))
                for d, s in zip(dist, sims, strict=True)
            ]
        return evidence

    def indexed_rows(self, name: str, ids: Collection[int]) -> dict[int, np.ndarray]:
        """Row 0 (the indexed vector) of each image's stored feature, from a cache or the catalog.

        An image id always names the same content (ids are never reused), so its
        features never change and the cache needs no invalidation, only a bound.
        """
        cache = self._rows.setdefault(name, {})
        found = {i: row for i in ids if (row := cache.get(i)) is not None}  # safe beside other threads
        missing = [i for i in ids if i not in found]
        if missing:
            if len(cache) + len(missing) > ROW_CACHE:
                cache.clear()
            signal = self.signals[name]
            for image_id, payload in self.catalog.features(name, signal.spec.version, missing).items():
                found[image_id] = cache[image_id] = signal.decode(payload)[0]
        return found

    def _fuse(self, evidence: Mapping[str, list[Evidence]], n: int) -> np.ndarray:
        weights = self.settings.weights
        total = sum(weights.get(name, 1.0) for name in evidence) or 1.0
        scores = np.zeros(n)
        for name, items in evidence.items():
            scores += weights.get(name, 1.0) * np.array([e.similarity for e in items])
        return scores / total

    def _results(
        self,
        ids: list[int],
        order: list[int],
        scores: np.ndarray,
        evidence: Mapping[str, list[Evidence]],
        k: int,
        collapse: bool,
    ) -> list[Result]:
        groups = self.collapse([ids[j] for j in order], k) if collapse else {ids[j]: [] for j in order[:k]}
        kept = list(groups)
        every = kept + [i for folded in groups.values() for i in folded]
        images, places = self.catalog.images(every), self.catalog.occurrences(every)
        position = {i: j for j, i in enumerate(ids)}
        return [
            Result(
                image_id=i,
                score=float(scores[position[i]]),
                why=tuple(items[position[i]] for items in evidence.values()),
                image=images.get(i),
                occurrences=tuple(places.get(i, ())),
                collapsed=tuple(groups[i]),
            )
            for i in kept
        ]

    def collapse(self, ranked: list[int], k: int) -> dict[int, list[int]]:
        """Fold each result into the first better one whose phash is within collapse_bits.

        ``ranked``: image ids, best first.  Returns up to ``k`` kept ids (in rank order),
        each with the ids folded into it.  Public so that a caller that filters
        uncollapsed results (the web service) collapses what is left the same way.
        """
        signal = self.signals.get("phash")
        if signal is None or self.settings.collapse_bits <= 0:
            return {i: [] for i in ranked[:k]}
        stored = self.indexed_rows("phash", ranked)
        groups: dict[int, list[int]] = {}
        kept_rows: list[np.ndarray] = []
        kept_ids: list[int] = []
        for image_id in ranked:
            row = stored[image_id][None, :] if image_id in stored else None
            if row is not None and kept_rows:
                d = distances(signal.spec.metric, row, np.vstack(kept_rows))[0]
                best = int(np.argmin(d))
                if d[best] <= self.settings.collapse_bits:
                    groups[kept_ids[best]].append(image_id)
                    continue
            if len(groups) == k:
                break
            groups[image_id] = []
            if row is not None:
                kept_rows.append(row)
                kept_ids.append(image_id)
        return groups
