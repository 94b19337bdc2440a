"""The class names of a classifier, as people read them.

A labels file has one class a line, line *i* naming logit *i*.  A line may start with
a WordNet id (``n02099601 golden retriever``, or with a tab) and may list synonyms
after commas (``tabby, tabby cat``).  A Hugging Face ``config.json`` with ``id2label``
is read too.  :func:`names` turns a line into its readable names: the first is the
tag, the others are kept as synonyms so that keyword search finds them as well.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lookalike.errors import ModelError

__all__ = ["Label", "names", "read_labels"]

_WORDNET_ID = re.compile(r"^n\d{8}[\s:]+")


class Label(tuple[str, ...]):
    """A class's readable names, the tag first (a tuple of at least one name)."""

    @property
    def tag(self) -> str:
        return self[0]

    @property
    def synonyms(self) -> tuple[str, ...]:
        return tuple(self[1:])


def names(line: str) -> Label:
    """'n02099601 golden retriever' -> ('golden retriever',); 'tabby, tabby cat' -> ('tabby', 'tabby cat').

    Underscores become spaces (WordNet lemmas are written 'golden_retriever')."""
    text = _WORDNET_ID.sub("", line.strip()).replace("_", " ")
    parts = [" ".join(p.split()) for p in text.split(",")]
    found = tuple(dict.fromkeys(p for p in parts if p))
    return Label(found or (line.strip(),))


def read_labels(path: Path) -> list[Label]:
    """The classes a labels file names, in logit order; :class:`ModelError` when it cannot be read."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"labels file {path} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read labels file {path}: {exc}") from None
    if path.suffix == ".json":
        return _from_json(raw, path)
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        raise ModelError(f"labels file {path} is empty: it needs one class name a line")
    return [names(line) for line in lines]


def _from_json(raw: str, path: Path) -> list[Label]:
    try:
        table = json.loads(raw)["id2label"]
        count = len(table)
        return [names(str(table[str(i)])) for i in range(count)]
    except (ValueError, KeyError, TypeError):
        raise ModelError(
            f"{path} is not a labels file: a .json one must hold 'id2label' with ids 0..n-1 "
            "(a Hugging Face config.json); otherwise write one class name a line"
        ) from None
