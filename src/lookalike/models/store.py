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

from PIL import Image

from lookalike.errors import ModelError
from lookalike.models.config import CONFIG_FILE, ModelConfig, ModelKind, read_config
from lookalike.models.encoders import ImageEncoder, TextEncoder
from lookalike.models.hub import KNOWN, Progress, download
from lookalike.models.inspect import Ask, Choice, describe
from lookalike.models.labels import Label, read_labels
from lookalike.models.runtime import OnnxSession, Session

__all__ = ["LoadedModel", "ModelStore"]


@dataclass
class LoadedModel:
    """A model ready to embed: its config, encoders (sessions start on first use) and, for a
    model with class logits, the class names in logit order."""

    config: ModelConfig
    folder: Path
    image: ImageEncoder
    text: TextEncoder | None
    labels: list[Label] | None = None


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
                    "classes": len(read_labels(folder / config.image.labels)) if config.image.labels else 0,
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
        labels = read_labels(folder / config.image.labels) if config.image.labels else None
        return LoadedModel(config, folder, ImageEncoder(config, folder, self.session), text, labels)

    def add(
        self,
        name: str,
        source: Path,
        replace: bool = False,
        choice: Choice | None = None,
        ask: Ask | None = None,
    ) -> dict[str, Any]:
        """Install a model folder (with its config), or an ``.onnx`` file as an image model.

        A bare file's outputs are found by running it (:func:`~.inspect.describe`): ``choice``
        says which is the embedding and which the class logits (with a labels file); ``ask``
        is called when the file has several outputs and ``choice`` says nothing.
        """
        self._check_name(name, replace)
        if not source.exists():
            raise ModelError(f"no such file or folder: {source}")
        staging = self._staging()
        try:
            if source.is_dir():
                if choice is not None and choice.given:
                    raise ModelError(
                        f"{source} is a model folder: its {CONFIG_FILE} says which output is what "
                        "(image.output, image.logits, image.labels); the output flags are for a bare .onnx file"
                    )
                config = read_config(source)
                for path in source.iterdir():
                    if path.is_file():
                        shutil.copy2(path, staging / path.name)
            else:
                shutil.copy2(source, staging / "image.onnx")
                config, labels = describe(
                    name, self.session(staging / "image.onnx"), source, choice or Choice(), ask
                )
                if labels is not None and config.image.labels:
                    shutil.copy2(labels, staging / config.image.labels)
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
    probe = [Image.new("RGB", (config.image.size, config.image.size), (128, 96, 64))] * 2  # a batch of two
    found = image.outputs(probe)
    if config.image.labels is not None and found.probabilities is not None:
        labels = read_labels(folder / config.image.labels)
        if found.probabilities.shape[1] != len(labels):
            raise ModelError(
                f"the labels file {config.image.labels} names {len(labels)} classes, but output "
                f"'{config.image.logits}' gives {found.probabilities.shape[1]} logits: each logit needs one label"
            )
        if config.kind is ModelKind.CLASSIFIER and config.dim != len(labels):
            raise ModelError(f"a classifier's dim is its number of classes ({len(labels)}), not {config.dim}")
    if config.text is not None:
        TextEncoder(config, folder, store.session).embed(["a photo"])


def _needed(config: ModelConfig) -> list[str]:
    files = [config.image.file, *([config.image.labels] if config.image.labels else [])]
    if config.text is not None:
        files += [config.text.file, config.text.tokenizer]
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
