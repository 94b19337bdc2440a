"""Looking after a collection: remove, rebuild, stats, an image's facts and thumbnail, the job queue,
and fitting the whitening of an embedding signal."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from lookalike.app import App
from lookalike.errors import ConfigError, InputError, NotFoundError, Reason
from lookalike.search.result import place_dict
from lookalike.signals.whitening import Whitening
from lookalike.sources.files import path_text
from lookalike.usecases.crops import crop_search

__all__ = ["fit_whitening", "info", "jobs", "rebuild", "remove", "stats", "thumbnail"]


def remove(app: App, target: int | str) -> list[int]:
    """Remove an image by id, or everything seen at a path, folder, archive or URL."""
    if isinstance(target, int):
        if not app.catalog.images.remove(target):
            raise NotFoundError(f"no image with id {target}")
        removed = [target]
    else:
        location = path_text(Path(target).resolve()) if "://" not in target else target
        if not app.catalog.images.ids_at(location):
            raise NotFoundError(f"nothing indexed at {target}")
        with app.catalog.transaction():  # the places, the file states and the orphans go together
            app.catalog.images.forget(location)
            app.catalog.scans.forget(location)
            removed = app.catalog.images.sweep()
    app.indexes.catch_up()
    return removed


def rebuild(app: App) -> dict[str, int]:
    """Rebuild every index from the catalog's features."""
    return app.indexes.rebuild()


def info(app: App, image_id: int) -> dict[str, Any]:
    """An image's facts, every place it was seen, which features it has, the texts read from it,
    and the crawled pages it was found on (``pages``: by URL, what each page says of itself)."""
    image = app.catalog.images.get(image_id)
    if image is None:
        raise NotFoundError(f"no image with id {image_id}")
    places = app.catalog.images.occurrences([image_id])[image_id]
    features = {
        name: s.spec.version
        for name, s in app.signals.items()
        if app.catalog.features.get(name, s.spec.version, [image_id])
    }
    found = {
        "image": image.__dict__,
        "occurrences": [place_dict(o) for o in places],
        "features": features,
    }
    pages = app.catalog.frontier.about([o.page_url for o in places if o.page_url])
    if pages:  # the crawled pages it was found on, with what each says of itself
        found["pages"] = pages
    flags = app.catalog.flags.of([image_id]).get(image_id)
    if flags:
        found["flags"] = flags
    texts = app.catalog.texts.of(image_id)
    if texts:
        found["texts"] = [
            {"signal": s, **{k: v for k, v in f.__dict__.items() if v is not None}} for s, f in texts
        ]
    return found


def thumbnail(app: App, image_id: int) -> bytes | None:
    """The thumbnail made at ingest (JPEG, or PNG for small images), if there is one."""
    image = app.catalog.images.get(image_id)
    if image is None:
        raise NotFoundError(f"no image with id {image_id}")
    return app.thumbs.get(image.sha256)


def stats(app: App) -> dict[str, Any]:
    """Counts, failures by reason, index sizes and disk use."""
    app.indexes.open_all()
    found = app.catalog.stats()
    found["indexes"] = app.indexes.describe()
    found["disk_bytes"] = _disk_use(app.home)
    found["home"] = str(app.home)
    found["catalog"] = app.catalog.describe()
    found["crop_search"] = crop_search(app).as_dict()
    counts = app.catalog.jobs.counts()
    if any(n for by_state in counts.values() for n in by_state.values()):
        found["jobs"] = counts
    return found


def jobs(app: App) -> dict[str, Any]:
    """The job queue: jobs by kind and state, and the latest failures."""
    return {"jobs": app.catalog.jobs.counts(), "failures": app.catalog.jobs.failures(20)}


def fit_whitening(app: App, dim: int | None = None) -> dict[str, Any]:
    """Fit PCA whitening of the embedding signal on the collection and rebuild its index."""
    chosen = next(iter(app.signals.whitenable().items()), None)
    if chosen is None:
        raise ConfigError(
            "whitening needs the 'embedding' signal: add it to ingest.signals and set models.embedding"
        )
    name, signal = chosen
    rows = [
        signal.decode(p)[0]
        for batch in app.catalog.features.iterate(name, signal.spec.version)
        for _, p in batch
    ]
    if len(rows) < 2:
        raise InputError(
            Reason.NOT_AN_IMAGE, f"whitening needs at least 2 embedded images; the collection has {len(rows)}"
        )
    whitening = Whitening.fit(
        np.stack(rows).astype(np.float32), app.settings.models.whiten_dim if dim is None else dim
    )
    path = app.whitening_path(signal)
    path.parent.mkdir(parents=True, exist_ok=True)
    whitening.save(path)
    active = whitening if app.settings.models.whiten else None
    signal.whitening = active
    app.indexes.rebuild([name])
    return {
        "fitted_on": whitening.fitted_on,
        "dim": int(whitening.projection.shape[1]),
        "active": active is not None,
    }


def _disk_use(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed while we count
                total += os.path.getsize(os.path.join(root, name))
    return total
