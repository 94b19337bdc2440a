"""DCT perceptual hash, 576 bits (a 24x24 block of low frequencies of a 96x96 grey image).

Mirroring and rotating an image only flips signs and transposes its DCT
coefficients, so the mirrored (and rotated) hashes come from one transform
rather than from new decodes.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
from PIL import Image

from lookalike.decode import DecodedImage
from lookalike.signals.base import BaseSignal, Capability, Kind, Metric, SignalSpec
from lookalike.signals.calibration import fitted, probability

__all__ = ["PHash"]

HASH_SIZE = 24
IMAGE_SIZE = HASH_SIZE * 4


@cache
def _dct_rows(n: int, keep: int) -> np.ndarray:
    """First ``keep`` rows of the orthonormal DCT-II matrix of size n."""
    k = np.arange(keep)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return np.asarray(m, dtype=np.float32)


def coefficients(grey: np.ndarray) -> np.ndarray:
    """Low-frequency DCT coefficients (HASH_SIZE x HASH_SIZE) of a square grey image."""
    d = _dct_rows(grey.shape[0], HASH_SIZE)
    return np.asarray(d @ grey.astype(np.float32) @ d.T)


def bits(coeffs: np.ndarray) -> np.ndarray:
    """Packed hash: a coefficient above the block's median is a one."""
    return np.packbits(coeffs > np.median(coeffs))


def variants(coeffs: np.ndarray, which: Literal["mirror", "dihedral"]) -> list[np.ndarray]:
    """Coefficients of the image itself, its mirror and, for 'dihedral', its rotations."""
    sign = np.where(np.arange(HASH_SIZE) % 2 == 1, -1.0, 1.0).astype(np.float32)
    mirror = coeffs * sign[None, :]  # horizontal flip negates odd horizontal frequencies
    if which == "mirror":
        return [coeffs, mirror]
    flip_v = coeffs * sign[:, None]
    both = coeffs * sign[:, None] * sign[None, :]
    return [coeffs, mirror, flip_v, both, coeffs.T, mirror.T, flip_v.T, both.T]


TELLING_SLACK = 24  # bits a hash may be off half set and still tell pictures apart
BORDER_VIEW = 128  # the side of the grey view a uniform border is looked for in
BORDER_MIN = 0.03  # a border narrower than this share of the side is not trimmed
BORDER_NOISE = 6.0  # the most a border's pixels may differ from its colour (JPEG ringing, grain)


def uniform_border(grey: np.ndarray) -> tuple[float, float, float, float] | None:
    """The picture inside a uniform border as (left, top, right, bottom) in [0, 1], or None.

    A border is the outer rows and columns whose every pixel is within ``BORDER_NOISE`` of
    the colour of the outermost ones; it is trimmed when one side is at least
    ``BORDER_MIN`` wide and the picture inside keeps half the area.
    """
    view = grey.astype(np.float32)
    colour = float(np.median(np.concatenate([view[0], view[-1], view[:, 0], view[:, -1]])))
    far = np.abs(view - colour) > BORDER_NOISE
    rows, cols = far.any(axis=1), far.any(axis=0)
    if not rows.any() or not cols.any():
        return None  # one colour all over
    top, bottom = int(np.argmax(rows)), len(rows) - int(np.argmax(rows[::-1]))
    left, right = int(np.argmax(cols)), len(cols) - int(np.argmax(cols[::-1]))
    h, w = view.shape
    widest = max(top / h, 1 - bottom / h, left / w, 1 - right / w)
    if widest < BORDER_MIN or (bottom - top) * (right - left) < 0.5 * h * w:
        return None
    return left / w, top / h, right / w, bottom / h


HUE_STEPS = 24  # a few-colour query is also hashed with its hue turned by each 1/24 turn (15 degrees)
FEW_COLOURS = 256  # an image of at most this many colours (pixel art, a graphic) gets those rows
GREYISH = 16  # the most its channels may differ for an image to count as grey (no hue to turn)
HUE_PENALTY = 32  # the most bits a hue-turned row's distance counts more than the query's own rows'
TURN_SIDE = 256  # a larger few-colour image is reduced to this long side before its hue is turned


def hue_turned(image: DecodedImage) -> list[DecodedImage]:
    """The few-colour image with its hue turned by each 1/HUE_STEPS of a turn but none,
    saturation and value kept; none for a photo or a grey image.

    A palette swap (a sprite recoloured by turning its hue) changes the grey levels the phash
    is made of; the image turned back by about the same angle has nearly the original's.  The
    palette is turned, at the image's own resolution (pixel art: before it is enlarged and
    averaged to the hash's view, as the source was at ingest), so each turned image is what
    ingest would have hashed, border and all."""
    picture = image.image.convert("RGB")
    if max(picture.size) > TURN_SIDE:
        picture = picture.copy()
        picture.thumbnail((TURN_SIDE, TURN_SIDE), Image.Resampling.BOX)
    colours = picture.getcolors(FEW_COLOURS)
    if colours is None:
        return []
    palette = np.array([c for _, c in colours], dtype=np.uint8).reshape(len(colours), 3)
    if int((palette.astype(np.int32).max(axis=1) - palette.min(axis=1)).max()) < GREYISH:
        return []
    pixels = np.asarray(picture)
    keys = (pixels[..., 0].astype(np.int32) << 16) | (pixels[..., 1].astype(np.int32) << 8) | pixels[..., 2]
    known = (palette[:, 0].astype(np.int32) << 16) | (palette[:, 1].astype(np.int32) << 8) | palette[:, 2]
    order = np.argsort(known)
    index = order[np.searchsorted(known[order], keys)]  # each pixel's palette entry
    hue, saturation, value = _hsv(palette)
    turns = []
    for step in range(1, HUE_STEPS):
        turned = _rgb((hue + step / HUE_STEPS) % 1.0, saturation, value)
        recoloured = Image.fromarray(np.ascontiguousarray(turned[index]), "RGB")
        turns.append(DecodedImage(recoloured, image.width, image.height, "", ""))
    return turns


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (in turns), saturation and value (0..1) of ``(n, 3)`` uint8 colours, unrounded (an
    8-bit HSV round trip alone moves the grey levels enough to flip many bits of a tile's hash)."""
    c = rgb.astype(np.float64) / 255.0
    high, low = c.max(axis=1), c.min(axis=1)
    chroma = high - low
    safe = np.where(chroma > 0, chroma, 1.0)
    r, g, b = c[:, 0], c[:, 1], c[:, 2]
    hue = np.where(
        high == r, ((g - b) / safe) % 6.0, np.where(high == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    hue = np.where(chroma > 0, hue / 6.0, 0.0)
    return hue, np.where(high > 0, chroma / np.where(high > 0, high, 1.0), 0.0), high


def _rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``(n, 3)`` uint8 colours of hue (turns), saturation and value: the inverse of :func:`_hsv`."""
    sector = hue * 6.0
    k = np.stack([(5.0 + sector) % 6.0, (3.0 + sector) % 6.0, (1.0 + sector) % 6.0], axis=1)
    fall = np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    c = value[:, None] * (1.0 - saturation[:, None] * fall)
    return np.asarray(np.clip(np.rint(c * 255.0), 0, 255), dtype=np.uint8)


def _inside(image: DecodedImage) -> DecodedImage | None:
    """The picture inside a uniform border of ``image``, or None when it has none."""
    box = uniform_border(image.grey(BORDER_VIEW))
    if box is None:
        return None
    left, top, right, bottom = (round(v * s) for v, s in zip(box, image.image.size * 2, strict=True))
    return DecodedImage(image.image.crop((left, top, right, bottom)), image.width, image.height, "", "")


class PHash(BaseSignal):
    """576-bit DCT perceptual hash compared by Hamming distance.

    Calibration on web photos: unrelated pairs are 258 bits apart at the 1st
    percentile (288 median); half-size JPEG-quality-30 copies 20 median, 56 at
    most; copies with a few percent cropped off 100-150 (a 576-bit hash keeps high
    enough frequencies to notice a shift).  Midpoint 170 and spread 18 put 120
    bits at 0.94, 200 at 0.16 and 258 at 0.008.
    """

    spec = SignalSpec("phash", 1, Kind.BINARY, Metric.HAMMING, HASH_SIZE * HASH_SIZE, "uint8")
    input_size = IMAGE_SIZE
    capabilities = frozenset({Capability.VECTORS, Capability.DUPLICATES})
    description = (
        "perceptual hash (DCT, 576 bits): the same picture re-encoded, resized, recoloured or mirrored"
    )
    midpoint = 170.0
    spread = 18.0

    def __init__(
        self, query_variants: Literal["mirror", "dihedral"] = "mirror", hue_turns: bool = True
    ) -> None:
        self.query_variants, self.hue_turns = query_variants, hue_turns
        self.calibration = fitted(self.spec.name, self.spec.version)

    def similarity(self, distance: np.ndarray) -> np.ndarray:
        """The probability that a hit this far is the same picture (calibration.json), else the curve above."""
        if self.calibration is None:
            return super().similarity(distance)
        return probability(self.calibration, distance)

    def extract(self, image: DecodedImage) -> np.ndarray:
        """Row 0: the hash (the one indexed); row 1: the hash of the mirrored image.  Of a picture
        in a uniform border, rows 0 and 1 are those of the picture inside it, and rows 2 and 3
        those of the whole image, border and all."""
        whole = self._hashes(image, "mirror")
        inner = _inside(image)
        return whole if inner is None else np.vstack([self._hashes(inner, "mirror"), whole])

    @staticmethod
    def telling(rows: np.ndarray) -> np.ndarray:
        """Whether each stored hash row can tell pictures apart: a hash splits its coefficients at
        their median, so about half its bits are set; a flat image (one colour, a plain icon) has
        few distinct coefficients and far fewer bits set, and its hash is near every other flat one."""
        ones = np.unpackbits(np.atleast_2d(rows), axis=1).sum(axis=1)
        return np.asarray(np.abs(ones - HASH_SIZE * HASH_SIZE / 2) <= TELLING_SLACK)

    def describe_row(self, row: int) -> str:
        """What query row ``row`` is, for a result's evidence."""
        variants = 2 if self.query_variants == "mirror" else 8
        names = [
            "the query",
            "the mirrored query",
            "the query flipped upside down",
            "the query turned 180°",
            "the query transposed",
            "the query turned a quarter",
            "the query turned three quarters",
            "the query transposed the other way",
        ][:variants]
        if row >= 2 * variants:
            turn = row - 2 * variants
            where = " inside its border" if turn >= HUE_STEPS - 1 else ""
            return f"the query{where} with its hue turned {360 * (turn % (HUE_STEPS - 1) + 1) // HUE_STEPS}°"
        inside = " inside its border" if row >= variants else ""
        return names[row % variants] + inside

    def penalised(self, distance: np.ndarray) -> np.ndarray:
        """The ``(rows, n)`` distances of each query row to each candidate, a hue-turned row's made
        farther by as many bits as it is off, ``HUE_PENALTY`` at most: 23 or 46 more rows would
        otherwise find near tiles of other pixel art, but a turned row that is off only a few bits
        is as telling as the query's own (chance puts a tile of other art that near no row)."""
        plain = 2 * (2 if self.query_variants == "mirror" else 8)
        if len(distance) <= plain:
            return distance
        out = np.asarray(distance, dtype=np.float64).copy()
        out[plain:] += np.minimum(out[plain:], HUE_PENALTY)
        return out

    def query(self, image: DecodedImage) -> np.ndarray:
        """The hashes of the image and its variants; of a picture in a uniform border (a frame, a
        letterbox), also those of the picture inside it (rows after the variants); of a
        few-colour image (``hue_turns``), also those of the image with its hue turned by each 1/24
        turn, then of the picture inside the border of each turned image (its own border, found
        as ingest finds it: the border of a recoloured copy need not be found alike; the whole
        turned image again where it has none), after the border rows (which repeat the variants
        when the image has no border)."""
        rows = self._hashes(image, self.query_variants)
        inner = _inside(image)
        turns = hue_turned(image) if self.hue_turns else []
        if inner is None and not turns:
            return rows
        border = rows if inner is None else self._hashes(inner, self.query_variants)
        if not turns:
            return np.vstack([rows, border])
        whole = [coefficients(t.grey(IMAGE_SIZE).astype(np.float32)) for t in turns]
        inside = [_inside(t) for t in turns]
        inner_turned = [
            w if t is None else coefficients(t.grey(IMAGE_SIZE).astype(np.float32))
            for w, t in zip(whole, inside, strict=True)
        ]
        return np.vstack([rows, border, _packed(*whole, *inner_turned)])

    @staticmethod
    def _hashes(image: DecodedImage, which: Literal["mirror", "dihedral"]) -> np.ndarray:
        coeffs = coefficients(image.grey(IMAGE_SIZE).astype(np.float32))
        return _packed(*variants(coeffs, which))


def _packed(*coeffs: np.ndarray) -> np.ndarray:
    """One packed hash row per block of coefficients: a one where it is above the block's median."""
    flat = np.stack([c.ravel() for c in coeffs])
    middle = flat.shape[1] // 2  # 576 values: the median is the mean of the two middle ones
    ordered = np.partition(flat, (middle - 1, middle), axis=1)
    median = (ordered[:, middle - 1] + ordered[:, middle]) / 2
    return np.packbits(flat > median[:, None], axis=1)
