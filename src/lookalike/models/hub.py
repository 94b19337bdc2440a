"""Models lookalike knows how to fetch from a model hub (``lookalike models pull``).

Each entry names a public repository of ONNX exports and the config that feeds
it.  Nothing is ever downloaded implicitly: only ``pull`` calls :func:`download`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lookalike.errors import ModelError

if TYPE_CHECKING:
    import httpx

__all__ = ["KNOWN", "KnownModel", "download"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class KnownModel:
    """A model on the hub: which repository, which files go where, and its config."""

    name: str
    repo: str
    files: dict[str, str]  # file in the model folder -> path in the repository
    config: dict[str, Any]
    about: str
    revision: str = "main"
    size_mb: int = 0
    #: sha256 of files as published (file in the model folder -> digest): a download that differs is refused
    sha256: dict[str, str] = field(default_factory=dict)


KNOWN: dict[str, KnownModel] = {
    m.name: m
    for m in [
        KnownModel(
            name="clip-vit-b32",
            repo="Xenova/clip-vit-base-patch32",
            files={
                "image.onnx": "onnx/vision_model.onnx",
                "text.onnx": "onnx/text_model.onnx",
                "tokenizer.json": "tokenizer.json",
            },
            config={
                "kind": "clip",
                "dim": 512,
                "image": {
                    "input": "pixel_values",
                    "output": "image_embeds",
                    "size": 224,
                    "mean": CLIP_MEAN,
                    "std": CLIP_STD,
                },
                "text": {
                    "input": "input_ids",
                    "output": "text_embeds",
                    "context_length": 77,
                    "pad_id": 49407,
                },
            },
            about="OpenAI CLIP ViT-B/32: image and text in one 512-d space (text search, zero-shot tags)",
            size_mb=600,
        ),
        KnownModel(
            name="dinov2-small",
            repo="Xenova/dinov2-small",
            files={"image.onnx": "onnx/model.onnx"},
            config={
                "kind": "image",
                "dim": 384,
                "image": {"input": "pixel_values", "output": "pooler_output", "size": 224},
                "image_calibration": (0.3, 0.06),
            },
            about="Meta DINOv2 ViT-S/14: a 384-d image embedding that finds look-alikes",
            size_mb=90,
        ),
        KnownModel(
            # microsoft/resnet-18 (ImageNet-1k) as exported to ONNX for transformers.js; its config.json
            # holds the 1000 class names (id2label). Pinned to a commit whose model.onnx the hub lists
            # with the sha256 below (read from the hub's file page; not downloaded on the machines
            # lookalike is developed on).
            name="resnet18-imagenet",
            repo="Xenova/resnet-18",
            revision="6e70fa1eb2370c15569e723188a0b568963bf3b3",
            files={"image.onnx": "onnx/model.onnx", "labels.json": "config.json"},
            sha256={"image.onnx": "bafc17f0b4c629754795a49a015ff50b29f9f3329769f204a16db3c2bd869af0"},
            config={
                "kind": "classifier",
                "dim": 1000,
                "image": {
                    "input": "pixel_values",
                    "logits": "logits",
                    "labels": "labels.json",
                    "size": 224,
                    "crop_fraction": 0.875,
                },
            },
            about="Microsoft ResNet-18, ImageNet-1k classes: tags ('golden retriever', 'espresso') for the tags signal",
            size_mb=47,
        ),
    ]
}

Progress = Callable[[str, int, int | None], None]  # file, bytes so far, total if known


def download(
    model: KnownModel, hub_url: str, folder: Path, timeout: float, progress: Progress | None = None
) -> dict[str, str]:
    """Download the model's files into ``folder``; returns the sha256 of each.

    Raises :class:`ModelError` with what to do when the hub cannot be reached.
    """
    import httpx  # here, not at the top: every command imports this module, few download

    hashes: dict[str, str] = {}
    with httpx.Client(follow_redirects=True, timeout=timeout) as client:
        for target, source in model.files.items():
            url = f"{hub_url.rstrip('/')}/{model.repo}/resolve/{model.revision}/{source}"
            hashes[target] = _fetch(client, url, folder / target, progress)
            expected = model.sha256.get(target)
            if expected is not None and hashes[target] != expected:
                raise ModelError(
                    f"{url} is not the file lookalike knows (sha256 {hashes[target]}, expected {expected}): "
                    "nothing was installed; the hub's copy changed or the download was tampered with"
                )
    return hashes


def _fetch(client: httpx.Client, url: str, path: Path, progress: Progress | None) -> str:
    import httpx

    digest = hashlib.sha256()
    partial = path.with_name(path.name + ".part")
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ModelError(f"{url} answered HTTP {response.status_code}")
            total = int(response.headers.get("content-length", 0)) or None
            done = 0
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(path.name, done, total)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise ModelError(
            f"cannot download {url} ({type(exc).__name__}: {exc}). Offline? On a machine without "
            "internet, get the files elsewhere and install the folder with `lookalike models add NAME PATH` "
            "(see docs/models.md)"
        ) from None
    partial.replace(path)
    return digest.hexdigest()
