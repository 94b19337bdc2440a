"""The query planner: candidates from each index, one similarity scale, fusion, collapse, why.

Each signal's index proposes candidates.  Every candidate is then re-scored
exactly by every signal in the query from its stored feature, so a candidate
found by one signal is judged by all; distances become calibrated similarities
in [0, 1] (see :class:`lookalike.signals.BaseSignal`) and the fused score is
their weighted mean.  Results that are the same picture as a better result (its
calibrated phash probability, see :meth:`Planner.collapse`) are folded into it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lookalike.catalog import Catalog
from lookalike.index import IndexSet
from lookalike.search.result import Evidence, Result
from lookalike.search.sheets import cell_evidence, lift, sheet_tier
from lookalike.search.tiers import MatchTier, judge
from lookalike.search.words import FUZZY_WEIGHT, Correction, correct, stored_tags, tokens, with_snippets
from lookalike.settings import SearchSettings
from lookalike.signals import Capability, Match, Metric, SignalSet, distances
from lookalike.signals.calibration import is_copy

if TYPE_CHECKING:
    from lookalike.signals.tags import Tagger

__all__ = ["Evidence", "Planner", "Result"]

TEXT = "text"
TEXT_SUFFIX = "_text"  # evidence of words embedded by a signal's model: "clip_text"
ROW_CACHE = 200_000  # indexed rows kept in memory per signal for re-scoring and collapsing
SURE_STEP = 0.001  # a result whose hash is within NEAR_BITS is ordered as if its score were up to this higher
NEAR_BITS = 8  # of the duplicate key (phash): a hash this near is the same picture, telling or not


@dataclass(frozen=True)
class _Query:
    """Query rows for one signal's index, and how its distances become similarities."""

    evidence: str
    signal: str
    rows: np.ndarray
    similarity: Callable[[np.ndarray], np.ndarray]


class Planner:
    """Runs a query over the indexes and the catalog."""

    def __init__(
        self,
        catalog: Catalog,
        indexes: IndexSet,
        signals: SignalSet,
        settings: SearchSettings,
        expansion: tuple[int, float] = (0, 3.0),
        tagger: Tagger | None = None,
    ) -> None:
        self.catalog, self.indexes, self.signals, self.settings = catalog, indexes, signals, settings
        self.expansion, self.tagger = expansion, tagger
        self._rows: dict[str, dict[int, np.ndarray]] = {}  # signal -> image id -> indexed row

    def search(
        self,
        vectors: Mapping[str, np.ndarray],
        text: str | None = None,
        k: int | None = None,
        exclude: Collection[int] = (),
        collapse: bool = True,
        rerank: Mapping[str, np.ndarray] | None = None,
        text_vectors: Mapping[str, np.ndarray] | None = None,
        same_as: str | None = None,
    ) -> list[Result]:
        """``vectors``: query rows per signal (stored form); ``text``: words for keyword search.
        ``same_as``: the sha256 of the query's bytes (a result with the same is an ``exact`` match).

        ``rerank``: features of local signals that are not among the query's signals; the
        best ``search.rerank_keypoints`` results are verified with them (see :meth:`_rerank`).
        ``text_vectors``: the words embedded in a signal's space (a CLIP model's text tower).
        """
        k = k or self.settings.k
        wanted = max(self.settings.candidates, k * 4)
        local = set(self.signals.local([name for name in vectors]))
        queries = [
            _Query(name, name, self._expand(name, rows), self.signals[name].similarity)
            for name, rows in vectors.items()
            if name not in local
        ]
        for name, rows in (text_vectors or {}).items():
            # a signal with a text tower (ModelSignal) calibrates text-to-image distances its own way
            similarity = getattr(self.signals[name], "text_similarity", self.signals[name].similarity)
            queries.append(_Query(f"{name}{TEXT_SUFFIX}", name, rows, similarity))
        candidates: set[int] = set()
        votes: dict[str, dict[int, int]] = {}
        for name in local:
            votes[name] = self.votes(name, vectors[name], exclude)
            candidates.update(sorted(votes[name], key=lambda i: -votes[name][i])[:wanted])
        for query in queries:
            index = self.indexes.get(query.signal)
            found_d, found_ids = index.search_batch(
                self._index_rows(query.signal, query.rows), wanted * index.oversample
            )
            candidates.update(int(i) for i in found_ids[np.isfinite(found_d) & (found_ids >= 0)])
        text_scores, corrected = self._text(text, wanted) if text else ({}, None)
        candidates.update(text_scores)
        candidates.difference_update(exclude)
        ids = sorted(candidates)
        evidence = {query.evidence: self._rescore(query, ids) for query in queries}
        if text:
            note = _text_note(text, corrected, self.catalog.texts)
            evidence[TEXT] = [Evidence(TEXT, None, text_scores.get(i, 0.0), note=note) for i in ids]
        others = self._fuse(evidence, len(ids)) if evidence else np.zeros(len(ids))
        for name in sorted(local):
            signal = self.signals.local([name])[name]
            count = votes[name]
            enough = [i for i in candidates if count.get(i, 0) >= signal.min_votes]  # others cannot verify
            chosen = set(sorted(enough, key=lambda i: (-count[i], i))[: self.settings.verify])
            if evidence:  # the best by the other signals are checked too
                by_others = [ids[j] for j in np.argsort(-others, kind="stable")[: self.settings.verify]]
                chosen.update(i for i in by_others if count.get(i, 0) >= signal.min_votes)
            evidence[name] = self._verify(name, vectors[name], ids, chosen)
        scores = self._fuse(evidence, len(ids))
        if rerank:
            scores = self._rerank(rerank, ids, scores, evidence)
        # among equally sure copies, the nearest first: by the duplicate key's distance (its calibrated
        # probability saturates at 1 over many bits, where pixel art is often near other tiles), then
        # by the other signals; a hash within NEAR_BITS counts as sure as a score up to SURE_STEP
        # above its own (a flat-ish tile's hash cannot lift it, and 58 verified inliers score 0.9999
        # where a neighbour tile's 64 score 1.0)
        nearest = self._key_distance(evidence, len(ids))
        closer = self._fuse(evidence, len(ids), lift=False)
        sure = np.where(nearest <= NEAR_BITS, np.ceil(scores / SURE_STEP - 1e-9) * SURE_STEP, scores)
        order = sorted(range(len(ids)), key=lambda j: (-sure[j], nearest[j], -scores[j], -closer[j], ids[j]))
        results = self._results(ids, order, scores, evidence, k, collapse, same_as, exclude)
        if text:
            results = with_snippets(results, self.catalog.texts, text, corrected)
        return results

    def _key_distance(self, evidence: Mapping[str, list[Evidence]], n: int) -> np.ndarray:
        """Each candidate's distance by the duplicate-key signal (the phash), infinite without one."""
        key = self.signals.duplicate_key()
        found = evidence.get(key[0]) if key else None
        if not found:
            return np.full(n, np.inf)
        return np.array([e.distance if e.distance is not None else np.inf for e in found])

    def _index_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        return self.signals[name].index_vectors(rows)

    def _expand(self, name: str, rows: np.ndarray) -> np.ndarray:
        """alpha-QE: the query plus its nearest neighbours weighted by similarity**alpha, searched again.

        Only for cosine signals (model embeddings); done on stored vectors, so a
        whitening is applied once, after the average.
        """
        n, alpha = self.expansion
        signal = self.signals[name]
        if n <= 0 or signal.spec.metric is not Metric.COSINE:
            return rows
        query = np.asarray(rows[:1], dtype=np.float32)
        found_d, found_ids = self.indexes.get(name).search_batch(signal.index_vectors(query), n)
        similarity = {int(i): 1.0 - float(d) for d, i in zip(found_d[0], found_ids[0], strict=True) if i >= 0}
        stored = self.indexed_rows(name, similarity)
        if not stored:
            return rows
        weights = np.array([min(max(similarity[i], 0.0), 1.0) ** alpha for i in stored], dtype=np.float32)
        neighbours = np.stack([np.asarray(row, dtype=np.float32) for row in stored.values()])
        expanded = query[0] + (weights[:, None] * neighbours).sum(axis=0)
        expanded /= max(float(np.linalg.norm(expanded)), 1e-12)
        return np.vstack([expanded[None, :], rows[1:]]).astype(rows.dtype)

    def votes(self, name: str, feature: np.ndarray, exclude: Collection[int] = ()) -> dict[int, int]:
        """Images by the number of query descriptors that find one of theirs among their nearest."""
        signal = self.signals.local([name])[name]
        rows = signal.index_vectors(signal.index_rows(feature))
        if not len(rows):
            return {}
        found_d, found_ids = self.indexes.get(name).search_batch(rows, signal.vote_neighbours)
        close = (found_d <= signal.vote_distance) & (found_ids >= 0)
        query_row = np.broadcast_to(np.arange(len(rows))[:, None], found_ids.shape)
        pairs = np.unique(np.stack([query_row[close], found_ids[close]]), axis=1)  # one vote per row
        images, counts = np.unique(pairs[1], return_counts=True)
        skip = set(exclude)
        return {int(i): int(c) for i, c in zip(images, counts, strict=True) if int(i) not in skip}

    def _verify(self, name: str, feature: np.ndarray, ids: list[int], chosen: set[int]) -> list[Evidence]:
        """Geometric check of the chosen candidates; the others get no similarity."""
        signal = self.signals.local([name])[name]
        stored = self.catalog.features.get(name, signal.spec.version, sorted(chosen))
        matches: dict[int, Match] = {}
        for image_id, payload in stored.items():
            match = signal.verify(feature, signal.decode(payload))
            if match is not None:
                matches[image_id] = match
        inliers = np.array([matches[i].inliers if i in matches else 0 for i in ids], dtype=np.float64)
        sims = signal.similarity(inliers)
        checked = set(stored)
        return [
            Evidence(name, float(n), float(s), matches[i])
            if i in matches
            else Evidence(name, None, 0.0, None, "no match" if i in checked else "not checked")
            for i, n, s in zip(ids, inliers, sims, strict=True)
        ]

    def _rerank(
        self,
        features: Mapping[str, np.ndarray],
        ids: list[int],
        scores: np.ndarray,
        evidence: dict[str, list[Evidence]],
    ) -> np.ndarray:
        """Verify the best ``search.rerank_keypoints`` results; a verified one scores at least its
        keypoints similarity, so a crop that the global signals ranked low moves up."""
        top = self.settings.rerank_keypoints
        if not top or not ids:
            return scores
        best = {ids[j] for j in np.argsort(-scores, kind="stable")[:top]}
        scores = scores.copy()
        for name, feature in features.items():
            found = self._verify(name, feature, ids, best)
            for j, e in enumerate(found):
                if e.match is not None:
                    scores[j] = max(scores[j], e.similarity)
            evidence[name] = found
        return scores

    def _text(self, text: str, limit: int) -> tuple[dict[int, float], Correction | None]:
        """Keyword hits scaled to [0, 1], and hits of the query with mistyped words corrected
        (:mod:`lookalike.search.words`), which rank below exact ones."""
        found = _scaled(self.catalog.texts.search(text, limit=max(limit, 200)))
        corrected = correct(text, self.catalog.texts, self.settings.fuzzy)
        if corrected is None:
            return found, None
        fuzzy = _scaled(self.catalog.texts.search(text, max(limit, 200), corrected.replaced), FUZZY_WEIGHT)
        return {i: max(found.get(i, 0.0), fuzzy.get(i, 0.0)) for i in found.keys() | fuzzy.keys()}, corrected

    def _rescore(self, query: _Query, ids: list[int]) -> list[Evidence]:
        """Exact distance of every candidate for one query of one signal (best query variant)."""
        signal = self.signals[query.signal]
        stored = self.indexed_rows(query.signal, ids)
        found = [i for i in ids if i in stored]
        dist, rows = np.full(len(ids), np.inf), np.zeros(len(ids), dtype=np.int64)
        if found:
            matrix = np.stack([stored[i] for i in found])
            d = distances(
                signal.spec.metric, self._index_rows(query.signal, query.rows), signal.index_vectors(matrix)
            )
            penalised = getattr(signal, "penalised", None)  # query rows that count as farther (phash hues)
            if penalised is not None:
                d = penalised(d)
            position = {i: j for j, i in enumerate(ids)}
            dist[[position[i] for i in found]] = d.min(axis=0)
            rows[[position[i] for i in found]] = d.argmin(axis=0)
        sims = query.similarity(dist)
        name = getattr(signal, "describe_row", None)
        telling = np.ones(len(ids), dtype=bool)
        if found and hasattr(signal, "telling"):
            telling[[position[i] for i in found]] = signal.telling(matrix)
        return [
            Evidence(
                query.evidence,
                float(d) if np.isfinite(d) else None,
                float(s),
                row=int(r),
                variant=name(int(r)) if name and r else None,
                telling=bool(t),
            )
            for d, s, r, t in zip(dist, sims, rows, telling, strict=True)
        ]

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
            for image_id, payload in self.catalog.features.get(name, signal.spec.version, missing).items():
                found[image_id] = cache[image_id] = signal.decode(payload)[0]
        return found

    def _fuse(self, evidence: Mapping[str, list[Evidence]], n: int, lift: bool = True) -> np.ndarray:
        """Weighted mean of the similarities, or the probability that it is the same picture (an
        identity signal's calibrated similarity) when that is higher; the words count once,
        matched by keyword or by meaning.  Local signals (keypoints) are left out of the mean when
        others are there: they check a few candidates, and an unchecked one is not unlike, so they
        only lift the ones they verified.

        Keyword (BM25) and embedded-text (CLIP) evidence are two ways of matching the
        same words: the better of the two is one term, weighted as ``text``, so an
        image that matches by meaning alone is not halved for lacking the keyword.
        """
        weights = self.settings.weights
        if not evidence:
            return np.zeros(n)
        local = self.signals.local()
        terms = {  # a local signal only lifts what it verified: an unchecked candidate is not unlike
            name: np.array([e.similarity for e in items])
            for name, items in evidence.items()
            if name not in local or len(evidence) == len(local)
        }
        worded = [name for name in terms if name == TEXT or name.endswith(TEXT_SUFFIX)]
        if len(worded) > 1:
            terms[TEXT] = np.max([terms.pop(name) for name in worded], axis=0)
        weight = {name: weights.get(name, self._weight(name)) for name in terms}
        total = sum(weight.values()) or 1.0
        scores = np.zeros(n)
        for name, values in terms.items():
            scores += weight[name] * values
        if not lift:
            return scores / total
        identity = [  # a calibrated "same picture" is never diluted by the other signals
            np.array([e.similarity if e.telling else 0.0 for e in evidence[name]])
            for name in self.identity()
            if name in evidence
        ]
        return np.asarray(np.max([scores / total, *identity], axis=0))

    def identity(self) -> list[str]:
        """The signals whose similarity is the calibrated probability of the same picture."""
        key = self.signals.duplicate_key()
        return [*([key[0]] if key else []), *self.signals.local()]

    def _weight(self, name: str) -> float:
        """A term's weight unless ``search.weights`` sets it: its signal's own (the words: 1)."""
        signal = self.signals.get(name)
        return signal.weight if signal is not None else 1.0

    def _results(
        self,
        ids: list[int],
        order: list[int],
        scores: np.ndarray,
        evidence: Mapping[str, list[Evidence]],
        k: int,
        collapse: bool,
        same_as: str | None = None,
        exclude: Collection[int] = (),
    ) -> list[Result]:
        ranked, cells = lift(self.catalog, [ids[j] for j in order], exclude)  # a tile stands for its sheet
        groups = self.collapse(ranked, k) if collapse else {i: [] for i in ranked[:k]}
        kept = list(groups)
        every = kept + [i for folded in groups.values() for i in folded]
        images, places = self.catalog.images.many(every), self.catalog.images.occurrences(every)
        zero_shot = self.tagger(self.indexed_rows(self.tagger.signal.spec.name, kept)) if self.tagger else {}
        tags = stored_tags(self.catalog.texts, self.signals.having(Capability.TAGS), kept, zero_shot)
        position = {i: j for j, i in enumerate(ids)}
        identity, key = self.identity(), self.signals.duplicate_key()
        bits = key[1].spec.dim if key else 0

        def why(i: int) -> tuple[Evidence, ...]:
            found = tuple(
                items[position[cells[i].tile_id if i in cells else i]] for items in evidence.values()
            )
            if i not in cells:
                return found
            signal, region, note = cell_evidence(
                cells[i], images.get(i), float(scores[position[cells[i].tile_id]])
            )
            return (*found, Evidence(signal, None, float(scores[position[cells[i].tile_id]]), region, note))

        def judged(i: int) -> tuple[float, MatchTier]:
            source = cells[i].tile_id if i in cells else i
            image = images.get(i)
            same = same_as is not None and image is not None and image.sha256 == same_as
            tier = judge(why(source), same, identity, bits)
            return float(scores[position[source]]), sheet_tier(cells[i], tier) if i in cells else tier

        results = []
        for i in kept:
            score, match = judged(i)
            results.append(
                Result(
                    image_id=i,
                    score=score,
                    why=why(i),
                    image=images.get(i),
                    occurrences=tuple(places.get(i, ())),
                    collapsed=tuple(groups[i]),
                    collapsed_places=tuple((f, tuple(places.get(f, ()))) for f in groups[i]),
                    collapsed_matches=tuple(judged(f) for f in groups[i]),
                    auto_tags=tuple(tags.get(i, ())),
                    match=match,
                    tile=cells.get(i),
                )
            )
        return results

    def collapse(self, ranked: list[int], k: int) -> dict[int, list[int]]:
        """Fold each result into the first better one that is the same picture: by default
        (``search.collapse = "copies"``) when the duplicate-key signal (the phash) says so with
        the copy tier (:func:`~lookalike.signals.calibration.is_copy`: a calibrated probability,
        with the colours agreeing where it is uncertain), on either image or its mirror
        image; with ``"bits"``, within ``search.collapse_bits``.  ``collapse_bits = 0``: no folding.

        ``ranked``: image ids, best first.  Returns up to ``k`` kept ids (in rank order),
        each with the ids folded into it.  Public so that a caller that filters
        uncollapsed results (the web service) collapses what is left the same way.
        """
        key = self.signals.duplicate_key()
        if key is None or self.settings.collapse_bits <= 0:
            return {i: [] for i in ranked[:k]}
        name, signal = key
        stored = self.indexed_rows(name, ranked)
        groups: dict[int, list[int]] = {}
        kept_rows: list[np.ndarray] = []  # each kept image's rows: itself, and its mirror image
        kept_ids: list[int] = []
        colours = self._colours(ranked) if self.settings.collapse == "copies" else {}
        payloads: dict[int, bytes] = {}  # both rows, read for images that may be kept, a batch at a time
        for position, image_id in enumerate(ranked):
            row = stored[image_id][None, :] if image_id in stored else None
            if row is not None and kept_rows:
                d = distances(signal.spec.metric, row, np.vstack(kept_rows))[0]
                best = int(np.argmin(d))
                if self._same(signal, float(d[best]), row, colours, image_id, kept_ids[best // 2]):
                    groups[kept_ids[best // 2]].append(image_id)
                    continue
            if len(groups) == k:
                break
            groups[image_id] = []
            if row is not None:
                # the mirror rows are read a batch ahead, not for all of ``ranked``: most is never reached
                if image_id not in payloads:
                    batch = [i for i in ranked[position : position + 2 * k] if i in stored]
                    payloads.update(self.catalog.features.get(name, signal.spec.version, batch))
                payload = payloads.get(image_id)
                kept_rows += _both_rows(signal, payload, row)
                kept_ids.append(image_id)
        return groups

    def _colours(self, ids: list[int]) -> dict[int, np.ndarray]:
        """The colour histograms (as indexed: Hellinger geometry) of ``ids``, where the signal is on."""
        colour = self.signals.get("colour")
        if colour is None:
            return {}
        rows = self.indexed_rows("colour", ids)
        if not rows:
            return {}
        vectors = colour.index_vectors(np.stack(list(rows.values())))  # one call, not one per image
        return dict(zip(rows, vectors, strict=True))

    def _same(
        self, signal: Any, distance: float, row: np.ndarray, colours: dict[int, np.ndarray], a: int, b: int
    ) -> bool:
        if self.settings.collapse == "bits":
            return distance <= self.settings.collapse_bits
        if hasattr(signal, "telling") and not signal.telling(row)[0]:
            return distance <= self.settings.collapse_bits  # a flat image's hash: only a near-identical one
        both = colours.get(a), colours.get(b)
        colour = (
            float(np.linalg.norm(both[0] - both[1])) if both[0] is not None and both[1] is not None else None
        )
        return bool(is_copy(float(signal.similarity(np.array([distance]))[0]), colour))


def _both_rows(signal: Any, payload: bytes | None, row: np.ndarray) -> list[np.ndarray]:
    """An image's stored duplicate-key row and the one of its mirror image (the row itself when
    the feature has no second row)."""
    rows = signal.decode(payload) if payload is not None else row
    return [rows[:1], rows[1:2] if len(rows) > 1 else rows[:1]]


def _text_note(text: str, corrected: Correction | None, texts: Any) -> str | None:
    """What the words did: mistyped words read as known ones, and words that nothing holds
    (the others are then searched without them)."""
    parts = [f"read {corrected.describe()}"] if corrected else []
    words = [w for w in dict.fromkeys(tokens(text)) if not (corrected and w in corrected.replaced)]
    missing = [w for w in words if not texts.search(w, 1)] if len(words) > 1 else []
    if missing:
        parts.append("no image holds " + ", ".join(f"'{w}'" for w in missing) + ": searched without")
    return "; ".join(parts) or None


def _scaled(hits: list[tuple[int, float]], top: float = 1.0) -> dict[int, float]:
    """Keyword scores divided by the best one, times ``top``."""
    best = max((score for _, score in hits), default=0.0) or 1.0
    return {image_id: top * max(score, 0.0) / best for image_id, score in hits}
