"""What a bare ``.onnx`` file is: its input, its outputs, and which of them is what.

``lookalike models add NAME FILE.onnx`` has no config to read, so the file is run once
and described: the input must be an image batch (batch, 3, height, width) or
(batch, height, width, 3) with a free batch size; an output of (batch, dim) is an
embedding, and an output as wide as a labels file is class logits.  A file with
several outputs is not guessed at: the caller says which is which (flags, or answers
to :data:`Ask`), and a choice that does not fit is refused with what the file has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lookalike.errors import ModelError
from lookalike.models.config import ImageTower, ModelConfig, ModelKind
from lookalike.models.labels import read_labels
from lookalike.models.runtime import Session

__all__ = ["Ask", "Choice", "Output", "describe"]


@dataclass(frozen=True)
class Output:
    """One output of a model and its shape for a batch of one."""

    name: str
    shape: tuple[int, ...]

    @property
    def width(self) -> int:
        return int(np.prod(self.shape[1:])) if len(self.shape) > 1 else 0

    def __str__(self) -> str:
        return f"{self.name} {tuple(self.shape)}"


@dataclass(frozen=True)
class Choice:
    """Which output is the embedding, which the class logits, and the labels file.

    None: not said (found where the file leaves no doubt); an empty embedding name: none (the
    model only classifies)."""

    embedding: str | None = None
    logits: str | None = None
    labels: Path | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.embedding, self.logits, self.labels))


#: Asked when a file has several outputs and nothing says which is which: the outputs in, a choice out.
Ask = Callable[[Sequence[Output]], Choice]


def describe(
    name: str, session: Session, file: Path, choice: Choice, ask: Ask | None = None
) -> tuple[ModelConfig, Path | None]:
    """The config of a bare model file and the labels file to install beside it (None: no classes)."""
    tower = _tower(session, file)
    outputs = _probe(session, tower)
    if len(outputs) > 1 and not choice.given:
        if ask is None:
            raise ModelError(
                f"{file} has {len(outputs)} outputs ({', '.join(map(str, outputs))}): say which is which with "
                "--embedding-output NAME and/or --logits-output NAME --labels FILE (a labels file alone picks "
                "the output as wide as it is long)"
            )
        choice = ask(outputs)
    embedding, logits, labels = _chosen(outputs, choice, file)
    if embedding is None and logits is None:
        raise ModelError(
            f"{file}: name an embedding output or class logits (outputs: {', '.join(map(str, outputs))})"
        )
    if embedding is not None and len(embedding.shape) != 2:
        raise ModelError(
            f"{file}: output {embedding} is not (batch, dim); a bare .onnx file must give one vector per image. "
            "Make a folder with a lookalike-model.json that says how to pool it (docs/models.md)"
        )
    if logits is not None:
        tower = tower.model_copy(
            update={"logits": logits.name, "labels": "labels" + (labels.suffix if labels else "")}
        )
    if embedding is not None:
        tower = tower.model_copy(update={"output": embedding.name})
        config = ModelConfig(name=name, kind=ModelKind.IMAGE, dim=embedding.width, image=tower)
    else:
        assert logits is not None
        config = ModelConfig(name=name, kind=ModelKind.CLASSIFIER, dim=logits.width, image=tower)
    return config, labels


def _tower(session: Session, file: Path) -> ImageTower:
    """How to feed the file: its layout and side from the input's declared shape."""
    first = session.inputs[0]
    shape = session.shape(first)
    wrong = (
        f"{file}: input '{first}' has shape {shape}; an image model reads (batch, 3, height, width) or "
        "(batch, height, width, 3) float pixels"
    )
    if len(shape) != 4:
        raise ModelError(wrong)
    if isinstance(shape[0], int):
        raise ModelError(
            f"{wrong}, with a free batch size; this one reads batches of exactly {shape[0]}: "
            "export it with a dynamic batch axis"
        )
    if shape[1] == 3:
        layout, sides = "nchw", shape[2:]
    elif shape[3] == 3:
        layout, sides = "nhwc", shape[1:3]
    else:
        raise ModelError(wrong)
    fixed = [s for s in sides if isinstance(s, int)]
    if fixed and (len(fixed) != 2 or fixed[0] != fixed[1]):
        raise ModelError(f"{wrong}; this one reads {sides[0]} x {sides[1]}: lookalike feeds square images")
    return ImageTower(input=first, size=fixed[0] if fixed else 224, layout=layout)


def _probe(session: Session, tower: ImageTower) -> list[Output]:
    """Every output's shape for one grey image."""
    side = tower.size
    probe = np.zeros((1, 3, side, side) if tower.layout == "nchw" else (1, side, side, 3), dtype=np.float32)
    names = session.outputs
    found = session.run_many({tower.input or session.inputs[0]: probe}, names)
    return [Output(n, tuple(int(d) for d in array.shape)) for n, array in zip(names, found, strict=True)]


def _chosen(
    outputs: Sequence[Output], choice: Choice, file: Path
) -> tuple[Output | None, Output | None, Path | None]:
    by_name = {o.name: o for o in outputs}
    listed = ", ".join(map(str, outputs))
    for asked in (choice.embedding, choice.logits):
        if asked and asked not in by_name:
            raise ModelError(f"{file} has no output '{asked}' (it has {listed})")
    labels = read_labels(choice.labels) if choice.labels is not None else None
    logits = by_name[choice.logits] if choice.logits else None
    if logits is None and labels is not None:
        fits = [
            o for o in outputs if len(o.shape) == 2 and o.width == len(labels) and o.name != choice.embedding
        ]
        if len(fits) != 1:
            raise ModelError(
                f"the labels file {choice.labels} names {len(labels)} classes, and "
                f"{'no' if not fits else 'more than one'} output of {file} has {len(labels)} values ({listed}); "
                "name the logits with --logits-output NAME"
            )
        logits = fits[0]
    if logits is not None and labels is None:
        raise ModelError(f"class logits ({logits}) need their names: pass --labels FILE (one class a line)")
    if logits is not None and labels is not None and logits.width != len(labels):
        raise ModelError(
            f"the labels file {choice.labels} names {len(labels)} classes, but output {logits} gives "
            f"{logits.width} logits: each logit needs one label, in order"
        )
    if choice.embedding == "":
        embedding: Output | None = None
    elif choice.embedding is not None:
        embedding = by_name[choice.embedding]
    elif len(outputs) == 1 and logits is None:
        embedding = outputs[0]
    else:  # the other output of a two-output file, when the logits are known
        rest = [o for o in outputs if logits is None or o.name != logits.name]
        embedding = (
            rest[0] if len(rest) == 1 and len(rest[0].shape) == 2 and choice.embedding is None else None
        )
    if embedding is not None and logits is not None and embedding.name == logits.name:
        raise ModelError(f"{file}: output '{embedding.name}' cannot be both the embedding and the logits")
    return embedding, logits, choice.labels
