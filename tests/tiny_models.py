"""Tiny real ONNX models, built with the onnx helper API, for tests and benchmarks.

- :func:`conv_model`: a few seeded convolutions and a global average pool (an
  image embedding that is random but fixed: copies agree, different images differ);
- :func:`exposure_model`: a detector of NudeNet's shape that scores :func:`reddened`
  pictures exposed and :func:`bluish` ones not;
- :func:`clip_folder`: a CLIP-like pair whose image tower embeds an image's mean
  colour and whose text tower embeds colour words at the same place, with a real
  WordLevel tokenizer file, so "red" finds red images through the real code paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from conftest import photo

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
COLOURS = {
    "red": (255, 0, 0),
    "green": (0, 170, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 230, 0),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def conv_model(path: Path, dim: int = 16, seed: int = 0, input_name: str = "pixel_values") -> Path:
    """(N, 3, S, S) -> (N, dim): conv 3x3/2 + relu, conv 3x3/2 + relu, global average pool."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.normal(0, 0.5, (12, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (dim, 12, 3, 3)).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(rng.normal(0, 0.1, (dim,)).astype(np.float32), "b2")
    nodes = [
        helper.make_node("Conv", [input_name, "w1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-conv",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", dim])],
        [w1, w2, b2],
    )
    return _save(graph, path)


def flatten_model(path: Path) -> Path:
    """(N, 3, S, S) -> (N, 3*S*S): the model input itself, to check preprocessing numerically."""
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["pixels"], ["out"])],
        "flatten",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", "d"])],
    )
    return _save(graph, path)


def _projection(dim: int) -> np.ndarray:
    """(3, dim) with orthonormal rows: cosines of colours are kept exactly."""
    q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(dim, 3)))
    return q.T.astype(np.float32)


def standardised(rgb: tuple[int, int, int]) -> np.ndarray:
    return (np.asarray(rgb) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


def clip_folder(folder: Path, dim: int = 8, name: str = "tiny-clip") -> Path:
    """A CLIP-like model folder: image.onnx, text.onnx, tokenizer.json, lookalike-model.json."""
    folder.mkdir(parents=True, exist_ok=True)
    projection = _projection(dim)
    # image tower: mean standardised colour, projected
    image_graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["pixel_values"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["colour"]),
            helper.make_node("MatMul", ["colour", "projection"], ["image_embeds"]),
        ],
        "tiny-clip-image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["n", dim])],
        [numpy_helper.from_array(projection, "projection")],
    )
    _save(image_graph, folder / "image.onnx")
    # text tower: an embedding table (colour words where their colour's image lands), mean pooled
    vocab = {"[PAD]": 0, "[UNK]": 1, **{word: i + 2 for i, word in enumerate(COLOURS)}}
    table = np.zeros((len(vocab), dim), dtype=np.float32)
    for word, rgb in COLOURS.items():
        table[vocab[word]] = standardised(rgb) @ projection
    text_graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["tokens"]),
            helper.make_node("ReduceMean", ["tokens"], ["text_embeds"], axes=[1], keepdims=0),
        ],
        "tiny-clip-text",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n", "t"])],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["n", dim])],
        [numpy_helper.from_array(table, "table")],
    )
    _save(text_graph, folder / "text.onnx")
    write_tokenizer(folder / "tokenizer.json", vocab)
    config = {
        "name": name,
        "kind": "clip",
        "dim": dim,
        "image": {"input": "pixel_values", "output": "image_embeds", "size": 32},
        "text": {"input": "input_ids", "output": "text_embeds", "context_length": 16, "pad_id": 0},
        "text_calibration": [0.3, 0.1],
    }
    (folder / "lookalike-model.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def write_tokenizer(path: Path, vocab: dict[str, int]) -> Path:
    """A real Hugging Face tokenizer file: lower-cased words split on whitespace and punctuation."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return path


def image_folder(folder: Path, dim: int = 16, size: int = 32, seed: int = 0, name: str = "tiny-cnn") -> Path:
    """An image-model folder around :func:`conv_model`."""
    conv_model(folder / "image.onnx", dim, seed)
    config = {
        "name": name,
        "kind": "image",
        "dim": dim,
        "image": {"size": size},
        "image_calibration": [0.05, 0.02],
    }
    (folder / "lookalike-model.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def colour_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "colours"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for word, rgb in COLOURS.items():
        for n in range(2):
            noise = rng.integers(-12, 13, (40, 40, 3))
            pixels = np.clip(np.asarray(rgb) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{word}{n}.png")
    return folder


def exposure_model(path: Path) -> Path:
    """A detector of NudeNet's shape (input ``images`` [N, 3, 320, 320], output [N, 22, 1]: four
    box values, then one score per class) whose one score, for FEMALE_BREAST_EXPOSED (class 3),
    is how much redder than blue the picture is on average; every other class scores 0.  So a red
    image is flagged and a blue one is not, through the real safety code path."""
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("Slice", ["means", "r0", "r1", "axis1"], ["red"]),
        helper.make_node("Slice", ["means", "b0", "b1", "axis1"], ["blue"]),
        helper.make_node("Sub", ["red", "blue"], ["excess"]),
        helper.make_node("Relu", ["excess"], ["score"]),
        *(helper.make_node("Mul", ["score", f"zeros{n}"], [f"pad{n}"]) for n in (4, 3, 14)),
        helper.make_node("Concat", ["pad4", "pad3", "score", "pad14"], ["rows"], axis=1),
        helper.make_node("Unsqueeze", ["rows", "axis2"], ["output0"]),
    ]
    constants = [
        numpy_helper.from_array(np.array([value], dtype=np.int64), name)
        for name, value in (("r0", 0), ("r1", 1), ("b0", 2), ("b1", 3), ("axis1", 1), ("axis2", 2))
    ] + [numpy_helper.from_array(np.zeros((1, n), dtype=np.float32), f"zeros{n}") for n in (4, 3, 14)]
    graph = helper.make_graph(
        nodes,
        "tiny-exposure",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 320, 320])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", 22, 1])],
        constants,
    )
    return _save(graph, path)


def reddened(seed: int) -> Image.Image:
    """A photo-like picture, red over blue: the test detector scores it exposed (about 0.6)."""
    pixels = np.asarray(photo(seed)).astype(np.int16)
    pixels[..., 0] = 170 + pixels[..., 0] // 3
    pixels[..., 2] //= 8
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def bluish(seed: int) -> Image.Image:
    """A photo-like picture with little red: the test detector scores it 0."""
    pixels = np.asarray(photo(seed)).copy()
    pixels[..., 0] //= 4
    return Image.fromarray(pixels)
