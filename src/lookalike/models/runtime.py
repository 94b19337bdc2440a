"""How a model runs: an ONNX Runtime session, its providers and threads.

What a model does (preprocess, pool, normalise) lives in :mod:`.encoders`; this
module only turns named input arrays into output arrays.  ONNX Runtime is
imported when the first session is made, never at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lookalike.errors import ModelError

__all__ = ["OnnxSession", "Session", "available_providers", "choose_providers"]

# Preference of 'auto': a GPU where present, then the CPU.
AUTO = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "ROCMExecutionProvider", "CPUExecutionProvider")


_TYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
}


class Session(Protocol):
    """What an encoder needs of a runtime: input names, and outputs for named inputs."""

    @property
    def inputs(self) -> list[str]: ...
    @property
    def outputs(self) -> list[str]: ...
    def run(self, feeds: Mapping[str, np.ndarray], output: str | None = None) -> np.ndarray: ...


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
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
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

    @property
    def inputs(self) -> list[str]:
        return [i.name for i in self._session.get_inputs()]

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
        name = output or self.outputs[0]
        if name not in self.outputs:
            raise ModelError(f"{self.path} has no output '{name}' (it has {', '.join(self.outputs)})")
        try:
            (result,) = self._session.run([name], self._typed(feeds))
        except Exception as exc:
            raise ModelError(f"{self.path} failed to run: {exc}") from None
        return np.asarray(result)
