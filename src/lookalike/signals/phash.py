"""DCT perceptual hash, 576 bits (a 24x24 block of low frequencies of a 96x96 grey image).

Mirroring and rotating an image only flips signs and transposes its DCT
coefficients, so the mirrored (and rotated) hashes come from one transform
rather than from new decodes.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np

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
    description = "perceptual hash (DCT, 576 bits): the same picture re-encoded, resized, recoloured or mirrored"
    midpoint = 170.0
    spread = 18.0

    def __init__(self, query_variants: Literal["mirror", "dihedral"] = "mirror") -> None:
        self.query_variants = query_variants
        self.calibration = fitted(self.spec.name, self.spec.version)

    def similarity(self, distance: np.ndarray) -> np.ndarray:
        """The probability that a hit this far is the same picture (calibration.json), else the curve above."""
        if self.calibration is None:
            return super().similarity(distance)
        return probability(self.calibration, distance)

    def extract(self, image: DecodedImage) -> np.ndarray:
        """Row 0: the hash; row 1: the hash of the mirrored image."""
        return self._hashes(image, "mirror")

    def query(self, image: DecodedImage) -> np.ndarray:
        return self._hashes(image, self.query_variants)

    @staticmethod
    def _hashes(image: DecodedImage, which: Literal["mirror", "dihedral"]) -> np.ndarray:
        coeffs = coefficients(image.grey(IMAGE_SIZE).astype(np.float32))
        flat = np.stack([v.ravel() for v in variants(coeffs, which)])
        middle = flat.shape[1] // 2  # 576 values: the median is the mean of the two middle ones
        ordered = np.partition(flat, (middle - 1, middle), axis=1)
        median = (ordered[:, middle - 1] + ordered[:, middle]) / 2
        return np.packbits(flat > median[:, None], axis=1)
