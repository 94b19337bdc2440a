"""Duplicates: groups of the same picture, and which one of each group to keep.

A group is ``exact`` (one content seen at several places), ``copy`` (several contents
that are the same picture: the copy tier of search, :func:`~lookalike.signals.calibration.is_copy`:
the phash says so with a calibrated probability, on the image, its mirror image, or either
transposed (quarter turns), and where it is uncertain the colour histograms agree; or, with
``max_bits``, within that many bits; or local keypoints verify a transform over most of both
images, a picture turned a few degrees) or, when asked (``crops``, ``search.dupes_tiers``),
``crop`` (a member is a part of another, verified by keypoints).  Pairs are joined
transitively (:mod:`lookalike.usecases.copies`); each image says which pair brought it into
its group and why (``match``).  In each group one image is suggested to keep by ``keep`` rules, the first
rule that tells two images apart deciding:

- ``original``: an original over a derivative, a member that is a downscale or a crop of
  another member (:mod:`lookalike.usecases.derivatives`; each image says which it is of);
- ``largest``: the most pixels (a downscaled copy loses);
- ``lossless``: a lossless format (PNG, GIF, BMP, TIFF) over a lossy one (JPEG, WebP);
- ``metadata``: the most metadata where it was seen (title, text, tags, URL, page, extra);
- ``oldest``: indexed first.

A reviewer's choice for a group (the /dupes page, :mod:`lookalike.catalog.choices`) wins over
the rules: ``keep`` another image, keep ``all``, or ``different`` (not duplicates); each group
carries its ``key`` and ``choice``, and :func:`lookalike.usecases.dedupe.plan` acts on no group
whose choice is ``all`` or ``different``.

Junk (images a flag signal flagged: blank, spacer, tiny, placeholder) is left out unless
``include_junk``: every blank image is "the same picture" as every other of its colour, at any
size, so blanks and spacers would make large groups that bury the real copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lookalike.app import App
from lookalike.catalog.choices import CHOICES, Choice, group_key
from lookalike.errors import ConfigError, InputError, NotFoundError, Reason
from lookalike.records import ImageInfo, Occurrence
from lookalike.signals import Signal, distances
from lookalike.signals.calibration import is_copy
from lookalike.usecases.copies import Link, Links, Same, hash_links, keypoint_links
from lookalike.usecases.derivatives import Derivation, aimed, derivatives
from lookalike.usecases.search import hidden

__all__ = ["KEEP_RULES", "choose", "dupes"]

KEEP_RULES = ("original", "largest", "lossless", "metadata", "oldest")
LOSSLESS = {"PNG", "GIF", "BMP", "TIFF"}


def dupes(
    app: App,
    max_bits: int | None = None,
    keep: Sequence[str] | None = None,
    include_junk: bool = False,
    crops: bool | None = None,
) -> list[dict[str, Any]]:
    """Groups of exact copies and of copies of the same picture (with ``crops``, default
    ``search.dupes_tiers``, also of crops of it), each with the image to keep."""
    key = app.signals.duplicate_key()
    if key is None:
        raise ConfigError("finding duplicates needs a signal that tells near-identical images apart (phash)")
    rules = list(keep or app.settings.search.dupes_keep or KEEP_RULES)
    unknown = [r for r in rules if r not in KEEP_RULES]
    if unknown:
        raise ConfigError(f"unknown keep rule(s) {', '.join(unknown)}; known: {', '.join(KEEP_RULES)}")
    name, signal = key
    skip = set() if include_junk else hidden(app)
    # a tile is no file: it is left out unless also seen whole, and its places in sheets count for
    # no exact group (a sheet's sprites are often copies of each other: grass, walls)
    every = app.catalog.images.occurrences([i for i in app.catalog.images.ok_ids() if i not in skip])
    found = {i: [o for o in places if o.box is None] for i, places in every.items()}
    skip |= {i for i, places in found.items() if not places}
    if crops is None:
        crops = "crop" in app.settings.search.dupes_tiers
    links = Links()
    hash_links(app, name, signal, _same(app, signal, max_bits), skip, links)
    if app.settings.search.dupes_keypoints and max_bits is None:
        keypoint_links(app, skip, links, crops)
    groups = links.groups()
    grouped = {i for g in groups for i in g}
    for image_id, places in found.items():
        if len(places) > 1 and image_id not in grouped:
            groups.append([image_id])
    return _describe(app, name, signal, sorted(groups, key=lambda g: (-len(g), min(g))), rules, links.why)


def choose(app: App, key: str, choice: str, keep_id: int | None = None) -> dict[str, Any]:
    """Remember a reviewer's ``choice`` for the group ``key`` (its members' ids, '-'-joined):
    ``suggested``, ``keep`` (with ``keep_id``, a member), ``all`` or ``different``."""
    try:
        members = {int(i) for i in key.split("-")}
    except ValueError:
        raise InputError(Reason.INVALID, f"a group is its image ids joined by '-', not {key!r}") from None
    if choice not in CHOICES:
        raise InputError(Reason.INVALID, f"a choice is one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "keep" and keep_id not in members:
        raise InputError(Reason.INVALID, f"'keep' names the image to keep, one of {sorted(members)}")
    missing = sorted(members - set(app.catalog.images.many(sorted(members))))
    if missing:
        raise NotFoundError(f"no image with id {', '.join(map(str, missing))}")
    app.catalog.choices.put(group_key(members), choice, keep_id if choice == "keep" else None)
    return {"key": group_key(members), "choice": choice, "keep": keep_id if choice == "keep" else None}


def _same(app: App, signal: Signal, max_bits: int | None) -> Same:
    """Which distances make two images the same picture (``telling``: the hash can tell pictures
    apart; ``colour``: the colour histograms' distances, None without the colour signal)."""
    near = app.settings.search.collapse_bits

    def same(d: np.ndarray, telling: bool, colour: np.ndarray | None) -> np.ndarray:
        if max_bits is not None:
            return d <= max_bits
        if not telling:  # a flat image's hash is near every other flat one: only near-identical counts
            return d <= near
        return np.asarray(is_copy(signal.similarity(d), colour))

    return same


def _describe(
    app: App, name: str, signal: Signal, groups: list[list[int]], rules: list[str], why_in: dict[int, Link]
) -> list[dict[str, Any]]:
    every = [i for g in groups for i in g]
    places = app.catalog.images.occurrences(every)
    images = app.catalog.images.many(every)
    stored = app.catalog.features.get(name, signal.spec.version, every)
    chosen = app.catalog.choices.all()
    described = []
    for group in groups:
        derived = derivatives(app, images, group) if "original" in rules and len(group) > 1 else {}
        ranked = sorted(group, key=lambda i: _rank(images[i], places.get(i, []), rules, derived))
        derived = aimed(derived, ranked, images)
        key = group_key(group)
        choice = chosen.get(key)
        why = _why(images, places, ranked, rules, derived)
        if choice is not None and choice.choice == "keep" and choice.keep_id in group:
            ranked.remove(choice.keep_id)
            ranked.insert(0, choice.keep_id)
        kept = ranked[0]
        rows = [signal.decode(stored[i]) for i in ranked]
        d = distances(signal.spec.metric, np.stack([r[0] for r in rows]), rows[0]).min(axis=1)
        described.append(
            {
                "kind": _kind(group, why_in),
                "key": key,
                "keep": kept,
                "choice": choice.choice if choice else "suggested",
                "why": _chosen(choice, why) if choice else why,
                "images": [
                    _image(images[i], places.get(i, []), int(d[j]), i == kept, derived.get(i), why_in.get(i))
                    for j, i in enumerate(ranked)
                ],
            }
        )
    return described


def _kind(group: list[int], why_in: dict[int, Link]) -> str:
    """``exact`` (one content at several places), ``crop`` (a member joined as a part of another)
    or ``copy``."""
    if len(group) == 1:
        return "exact"
    return "crop" if any(why_in[i].tier == "crop" for i in group if i in why_in) else "copy"


def _chosen(choice: Choice, why: str) -> str:
    said = {
        "keep": "kept by your choice",
        "all": "all kept by your choice",
        "different": "not duplicates, by your choice",
    }
    return f"{said.get(choice.choice, choice.choice)} on the review page (the rules said: {why})"


def _rank(
    image: ImageInfo, places: list[Occurrence], rules: list[str], derived: dict[int, Derivation]
) -> tuple[Any, ...]:
    """Sort key: smaller is better to keep, one term per rule in order."""
    terms = {
        "original": int(image.id in derived),
        "largest": -((image.width or 0) * (image.height or 0)),
        "lossless": 0 if (image.format or "").upper() in LOSSLESS else 1,
        "metadata": -_metadata(places),
        "oldest": image.id,
    }
    return (*(terms[r] for r in rules), image.id)


def _metadata(places: list[Occurrence]) -> int:
    return sum(
        bool(o.title) + bool(o.text) + bool(o.tags) + bool(o.url) + bool(o.page_url) + len(o.extra)
        for o in places
    )


def _why(
    images: dict[int, ImageInfo],
    places: dict[int, list[Occurrence]],
    ranked: list[int],
    rules: list[str],
    derived: dict[int, Derivation],
) -> str:
    """The first rule that sets the kept image above the next one, in words."""
    if len(ranked) == 1:
        return "one image seen at several places"
    best, next_ = images[ranked[0]], images[ranked[1]]
    for rule in rules:
        a = _rank(best, places.get(best.id, []), [rule], derived)[0]
        b = _rank(next_, places.get(next_.id, []), [rule], derived)[0]
        if a != b:
            return _original(best.id, derived) if rule == "original" else _say(rule, best, next_, places)
    return "all alike: the first indexed"


def _original(kept: int, derived: dict[int, Derivation]) -> str:
    """Why the kept image is the original: what each derivative is, and of which member."""
    parts = [
        f"image {i} is a {how} of {'it' if of == kept else f'image {of}'}"
        for i, (how, of) in sorted(derived.items())
    ]
    return "original: " + ", ".join(parts)


def _say(rule: str, best: ImageInfo, other: ImageInfo, places: dict[int, list[Occurrence]]) -> str:
    if rule == "largest":
        return f"largest: {best.width}x{best.height} px against {other.width}x{other.height}"
    if rule == "lossless":
        return f"lossless: {best.format} against {other.format}"
    if rule == "metadata":
        return f"more metadata: {_metadata(places.get(best.id, []))} fields against {_metadata(places.get(other.id, []))}"
    return f"oldest: indexed before image {other.id}"


def _image(
    image: ImageInfo,
    places: list[Occurrence],
    distance: int,
    keep: bool,
    derived: Derivation | None,
    link: Link | None,
) -> dict[str, Any]:
    return {
        "id": image.id,
        "keep": keep,
        "distance": distance,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "bytes": image.bytes,
        "locations": [o.uri for o in places],
        "derivative": None if derived is None else {"how": derived[0], "of": derived[1]},
        "match": None if link is None else {"of": link.other, "tier": link.tier, "evidence": link.evidence},
    }
