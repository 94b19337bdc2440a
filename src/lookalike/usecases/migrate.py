"""``lookalike migrate``: move a collection to other backends without computing a feature again.

Every catalog table is copied in key order, in batches, keeping ids (an image id
names one content for ever: links, caches and indexes rely on it); thumbnails
follow; then the target's indexes are built from the copied features.  Rows
already in the target are kept, so a copy that was stopped is finished by running
it again.  The source is only read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lookalike.app import App
from lookalike.catalog.schema import TABLES
from lookalike.errors import ConfigError

__all__ = ["migrate"]

BATCH = 5000


def migrate(source: App, target: App, progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Copy ``source``'s catalog and thumbnails into ``target``'s, then build its indexes."""
    notify = progress or (lambda table, n: None)
    copied: dict[str, int] = {}
    if source.settings.catalog == target.settings.catalog and source.home == target.home:
        return {"copied": copied, "indexes": target.indexes.rebuild()}  # only the vectors move
    _check_target(source, target)
    for table in TABLES:
        if table == "feature":
            continue  # copied with their images
        after, copied[table] = None, 0
        while rows := source.catalog.rows.export(table, after, BATCH):
            target.catalog.rows.import_(table, rows)
            if table == "image":  # the features of exactly these images
                features = source.catalog.rows.export("feature", after, BATCH)
                target.catalog.rows.import_("feature", features)
                copied["feature"] = copied.get("feature", 0) + len(features)
            after = rows[-1][0]
            copied[table] += len(rows)
            notify(table, len(rows))
    target.catalog.rows.after_import()
    copied["thumbnail"] = 0
    for batch in source.thumbs.items():  # thumbs.sqlite or the catalog's table, into the target's store
        target.thumbs.put(batch)
        copied["thumbnail"] += len(batch)
        notify("thumbnail", len(batch))
    indexes = target.indexes.rebuild()
    return {"copied": copied, "indexes": indexes}


def _check_target(source: App, target: App) -> None:
    """Refuse a target that holds another collection (its ids would clash with the source's)."""
    theirs = target.catalog.rows.export("image", None, 1)
    if theirs:
        image_id, sha = theirs[0][0], theirs[0][1]
        mine = source.catalog.images.get(int(image_id))
        if mine is None or mine.sha256 != sha:
            raise ConfigError(
                "the target catalog already holds another collection; migrate into an empty database"
            )
