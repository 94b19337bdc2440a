"""Whether crop search works in a collection, and what to do when it does not.

A part of a picture, a picture inside a larger one (a screenshot of a page showing it) and a
picture turned a few degrees are found by local features (the ``keypoints`` signal), which an
image search verifies by itself when its global signals find no copy
(``search.local_fallback``).  They are indexed by default where OpenCV is installed; when they
are not (OpenCV missing, or ``ingest.signals`` leaves them out), or only some images have them
(a collection made before), ``lookalike stats``, a search's notes (CLI, API, web page) say so
and how to turn it on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lookalike.app import App

__all__ = ["CROP_SIGNAL", "CropSearch", "crop_search"]

#: The local signal that crop search needs.
CROP_SIGNAL = "keypoints"
_BACKFILL = f"`lookalike index --signals {CROP_SIGNAL}`"


@dataclass(frozen=True)
class CropSearch:
    """Crop search in one collection: ``available`` when a local signal is indexed for every
    image; ``covered`` of ``images`` have its features; ``note`` says what is missing and how to
    turn it on (None when nothing is)."""

    available: bool
    signal: str | None
    covered: int
    images: int
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def crop_search(app: App) -> CropSearch:
    """What crop search can do in ``app``'s collection now."""
    local = app.signals.local()
    images = _usable(app)
    if not local:
        return CropSearch(False, None, 0, images, _off_note(app))
    name, signal = next(iter(local.items()))
    covered = min(app.catalog.features.count(name, signal.spec.version), images)
    if covered < images:
        note = (
            f"crop search covers {covered} of {images} images: {_BACKFILL} computes the keypoints of "
            "the others, so a part of one of them, or one inside a larger picture, is found too"
        )
        return CropSearch(covered > 0, name, covered, images, note)
    return CropSearch(True, name, covered, images, None)


def _usable(app: App) -> int:
    """Usable images: those with the required duplicate-key signal's feature (every one has it)."""
    key = app.signals.duplicate_key()
    if key is None:
        return int(app.catalog.images.counts()["images"])
    return app.catalog.features.count(key[0], key[1].spec.version)


def _off_note(app: App) -> str:
    lost = "a part of a picture, or a picture inside a larger one, is not found"
    unavailable = app.plugins.signals.unavailable.get(CROP_SIGNAL)
    if unavailable is not None:
        return (
            f"crop search is not available: {unavailable.why}, so keypoints are not indexed and {lost} "
            f"({unavailable.fix[:1].lower()}{unavailable.fix[1:]}, then {_BACKFILL})"
        )
    return (
        f"crop search is off: keypoints are not indexed (ingest.signals leaves them out), so {lost} "
        f"(add keypoints to ingest.signals, e.g. "
        f'LOOKALIKE_INGEST__SIGNALS=\'["phash","colour","junk","keypoints"]\', then {_BACKFILL})'
    )
