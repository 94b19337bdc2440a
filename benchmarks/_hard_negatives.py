"""Hard negatives for calibrate.py: different pictures whose hashes come close because they share a flat
background: generated drawings on one uniform colour, pixel-art sprites with different silhouettes,
and the demo's sample images."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

BACKGROUNDS = ((0, 0, 0), (255, 255, 255), (128, 128, 128), (20, 40, 120))
SHAPES = ("circle", "square", "triangle", "ring", "cross", "star", "bars")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def drawing(background: tuple[int, int, int], rng: random.Random, side: int = 256) -> Image.Image:
    """On a uniform ``background``: half the time one large shape near the middle (an icon, a
    logo, a photo of a round thing on black: the hardest case), else one to three shapes of
    random kinds, colours, sizes and places."""
    image = Image.new("RGB", (side, side), background)
    pen = ImageDraw.Draw(image)
    icon = rng.random() < 0.5
    for _ in range(1 if icon else rng.choice((1, 2, 3))):
        kind = rng.choice(SHAPES)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if icon:
            r = rng.randint(side // 4, side * 9 // 20)
            cx, cy = (side // 2 + rng.randint(-side // 16, side // 16) for _ in range(2))
        else:
            r = rng.randint(side // 8, side * 2 // 5)
            cx, cy = rng.randint(r, side - r), rng.randint(r, side - r)
        box = (cx - r, cy - r, cx + r, cy + r)
        if kind == "circle":
            pen.ellipse(box, fill=colour)
        elif kind == "square":
            pen.rectangle(box, fill=colour)
        elif kind == "triangle":
            pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
        elif kind == "ring":
            pen.ellipse(box, outline=colour, width=max(3, r // 4))
        elif kind == "cross":
            pen.rectangle((cx - r // 4, cy - r, cx + r // 4, cy + r), fill=colour)
            pen.rectangle((cx - r, cy - r // 4, cx + r, cy + r // 4), fill=colour)
        elif kind == "star":
            points = [
                (
                    cx + (r if k % 2 == 0 else r / 2.5) * np.sin(k * np.pi / 5),
                    cy - (r if k % 2 == 0 else r / 2.5) * np.cos(k * np.pi / 5),
                )
                for k in range(10)
            ]
            pen.polygon(points, fill=colour)
        else:
            for k in range(3):
                pen.rectangle(
                    (cx - r + k * (2 * r // 3), cy - r, cx - r + k * (2 * r // 3) + r // 3, cy + r),
                    fill=colour,
                )
    return image


def drawings(per_background: int, seed: int) -> list[list[bytes]]:
    """Groups of generated drawings, one group per background: any two of a group are different
    pictures.  A drawing whose silhouette (what is not background) is that of another of its group,
    as it is or mirrored, is drawn again: the same shapes in other colours are a recoloured copy."""
    rng = random.Random(seed)
    groups = []
    for bg in BACKGROUNDS:
        made: list[bytes] = []
        shapes: list[np.ndarray] = []
        while len(made) < per_background:
            image = drawing(bg, rng)
            mask = _outline(image, bg)
            if any(_alike(mask, m, 0.8) for m in shapes):
                continue
            made.append(_png(image))
            shapes.append(mask)
        groups.append(made)
    return groups


def _outline(image: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    pixels = np.asarray(image.resize((16, 16), Image.Resampling.BOX), dtype=np.int16)
    return np.asarray(np.abs(pixels - np.array(background)).max(axis=2) > 24)


def _alike(mask: np.ndarray, other: np.ndarray, share: float = 0.9) -> bool:
    """Whether two silhouettes are the same, as they are or one mirrored (``share`` of their cells
    alike; of drawings 80%, so that the same shape a little larger in another colour, which a grey
    hash cannot tell from a recoloured copy, is no negative either)."""
    return bool((mask == other).mean() > share or (mask[:, ::-1] == other).mean() > share)


def _silhouette(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A").resize((16, 16), Image.Resampling.NEAREST)) > 127


def sprites(folder: Path, limit: int) -> list[list[bytes]]:
    """One group of pixel-art sprites on transparency (``folder``/**/*.png of at most 64x64 px), no two of
    them with the same silhouette, as it is or mirrored: a recoloured or mirrored sprite is the same
    picture (a copy), not a negative."""
    chosen: list[bytes] = []
    shapes: list[np.ndarray] = []
    seen: set[str] = set()
    for path in sorted(folder.rglob("*.png")):
        with Image.open(path) as opened:
            if max(opened.size) > 64:
                continue
            image = opened.convert("RGBA")
        pixels = hashlib.sha256(np.asarray(image).tobytes()).hexdigest()
        mask = _silhouette(image)
        if pixels in seen or mask.all() or not mask.any():
            continue  # the same sprite twice, or no transparent background (a tile)
        seen.add(pixels)
        if any(_alike(mask, m) for m in shapes):
            continue
        chosen.append(path.read_bytes())
        shapes.append(mask)
        if len(chosen) == limit:
            break
    return [chosen]


def samples() -> list[list[bytes]]:
    """The demo's sample images (scikit-image's, where installed), one group."""
    from lookalike.usecases.demo import sample_images

    found = []
    for _, image, _, _ in sample_images():
        alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        found.append(_png(image.convert("RGBA" if alpha else "RGB")))
    return [found]
