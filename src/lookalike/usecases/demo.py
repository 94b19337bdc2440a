"""An offline demo collection: sample photos bundled with scikit-image, plus edited copies.

Without scikit-image the demo draws its own pictures, so it always runs offline.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from lookalike.app import App
from lookalike.ingest.pipeline import IngestReport, Progress
from lookalike.usecases.ingest import index

__all__ = ["build_demo", "sample_images"]

SAMPLES = {
    "astronaut.png": ("Astronaut", "portrait space nasa"),
    "chelsea.png": ("Chelsea the cat", "cat animal pet"),
    "coffee.png": ("A cup of coffee", "coffee cup drink"),
    "rocket.jpg": ("Rocket on the launch pad", "rocket space launch"),
    "motorcycle_left.png": ("Motorcycle", "motorcycle vehicle"),
    "hubble_deep_field.jpg": ("Hubble deep field", "space galaxies stars"),
    "camera.png": ("Cameraman", "portrait greyscale"),
    "horse.png": ("Horse silhouette", "horse animal silhouette"),
    "logo.png": ("scikit-image logo", "logo transparent"),
    "coins.png": ("Greek coins", "coins money greyscale"),
    "color.png": ("Colour wheel", "colour chart"),
    "retina.jpg": ("Retina", "medical eye"),
}


def sample_images() -> Iterator[tuple[str, Image.Image, str, str]]:
    """(file name, image, title, tags) of the demo's originals."""
    if find_spec("skimage") is not None:
        spec = find_spec("skimage.data")
        folder = Path(spec.origin).parent if spec and spec.origin else None
        if folder is not None:
            for name, (title, tags) in SAMPLES.items():
                if (folder / name).exists():
                    with Image.open(folder / name) as image:
                        yield name, image.copy(), title, tags
            return
    yield from _drawn_images()


def _drawn_images() -> Iterator[tuple[str, Image.Image, str, str]]:
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:240, 0:320] / 240.0
    for number in range(8):
        a, b, c = rng.uniform(1, 6, 3)
        pixels = np.stack(
            [np.sin(a * x + number), np.cos(b * y * x + c), np.sin(c * (x - y) * (number + 1))], axis=2
        )
        image = Image.fromarray(((pixels + 1) * 127.5).astype(np.uint8), "RGB")
        yield f"pattern{number}.png", image, f"Pattern {number}", "pattern generated"


def _edits(image: Image.Image) -> Iterator[tuple[str, Image.Image]]:
    rgb = image.convert("RGB")
    w, h = rgb.size
    yield "half", rgb.resize((w // 2, h // 2))
    yield "mirror", ImageOps.mirror(rgb)
    yield "crop", rgb.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    yield "bright", ImageEnhance.Brightness(rgb).enhance(1.3)
    yield "grey", ImageOps.grayscale(rgb)


def build_demo(app: App, progress: Progress | None = None) -> tuple[Path, IngestReport]:
    """Write the demo images under the collection folder, index them, return a query image."""
    folder = app.home / "demo-images"
    (folder / "edits").mkdir(parents=True, exist_ok=True)
    metadata, query = [], app.home / "demo-query.jpg"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for number, (name, image, title, tags) in enumerate(sample_images()):
            _save(image, folder / name)
            metadata.append({"path": name, "title": title, "tags": tags, "price": f"{9 + number}.99"})
            for edit, edited in _edits(image):
                edited_name = f"{Path(name).stem}-{edit}.jpg"
                if number % 2:
                    buffer = io.BytesIO()
                    edited.save(buffer, "JPEG", quality=60)
                    zf.writestr(f"edits/{edited_name}", buffer.getvalue())
                else:
                    edited.save(folder / "edits" / edited_name, "JPEG", quality=60)
            if name.startswith(("coffee", "pattern0")):
                _query(image).save(query, "JPEG", quality=80)
    (folder / "more-edits.zip").write_bytes(archive.getvalue())
    sidecar = folder / "metadata.jsonl"
    sidecar.write_text("".join(json.dumps(m) + "\n" for m in metadata), encoding="utf-8")
    report = index(app, [folder], metadata=sidecar, progress=progress)
    return query, report


def _save(image: Image.Image, path: Path) -> None:
    if not path.exists():
        image.save(path)


def _query(image: Image.Image) -> Image.Image:
    """A re-encoded, smaller, slightly brighter copy with a thin border cropped off."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    cropped = rgb.crop((w // 50, h // 50, w - w // 50, h - h // 50)).resize((w * 3 // 5, h * 3 // 5))
    return ImageEnhance.Brightness(cropped).enhance(1.1)
