"""Duplicates: groups of exact copies (one content, several places) and near-identical images."""

from __future__ import annotations

from typing import Any

import numpy as np

from lookalike.app import App
from lookalike.errors import ConfigError
from lookalike.signals import Signal, distances

__all__ = ["dupes"]


def dupes(app: App, max_bits: int | None = None) -> list[dict[str, Any]]:
    """Groups of exact copies and of images within ``max_bits`` by the duplicate-key signal (phash)."""
    key = app.signals.duplicate_key()
    if key is None:
        raise ConfigError("finding duplicates needs a signal that tells near-identical images apart (phash)")
    name, signal = key
    bits = app.settings.search.collapse_bits if max_bits is None else max_bits
    groups = _near(app, name, signal, bits)
    grouped = {i for g in groups for i in g}
    every = app.catalog.images.ok_ids()
    for image_id, places in app.catalog.images.occurrences(every).items():
        if len(places) > 1 and image_id not in grouped:
            groups.append([image_id])
    return _describe(app, name, signal, sorted(groups, key=lambda g: (-len(g), min(g))))


def _near(app: App, name: str, signal: Signal, bits: int) -> list[list[int]]:
    """Union-find over each image's nearest neighbours within ``bits``."""
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index = app.indexes.get(name)
    for batch in app.catalog.features.iterate(name, signal.spec.version, batch=4096):
        ids = [i for i, _ in batch]
        dist, found = index.search_batch(np.stack([signal.decode(p)[0] for _, p in batch]), 16)
        for row, image_id in enumerate(ids):
            for d, other in zip(dist[row], found[row], strict=True):
                if other >= 0 and other != image_id and d <= bits:
                    parent[find(int(other))] = find(int(image_id))
    groups: dict[int, list[int]] = {}
    for image_id in parent:
        groups.setdefault(find(image_id), []).append(image_id)
    return list(groups.values())


def _describe(app: App, name: str, signal: Signal, groups: list[list[int]]) -> list[dict[str, Any]]:
    every = [i for g in groups for i in g]
    places = app.catalog.images.occurrences(every)
    stored = app.catalog.features.get(name, signal.spec.version, every)
    described = []
    for group in map(sorted, groups):
        first = signal.decode(stored[group[0]])[:1]
        d = distances(signal.spec.metric, first, np.stack([signal.decode(stored[i])[0] for i in group]))[0]
        images = [{"id": i, "distance": int(d[j]), "locations": [o.uri for o in places[i]]} for j, i in enumerate(group)]
        described.append({"images": images, "kind": "exact" if len(group) == 1 else "near"})
    return described
