"""Classifier models and the ``tags`` signal, with a tiny two-output model the tests build
(tiny_models.classifier_model: an embedding and class logits of the mean colour)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

import lookalike
from lookalike import ConfigError, ModelError
from lookalike.api import create_app
from lookalike.app import make_signals
from lookalike.cli import render
from lookalike.cli.main import app
from lookalike.ingest.extract import extract_many
from lookalike.models import ModelStore
from lookalike.models.config import ModelConfig
from lookalike.models.inspect import Choice, Output
from lookalike.models.labels import names, read_labels
from lookalike.settings import load_settings

from asgi_client import serving
from conftest import encode
from tiny_models import (
    COLOURS,
    classifier_model,
    colour_folder,
    conv_model,
    fixed_batch_model,
    write_labels,
)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """The two-output model file and its labels file."""
    return classifier_model(tmp_path / "src" / "colours.onnx"), write_labels(tmp_path / "src" / "labels.txt")


@pytest.fixture
def store(tmp_path: Path, files: tuple[Path, Path]) -> ModelStore:
    store = ModelStore(tmp_path / "models")
    store.add("colours", files[0], choice=Choice(labels=files[1]))
    return store


def open_with(
    tmp_path: Path, store: ModelStore, signals: Sequence[str], **models: object
) -> lookalike.Collection:
    return lookalike.open(
        tmp_path / "data",
        ingest={"workers": 1, "signals": ["phash", *signals]},
        models={"folder": store.folder, "embedding": "colours", **models},
    )


def named(results: Sequence[dict[str, object]]) -> set[str]:
    return {Path(str(r["occurrences"][0]["uri"])).name for r in results}  # type: ignore[index]


# ---- labels ----------------------------------------------------------------------------------


def test_labels_read_as_people_write_them(tmp_path: Path) -> None:
    assert names("n02099601 golden retriever") == ("golden retriever",)
    assert names("n02123159\ttiger cat") == ("tiger cat",)
    label = names("tabby, tabby cat")
    assert label.tag == "tabby" and label.synonyms == ("tabby cat",)
    assert names("golden_retriever").tag == "golden retriever"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"id2label": {"1": "tench, Tinca tinca", "0": "goldfish"}}))
    assert [lab.tag for lab in read_labels(config)] == ["goldfish", "tench"]
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ModelError, match="empty"):
        read_labels(tmp_path / "empty.txt")
    (tmp_path / "bad.json").write_text('{"labels": []}')
    with pytest.raises(ModelError, match="id2label"):
        read_labels(tmp_path / "bad.json")


# ---- installing a two-output file -------------------------------------------------------------


def test_a_labels_file_alone_picks_the_logits_and_the_other_output_is_the_embedding(
    store: ModelStore,
) -> None:
    [listed] = store.describe()
    assert (listed["kind"], listed["dim"], listed["classes"]) == ("image", 8, len(COLOURS))
    config = json.loads((store.folder / "colours" / "lookalike-model.json").read_text())
    assert config["image"]["output"] == "features" and config["image"]["logits"] == "logits"
    assert (store.folder / "colours" / config["image"]["labels"]).is_file()
    assert set(config["files"]) == {"image.onnx", "labels.txt"}  # both hashed at install


def test_flags_name_the_outputs_and_logits_alone_make_a_classifier(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    store = ModelStore(tmp_path / "models")
    both = store.add("both", files[0], choice=Choice("features", "logits", files[1]))
    assert both["kind"] == "image" and both["classes"] == 6
    only = store.add("only", files[0], choice=Choice("", "logits", files[1]))  # no embedding
    assert (only["kind"], only["dim"]) == ("classifier", 6)
    other = store.add("other", files[0], choice=Choice(None, "logits", files[1]))  # the other output embeds
    assert (other["kind"], other["dim"]) == ("image", 8)
    embedding = store.add("embedding", files[0], choice=Choice("features", None, None))
    assert embedding["classes"] == 0 and embedding["dim"] == 8


def test_several_outputs_are_asked_about(tmp_path: Path, files: tuple[Path, Path]) -> None:
    store = ModelStore(tmp_path / "models")
    asked: list[list[str]] = []

    def ask(outputs: Sequence[Output]) -> Choice:
        asked.append([str(o) for o in outputs])
        return Choice("features", "logits", files[1])

    installed = store.add("asked", files[0], ask=ask)
    assert asked == [["features (1, 8)", "logits (1, 6)"]]
    assert installed["classes"] == 6


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        (Choice(), r"2 outputs \(features \(1, 8\), logits \(1, 6\)\).*--embedding-output"),
        (Choice(logits="nope"), "has no output 'nope' .*features"),
        (Choice(embedding="features", logits="logits"), "need their names: pass --labels"),
        (Choice(logits="features", embedding="logits", labels=None), "need their names"),
    ],
)
def test_a_file_that_does_not_fit_the_choice_is_refused(
    tmp_path: Path, files: tuple[Path, Path], choice: Choice, message: str
) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError, match=message):
        store.add("bad", files[0], choice=choice)
    assert store.names() == [] and not any(p.name.startswith(".incoming") for p in store.folder.iterdir())


def test_a_labels_file_of_the_wrong_length_is_refused(tmp_path: Path, files: tuple[Path, Path]) -> None:
    store = ModelStore(tmp_path / "models")
    short = write_labels(tmp_path / "five.txt", 5)
    with pytest.raises(ModelError, match=r"names 5 classes, and no output of .* has 5 values"):
        store.add("bad", files[0], choice=Choice(labels=short))
    with pytest.raises(ModelError, match=r"names 5 classes, but output logits \(1, 6\) gives 6 logits"):
        store.add("bad", files[0], choice=Choice(logits="logits", labels=short))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "image.onnx").write_bytes(files[0].read_bytes())
    (folder / "labels.txt").write_bytes(short.read_bytes())
    config = {
        "name": "f",
        "kind": "image",
        "dim": 8,
        "image": {"output": "features", "logits": "logits", "labels": "labels.txt"},
    }
    (folder / "lookalike-model.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="names 5 classes, but output 'logits' gives 6 logits"):
        store.add("bad", folder)
    assert store.names() == []


def test_a_wrong_input_shape_is_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError, match=r"input 'x' has shape \[1, 3, 32, 32\].*batches of exactly 1"):
        store.add("fixed", fixed_batch_model(tmp_path / "fixed.onnx"))
    from tiny_models import flatten_model

    flat = flatten_model(
        tmp_path / "flat.onnx"
    )  # reads (n, 3, h, w) but gives (n, 3*h*w): no refusal of input
    assert store.add("flat", flat)["kind"] == "image"
    with pytest.raises(ModelError, match="a model folder"):
        store.add("folder", store.folder / "flat", choice=Choice(logits="out"))


def test_an_embedding_model_is_no_tagger_and_a_classifier_no_embedding(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    store = ModelStore(tmp_path / "models")
    store.add("cnn", conv_model(tmp_path / "cnn.onnx"))
    store.add("only", files[0], choice=Choice("", "logits", files[1]))
    with pytest.raises(ConfigError, match=r"models\.embedding \(models\.tagger is not set\) is 'cnn'"):
        lookalike.open(
            tmp_path / "d", ingest={"signals": ["tags"]}, models={"folder": store.folder, "embedding": "cnn"}
        )
    with pytest.raises(ConfigError, match="'only', a classifier without an embedding"):
        lookalike.open(
            tmp_path / "d",
            ingest={"signals": ["embedding"]},
            models={"folder": store.folder, "embedding": "only"},
        )
    with pytest.raises(ConfigError, match=r"models\.tagger"):
        lookalike.open(tmp_path / "d", ingest={"signals": ["tags"]}, models={"folder": store.folder})


def test_an_older_config_keeps_its_identity() -> None:
    """Fields added for classifiers do not change the version of models installed before them."""
    before = ModelConfig(name="m", kind="image", dim=8)
    body = before.model_dump(mode="json")
    for later in ("logits", "labels", "crop_fraction"):
        del body["image"][later]
    assert ModelConfig.model_validate(body).digest() == before.digest()
    cropped = before.model_copy(update={"image": before.image.model_copy(update={"crop_fraction": 0.875})})
    assert cropped.digest() != before.digest()


# ---- tags -------------------------------------------------------------------------------------


def test_embedding_and_tags_of_one_file_share_one_inference_pass(tmp_path: Path, store: ModelStore) -> None:
    settings = load_settings(
        home=tmp_path / "data",
        models={"folder": store.folder, "embedding": "colours"},
        ingest={"signals": ["phash"]},
    )
    signals = make_signals(settings, ["embedding", "tags"])
    model = signals["embedding"].model  # type: ignore[attr-defined]
    assert signals["tags"].model is model  # type: ignore[attr-defined]
    items = []
    for word, rgb in COLOURS.items():
        data = encode(Image.new("RGB", (40, 30), rgb))
        items.append((word, data, f"{word}.png"))
    found = extract_many(items, settings, signals, tiles=False, thumbnails=False)
    assert model.image.session.runs == 1  # six images, two signals, one batch: one run
    many = [
        (f"{w}{n}", encode(Image.new("RGB", (30 + n, 30), COLOURS[w])), f"{w}{n}.png")
        for n in range(4)
        for w in COLOURS
    ]
    extract_many(many, settings, signals, tiles=False, thumbnails=False)
    assert model.image.session.runs == 1 + 2  # 24 images in batches of 16: two runs for both signals
    for (word, _, _), extracted in zip(items, found, strict=True):
        tags = [f.text for f in extracted.texts["tags"] if f.field == "tag"]
        assert tags[0] == word
    assert found[0].texts["tags"][1].field == "synonym" and found[0].texts["tags"][1].text == "crimson"
    alone = make_signals(settings, ["tags"])  # without the embedding: a pass of its own
    extract_many(items[:2], settings, alone, tiles=False, thumbnails=False)
    assert alone["tags"].model.image.session.runs == 1  # type: ignore[attr-defined]


def test_threshold_and_most_decide_what_is_kept_and_the_version(tmp_path: Path, store: ModelStore) -> None:
    def tags(**models: object) -> tuple[int, list[list[str]]]:
        settings = load_settings(
            home=tmp_path / "d", models={"folder": store.folder, "embedding": "colours", **models}
        )
        signal = make_signals(settings, ["tags"])["tags"]
        half = np.clip(np.asarray(COLOURS["red"]) / 2 + np.asarray(COLOURS["yellow"]) / 2, 0, 255)
        item = [("x", encode(Image.new("RGB", (32, 32), tuple(int(v) for v in half))), "x.png")]
        fields = extract_many(item, settings, {"tags": signal}, tiles=False, thumbnails=False)[0].texts[
            "tags"
        ]
        return signal.spec.version, [f.text for f in fields if f.field == "tag"]

    version, loose = tags(tagger_threshold=0.0, tagger_max=3)
    assert len(loose) == 3
    strict_version, strict = tags(tagger_threshold=0.99, tagger_max=3)
    assert strict == [] and strict_version != version
    assert tags(tagger_threshold=0.0, tagger_max=0)[1] == []


def test_tags_are_searched_shown_and_faceted(tmp_path: Path, store: ModelStore, where: str) -> None:
    """On each catalog backend (SQLite, PostgreSQL): the tags are words the keyword search finds."""
    folder = colour_folder(tmp_path)
    with open_with(tmp_path, store, ["embedding", "tags"], catalog=where) as images:
        images.index([folder])
        found = images.search(text="crimson", k=4)  # a synonym of the tag "red"
        assert {Path(r.location).name for r in found[:2]} == {"red0.png", "red1.png"}
        assert found[0].auto_tags[0] == "red"
        assert any(w.field == "tags" for w in found[0].words) and found[0].snippets == ()  # a tag, no line
        browsed = images.browse(filters={"tag": ["blue"]}, facets=True)
        assert {Path(r.location).name for r in browsed.results} == {"blue0.png", "blue1.png"}
        with serving(create_app(images)) as client:
            body = client.get("/api/search", params={"q": "green", "facets": "true"}).json()
            assert named(body["results"][:2]) == {"green0.png", "green1.png"}
            assert body["results"][0]["auto_tags"][0] == "green"
            assert {"value": "green", "count": 2} in body["facets"]["tag"]
            page = client.get("/", params={"q": "green"}).text
            assert '<li class="auto" title="tag read from the picture by a model">green</li>' in page


def test_cli_adds_a_classifier_and_searches_its_tags(
    tmp_path: Path, files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOKALIKE_MODELS__FOLDER", str(tmp_path / "models"))
    monkeypatch.setenv("LOOKALIKE_INGEST__WORKERS", "1")
    runner = CliRunner()
    refused = runner.invoke(app, ["models", "add", "c", str(files[0])])
    assert refused.exit_code == 2 and "--embedding-output" in refused.output
    short = runner.invoke(
        app, ["models", "add", "c", str(files[0]), "--labels", str(write_labels(tmp_path / "l5.txt", 5))]
    )
    assert short.exit_code == 2 and "names 5 classes" in short.output
    added = runner.invoke(
        app,
        ["models", "add", "c", str(files[0]), "--embedding-output", "features", "--logits-output", "logits",
         "--labels", str(files[1])],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "8 dimensions and 6 classes" in added.output and "LOOKALIKE_MODELS__TAGGER=c" in added.output
    monkeypatch.setenv("LOOKALIKE_MODELS__EMBEDDING", "c")
    monkeypatch.setenv("LOOKALIKE_INGEST__SIGNALS", '["phash","colour","embedding","tags"]')
    data = str(tmp_path / "cli-data")
    indexed = runner.invoke(app, ["index", str(colour_folder(tmp_path)), "--data", data])
    assert indexed.exit_code == 0, indexed.output
    found = runner.invoke(app, ["search", "--text", "azure", "-k", "2", "--data", data, "--json"])
    assert found.exit_code == 0, found.output
    results = json.loads(found.stdout)
    assert named(results) == {"blue0.png", "blue1.png"} and results[0]["auto_tags"][0] == "blue"
    out = io.StringIO()  # the table a terminal gets (CliRunner's output is piped)
    monkeypatch.setattr(
        render, "console", Console(file=out, force_terminal=True, width=200, color_system=None)
    )
    assert runner.invoke(app, ["search", "--text", "azure", "-k", "1", "--data", data]).exit_code == 0
    assert "tags: blue" in out.getvalue()
