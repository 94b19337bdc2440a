"""How a model runs: an ONNX Runtime session, its providers and threads.

What a model does (preprocess, pool, normalise) lives in :mod:`.encoders`; this
module only turns named input arrays into output arrays.  ONNX Runtime is
imported when the first session is made, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lookalike.errors import ModelError

__all__ = ["OnnxSession", "Session", "available_providers", "choose_providers", "machine_threads"]

# Preference of 'auto': a GPU where present, then the CPU.
AUTO = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "ROCMExecutionProvider", "CPUExecutionProvider")


_TYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
}


class Session(Protocol):
    """What an encoder needs of a runtime: input names, and outputs for named inputs.

    ``run_many`` computes several outputs in one inference pass (an embedding and class
    logits of one model); ``run`` is the one-output convenience.
    """

    @property
    def inputs(self) -> list[str]: ...
    @property
    def outputs(self) -> list[str]: ...
    def run(self, feeds: Mapping[str, np.ndarray], output: str | None = None) -> np.ndarray: ...
    def run_many(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]: ...
    def shape(self, name: str) -> list[int | str | None]: ...


def available_providers() -> list[str]:
    """Execution providers this ONNX Runtime build offers (empty when it is not installed)."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def choose_providers(wanted: Sequence[str], available: Sequence[str]) -> list[str]:
    """The providers to ask for: ``wanted`` in order ('auto' expands), those that exist, CPU last."""
    chosen: list[str] = []
    for name in wanted:
        for candidate in AUTO if name == "auto" else (name,):
            if candidate in available and candidate not in chosen:
                chosen.append(candidate)
    unknown = [n for n in wanted if n != "auto" and n not in available]
    if unknown and not chosen:
        raise ModelError(
            f"execution provider(s) {', '.join(unknown)} not available; this ONNX Runtime has "
            f"{', '.join(available) or 'none'} (setting models.providers)"
        )
    if "CPUExecutionProvider" in available and "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


class OnnxSession:
    """An ONNX Runtime inference session over one model file."""

    def __init__(self, path: Path, providers: Sequence[str] = ("auto",), threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError(
                "models need ONNX Runtime: pip install 'lookalike[models]' (or onnxruntime-gpu for CUDA)"
            ) from None
        if not path.is_file():
            raise ModelError(f"model file {path} is missing")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or machine_threads()
        options.inter_op_num_threads = 1  # one graph at a time: the pool runs images in parallel
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        try:
            self._session: Any = ort.InferenceSession(
                str(path), options, providers=choose_providers(providers, ort.get_available_providers())
            )
        except ModelError:
            raise
        except Exception as exc:  # a broken or foreign file: say which
            raise ModelError(f"cannot load {path} with ONNX Runtime: {exc}") from None
        self.path = path
        self.runs = 0  # inference passes made: one per batch, whatever the number of outputs read

    @property
    def inputs(self) -> list[str]:
        return [i.name for i in self._session.get_inputs()]

    def shape(self, name: str) -> list[int | str | None]:
        """The declared shape of an input or output: ints for fixed sizes, names or None for free ones."""
        for port in [*self._session.get_inputs(), *self._session.get_outputs()]:
            if port.name == name:
                return list(port.shape)
        raise ModelError(f"{self.path} has no input or output '{name}'")

    @property
    def outputs(self) -> list[str]:
        return [o.name for o in self._session.get_outputs()]

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def _typed(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Inputs cast to the element types the model declares (int32 or int64 token ids, say)."""
        declared = {i.name: i.type for i in self._session.get_inputs()}
        typed = {}
        for name, array in feeds.items():
            dtype = _TYPES.get(declared.get(name, ""))
            typed[name] = array.astype(dtype) if dtype is not None and array.dtype != dtype else array
        return typed

    def run(self, feeds: Mapping[str, np.ndarray], output: str | None = None) -> np.ndarray:
        return self.run_many(feeds, [output or self.outputs[0]])[0]

    def run_many(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        missing = [name for name in outputs if name not in self.outputs]
        if missing:
            raise ModelError(f"{self.path} has no output '{missing[0]}' (it has {', '.join(self.outputs)})")
        try:
            results = self._session.run(list(outputs), self._typed(feeds))
        except Exception as exc:
            raise ModelError(f"{self.path} failed to run: {exc}") from None
        self.runs += 1
        return [np.asarray(r) for r in results]


def machine_threads() -> int:
    """Threads for one session when ``models.threads`` is 0: the cores this process may use.

    ONNX Runtime's own default counts every core of the machine, which oversubscribes
    a container or a process pinned to fewer (``os.sched_getaffinity``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)
