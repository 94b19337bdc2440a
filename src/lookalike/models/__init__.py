"""Neural models through ONNX Runtime: what a model does (:mod:`.encoders`), how it runs
(:mod:`.runtime`), what it is (:mod:`.config`), where it lives (:mod:`.store`), where it
comes from (:mod:`.hub`).  Importing this package does not import ONNX Runtime."""

from lookalike.models.config import ModelConfig, ModelKind, read_config
from lookalike.models.store import LoadedModel, ModelStore

__all__ = ["LoadedModel", "ModelConfig", "ModelKind", "ModelStore", "read_config"]
