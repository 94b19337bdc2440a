"""Installed models: one folder each under ``models.folder``.

``add`` copies a folder (or a single image-model ``.onnx`` file) in, ``pull``
downloads a known model, and both verify before the model is visible: the files
load, a test input runs, and the output has the configured size.  A model is
installed by renaming a finished folder into place, so a killed install leaves
no half model behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from lookalike.errors import ModelError
from lookalike.models.config import CONFIG_FILE, ModelConfig, ModelKind, read_config
from lookalike.models.encoders import ImageEncoder, TextEncoder
from lookalike.models.hub import KNOWN, Progress, download
from lookalike.models.runtime import OnnxSession, Session

__all__ = ["LoadedModel", "ModelStore"]


@dataclass
class LoadedModel:
    """A model ready to embed: its config and encoders (sessions start on first use)."""

    config: ModelConfig
    folder: Path
    image: ImageEncoder
    text: TextEncoder | None


class ModelStore:
    """The models installed in one folder."""

    def __init__(self, folder: Path, providers: Sequence[str] = ("auto",), threads: int = 0) -> None:
        self.folder, self.providers, self.threads = folder, list(providers), threads

    def session(self, path: Path) -> Session:
        return OnnxSession(path, self.providers, self.threads)

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if (p / CONFIG_FILE).is_file())

    def describe(self) -> list[dict[str, Any]]:
        """Each installed model: name, kind, dim, size on disk, source."""
        found: list[dict[str, Any]] = []
        for name in self.names():
            folder = self.folder / name
            try:
                config = read_config(folder)
            except ModelError as exc:
                found.append({"name": name, "error": str(exc)})
                continue
            found.append(
                {
                    "name": name,
                    "kind": config.kind.value,
                    "dim": config.dim,
                    "bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
                    "source": config.source,
                    "text": config.text is not None,
                }
            )
        return found

    def load(self, name: str) -> LoadedModel:
        """The installed model ``name``, or :class:`ModelError` that says how to install one."""
        folder = self.folder / name
        if not (folder / CONFIG_FILE).is_file():
            installed = ", ".join(self.names()) or "none"
            raise ModelError(
                f"model '{name}' is not installed in {self.folder} (installed: {installed}). Add a model "
                f"folder with `lookalike models add {name} PATH`, or on a machine with internet "
                f"`lookalike models pull NAME` (known: {', '.join(KNOWN)})"
            )
        config = read_config(folder)
        text = TextEncoder(config, folder, self.session) if config.text is not None else None
        return LoadedModel(config, folder, ImageEncoder(config, folder, self.session), text)

    def add(self, name: str, source: Path, replace: bool = False) -> dict[str, Any]:
        """Install a model folder (with its config), or an ``.onnx`` file as an image model."""
        self._check_name(name, replace)
        if not source.exists():
            raise ModelError(f"no such file or folder: {source}")
        staging = self._staging()
        try:
            if source.is_dir():
                config = read_config(source)
                for path in source.iterdir():
                    if path.is_file():
                        shutil.copy2(path, staging / path.name)
            else:
                shutil.copy2(source, staging / "image.onnx")
                config = ModelConfig(name=name, kind=ModelKind.IMAGE, dim=_output_size(self, staging))
            config = config.model_copy(update={"name": name, "source": config.source or str(source)})
            return self._install(name, staging, config, replace)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def pull(
        self, name: str, hub_url: str, timeout: float = 60.0, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Download a known model from the hub, verify it and install it."""
        if name not in KNOWN:
            raise ModelError(f"no known model '{name}' to pull (known: {', '.join(KNOWN)})")
        known = KNOWN[name]
        self._check_name(name, replace=False)
        staging = self._staging()
        try:
            download(known, hub_url, staging, timeout, progress)
            config = ModelConfig.model_validate(
                {**known.config, "name": name, "source": f"{hub_url.rstrip('/')}/{known.repo}"}
            )
            return self._install(name, staging, config, replace=False)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def remove(self, name: str) -> None:
        folder = self.folder / name
        if not (folder / CONFIG_FILE).is_file():
            raise ModelError(f"model '{name}' is not installed in {self.folder}")
        trash = folder.with_name(f".removing-{name}-{uuid.uuid4().hex[:8]}")
        folder.rename(trash)  # gone at once for readers; the files follow
        shutil.rmtree(trash, ignore_errors=True)

    # ---- installing -----------------------------------------------------------------------

    def _check_name(self, name: str, replace: bool) -> None:
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            raise ModelError(f"'{name}' is not a usable model name (letters, digits, '-', '_', '.')")
        if not replace and (self.folder / name / CONFIG_FILE).exists():
            raise ModelError(f"model '{name}' is installed already; remove it first or pass --replace")

    def _staging(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / f".incoming-{uuid.uuid4().hex[:12]}"
        staging.mkdir()
        return staging

    def _install(self, name: str, staging: Path, config: ModelConfig, replace: bool) -> dict[str, Any]:
        hashes = {
            p.name: _sha256(p) for p in sorted(staging.iterdir()) if p.is_file() and p.name != CONFIG_FILE
        }
        config = config.model_copy(update={"files": hashes})
        (staging / CONFIG_FILE).write_text(
            json.dumps(config.model_dump(mode="json"), indent=2), encoding="utf-8"
        )
        _verify(self, staging)
        target = self.folder / name
        if replace and target.exists():
            self.remove(name)
        staging.rename(target)
        return next(m for m in self.describe() if m["name"] == name)


def _verify(store: ModelStore, folder: Path) -> None:
    """Load the model and run a test input through each tower; raise :class:`ModelError` if it fails."""
    config = read_config(folder)
    missing = [f for f in _needed(config) if not (folder / f).is_file()]
    if missing:
        raise ModelError(f"model folder lacks {', '.join(missing)}")
    image = ImageEncoder(config, folder, store.session)
    image.embed([Image.new("RGB", (config.image.size, config.image.size), (128, 96, 64))])
    if config.text is not None:
        TextEncoder(config, folder, store.session).embed(["a photo"])


def _needed(config: ModelConfig) -> list[str]:
    files = [config.image.file]
    if config.text is not None:
        files += [config.text.file, config.text.tokenizer]
    return files


def _output_size(store: ModelStore, folder: Path) -> int:
    """Embedding size of a bare image model, found by running it once at 224 x 224."""
    session = store.session(folder / "image.onnx")
    probe = np.zeros((1, 3, 224, 224), dtype=np.float32)
    output = session.run({session.inputs[0]: probe})
    if output.ndim != 2:
        raise ModelError(
            f"{folder / 'image.onnx'} gives an output of shape {output.shape}; a bare .onnx file must give "
            "(batch, dim). Make a folder with a lookalike-model.json that says how to pool it (docs/models.md)"
        )
    return int(output.shape[1])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
