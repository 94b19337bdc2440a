"""Models through ONNX Runtime, tested with tiny real models that the tests build (tiny_models.py)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import lookalike
from lookalike import ConfigError, ModelError
from lookalike.cli.main import app
from lookalike.models import ModelStore
from lookalike.models.config import ImageTower
from lookalike.models.encoders import preprocess
from lookalike.models.hub import KnownModel
from lookalike.models.runtime import OnnxSession, choose_providers
from lookalike.signals.whitening import Whitening

from conftest import encode, photo
from tiny_models import COLOURS, clip_folder, colour_folder, flatten_model, image_folder, standardised


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    store = ModelStore(tmp_path / "models")
    store.add("tiny-cnn", image_folder(tmp_path / "src-cnn"))
    store.add("tiny-clip", clip_folder(tmp_path / "src-clip"))
    return store


def open_with(
    tmp_path: Path, store: ModelStore, signals: list[str], **models: object
) -> lookalike.Collection:
    return lookalike.open(
        tmp_path / "data",
        ingest={"workers": 1, "signals": ["phash", *signals]},
        models={"folder": store.folder, "embedding": "tiny-cnn", "clip": "tiny-clip", **models},
    )


# ---- preprocessing and running --------------------------------------------------------------


def test_preprocess_matches_mean_std_on_known_pixels() -> None:
    tower = ImageTower(size=4, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0))
    batch = preprocess([Image.new("RGB", (10, 10), (255, 0, 51))], tower)
    assert batch.shape == (1, 3, 4, 4) and batch.dtype == np.float32
    assert np.allclose(batch[0, :, 0, 0], [(1.0 - 0.5) / 0.5, (0.0 - 0.25) / 0.25, 0.2 / 2.0])


def test_preprocess_crops_the_centre_of_the_short_side_and_keeps_pixel_art_sharp() -> None:
    image = np.zeros((2, 6, 3), dtype=np.uint8)  # 6 wide, 2 high: red | green,blue | white
    image[:, 0:2] = (255, 0, 0)
    image[:, 2] = (0, 255, 0)
    image[:, 3] = (0, 0, 255)
    image[:, 4:] = (255, 255, 255)
    tower = ImageTower(size=4, mean=(0, 0, 0), std=(1, 1, 1), layout="nhwc")
    pixels = preprocess([Image.fromarray(image)], tower)[0]  # centre 2x2 (green, blue) enlarged 2x
    assert np.array_equal(pixels[:, :2], np.broadcast_to([0.0, 1.0, 0.0], (4, 2, 3)))
    assert np.array_equal(pixels[:, 2:], np.broadcast_to([0.0, 0.0, 1.0], (4, 2, 3)))
    squash = preprocess([Image.fromarray(image)], tower.model_copy(update={"resize": "squash"}))[0]
    assert np.allclose(squash[0, 0], [1.0, 0.0, 0.0])  # the red edge is still there


def test_flatten_model_sees_exactly_the_preprocessed_pixels(tmp_path: Path) -> None:
    session = OnnxSession(flatten_model(tmp_path / "flat.onnx"))
    tower = ImageTower(size=8)
    batch = preprocess([photo(1, (20, 12))], tower)
    assert np.allclose(session.run({"pixels": batch}), batch.reshape(1, -1))
    assert session.providers == ["CPUExecutionProvider"]


def test_providers_auto_prefers_a_gpu_and_ends_with_cpu() -> None:
    cpu, cuda = "CPUExecutionProvider", "CUDAExecutionProvider"
    assert choose_providers(["auto"], [cpu]) == [cpu]
    assert choose_providers(["auto"], [cuda, cpu]) == [cuda, cpu]
    assert choose_providers([cpu], [cuda, cpu]) == [cpu]
    with pytest.raises(ModelError, match="NoSuchExecutionProvider"):
        choose_providers(["NoSuchExecutionProvider"], [cpu])


def test_embeddings_are_unit_vectors_and_batches_agree(store: ModelStore) -> None:
    model = store.load("tiny-cnn")
    images = [photo(seed, (48, 40)) for seed in range(5)]
    together = model.image.embed(images)
    assert together.shape == (5, 16)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([model.image.embed([image]) for image in images])
    assert np.allclose(together, one_by_one, atol=1e-5)
    assert not np.allclose(together[0], together[1], atol=1e-3)


def test_text_tower_tokenizes_and_lands_near_its_colour(store: ModelStore) -> None:
    model = store.load("tiny-clip")
    assert model.text is not None
    ids, mask = model.text.tokens(["A RED thing"])
    assert ids.shape == (1, 16) and mask[0].tolist()[:4] == [1, 1, 1, 0]
    words = model.text.embed(list(COLOURS))
    pictures = model.image.embed([Image.new("RGB", (9, 9), rgb) for rgb in COLOURS.values()])
    assert (np.argmax(pictures @ words.T, axis=1) == np.arange(len(COLOURS))).all()


# ---- installing ------------------------------------------------------------------------------


def test_add_list_remove(store: ModelStore, tmp_path: Path) -> None:
    listed = {m["name"]: m for m in store.describe()}
    assert listed["tiny-cnn"]["kind"] == "image" and listed["tiny-cnn"]["dim"] == 16
    assert listed["tiny-clip"]["text"] is True
    config = json.loads((store.folder / "tiny-cnn" / "lookalike-model.json").read_text())
    assert len(config["files"]["image.onnx"]) == 64  # sha256 recorded at install
    with pytest.raises(ModelError, match="installed already"):
        store.add("tiny-cnn", tmp_path / "src-cnn")
    store.remove("tiny-cnn")
    assert store.names() == ["tiny-clip"]
    with pytest.raises(ModelError, match="not installed"):
        store.remove("tiny-cnn")


def test_a_bare_onnx_file_is_an_image_model_with_its_size_measured(tmp_path: Path) -> None:
    from tiny_models import conv_model

    store = ModelStore(tmp_path / "models")
    installed = store.add("bare", conv_model(tmp_path / "m.onnx", dim=24))
    assert installed["dim"] == 24 and installed["kind"] == "image"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: _edit(f, dim=99), "dim=99"),
        (lambda f: (f / "image.onnx").write_bytes(b"not a model"), "cannot load"),
        (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json"),
        (lambda f: (f / "lookalike-model.json").write_text("{"), "cannot read"),
        (lambda f: _edit(f, kind="sparkly"), "kind"),
    ],
)
def test_a_broken_model_is_refused_and_nothing_is_installed(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    source = clip_folder(tmp_path / "src")
    change(source)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError, match=message):
        store.add("broken", source)
    assert store.names() == [] and not any(p.name.startswith(".incoming") for p in store.folder.iterdir())


def _edit(folder: Path, **changes: object) -> None:
    path = folder / "lookalike-model.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A model hub on loopback that serves a tiny model's files under /REPO/resolve/main/."""
    source = clip_folder(tmp_path / "hub-files")
    files = {
        "/tiny/clip/resolve/main/onnx/vision.onnx": (source / "image.onnx").read_bytes(),
        "/tiny/clip/resolve/main/onnx/text.onnx": (source / "text.onnx").read_bytes(),
        "/tiny/clip/resolve/main/tokenizer.json": (source / "tokenizer.json").read_bytes(),
    }
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


def tiny_known(name: str = "tiny-pull") -> KnownModel:
    return KnownModel(
        name=name,
        repo="tiny/clip",
        files={
            "image.onnx": "onnx/vision.onnx",
            "text.onnx": "onnx/text.onnx",
            "tokenizer.json": "tokenizer.json",
        },
        config={
            "kind": "clip",
            "dim": 8,
            "image": {"input": "pixel_values", "output": "image_embeds", "size": 32},
            "text": {"input": "input_ids", "output": "text_embeds", "context_length": 16, "pad_id": 0},
        },
        about="a tiny test model",
    )


def test_pull_downloads_verifies_and_installs(
    tmp_path: Path, hub: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, asked = hub
    monkeypatch.setitem(
        __import__("lookalike.models.hub", fromlist=["KNOWN"]).KNOWN, "tiny-pull", tiny_known()
    )
    store = ModelStore(tmp_path / "models")
    installed = store.pull("tiny-pull", url)
    assert installed["kind"] == "clip" and installed["source"] == f"{url}/tiny/clip"
    assert sorted(asked) == sorted(
        [
            "/tiny/clip/resolve/main/onnx/vision.onnx",
            "/tiny/clip/resolve/main/onnx/text.onnx",
            "/tiny/clip/resolve/main/tokenizer.json",
        ]
    )
    assert store.load("tiny-pull").text is not None


def test_pull_offline_says_how_to_add_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        __import__("lookalike.models.hub", fromlist=["KNOWN"]).KNOWN, "tiny-pull", tiny_known()
    )
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError, match=r"Offline\?.*lookalike models add"):
        store.pull("tiny-pull", "http://127.0.0.1:9", timeout=2)
    with pytest.raises(ModelError, match="no known model"):
        store.pull("no-such-model", "http://127.0.0.1:9")
    assert store.names() == []


def test_pull_of_a_missing_file_installs_nothing(
    tmp_path: Path, hub: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = hub
    broken = tiny_known()
    broken = KnownModel(**{**broken.__dict__, "files": {**broken.files, "text.onnx": "onnx/missing.onnx"}})
    monkeypatch.setitem(__import__("lookalike.models.hub", fromlist=["KNOWN"]).KNOWN, "tiny-pull", broken)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError, match="404"):
        store.pull("tiny-pull", url)
    assert store.names() == []


# ---- signals in a collection ----------------------------------------------------------------


def test_a_model_signal_without_a_model_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\.embedding.*lookalike models add"):
        lookalike.open(tmp_path / "d", ingest={"signals": ["embedding"]}, models={"folder": tmp_path / "m"})
    with pytest.raises(ModelError, match="not installed"):
        lookalike.open(
            tmp_path / "d",
            ingest={"signals": ["embedding"]},
            models={"folder": tmp_path / "m", "embedding": "x"},
        )


def test_embedding_finds_a_reencoded_copy(tmp_path: Path, store: ModelStore) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(6):
        photo(seed).save(folder / f"p{seed}.png")
    with open_with(tmp_path, store, ["embedding"]) as images:
        images.index([folder])
        query = encode(photo(3).resize((200, 150)), "JPEG", quality=70)
        results = images.search(query, signals=["embedding"])
        assert results[0].location.endswith("p3.png")
        evidence = {e.signal: e for e in results[0].why}
        assert evidence["embedding"].distance is not None and evidence["embedding"].distance < 0.01
        assert images.stats()["indexes"]["embedding"]["vectors"] == 6


@pytest.mark.parametrize("dense", ["hnsw", "ivfpq"])
def test_large_collection_indexes_are_built_and_searched(
    tmp_path: Path, store: ModelStore, dense: str
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(6):
        photo(seed).save(folder / f"p{seed}.png")
    overrides = {"dense": dense, "flat_max": 0}
    with lookalike.open(
        tmp_path / "data",
        ingest={"workers": 1, "signals": ["phash", "embedding"]},
        models={"folder": store.folder, "embedding": "tiny-cnn"},
        index=overrides,
    ) as images:
        images.index([folder])
        assert images.search(encode(photo(4)), signals=["embedding"])[0].location.endswith("p4.png")
        images.remove(str(folder / "p4.png"))
        assert all(
            not r.location.endswith("p4.png") for r in images.search(encode(photo(4)), signals=["embedding"])
        )
        assert images.rebuild()["embedding"] == 5  # trained afresh on what is there
        assert images.search(encode(photo(2)), signals=["embedding"])[0].location.endswith("p2.png")


def test_signal_version_follows_the_model(tmp_path: Path, store: ModelStore) -> None:
    store.add("other-cnn", image_folder(tmp_path / "src-other", seed=5))
    with open_with(tmp_path, store, ["embedding"]) as a:
        first = a.signals["embedding"].spec.version
    with open_with(tmp_path, store, ["embedding"], embedding="other-cnn") as b:
        assert b.signals["embedding"].spec.version != first


def test_clip_text_search_finds_by_meaning_and_keyword_search_remains(
    tmp_path: Path, store: ModelStore
) -> None:
    folder = colour_folder(tmp_path)
    with open_with(tmp_path, store, ["clip"]) as images:
        images.index([folder])
        results = images.search(text="something blue", k=2)
        assert {Path(r.location).name for r in results} == {"blue0.png", "blue1.png"}
        assert "clip_text" in {e.signal for e in results[0].why}
        by_name = images.search(text="yellow1", k=1)  # a file name: the keyword side
        assert Path(by_name[0].location).name == "yellow1.png"
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as plain:  # no clip: keywords only
        results = plain.search(text="something blue", k=2)
        assert all("clip_text" not in {e.signal for e in r.why} for r in results)


def test_image_and_text_combine(tmp_path: Path, store: ModelStore) -> None:
    folder = colour_folder(tmp_path)
    with open_with(tmp_path, store, ["clip"]) as images:
        images.index([folder])
        query = encode(Image.new("RGB", (30, 30), (250, 240, 0)))  # yellow
        alone = images.search(query, k=4, signals=["clip"])
        assert Path(alone[0].location).name.startswith("yellow")
        both = images.search(query, text="white", k=4, signals=["clip"])
        names = [Path(r.location).name for r in both]
        signals = {e.signal for e in both[0].why}
        assert {"clip", "clip_text", "text"} <= signals
        assert names[0].startswith(("yellow", "white")) and any(n.startswith("white") for n in names[:3])


def test_zero_shot_tags_appear_in_results(tmp_path: Path, store: ModelStore) -> None:
    folder = colour_folder(tmp_path)
    with open_with(
        tmp_path, store, ["clip"], tag_vocabulary=list(COLOURS), tag_vocabulary_only=True, tags=2
    ) as images:
        images.index([folder])
        results = images.search(text="green", k=1)
        assert results[0].auto_tags[0] == "green"
        assert results[0].as_dict()["auto_tags"][0] == "green"


def test_backfill_computes_a_new_signal_without_reindexing(tmp_path: Path, store: ModelStore) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(5):
        photo(seed).save(folder / f"p{seed}.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as images:
        images.index([folder], metadata=None)
    (folder / "p4.png").unlink()  # gone from disk: cannot be backfilled, and says so
    with open_with(tmp_path, store, ["embedding"]) as images:
        report = images.backfill(["embedding"])
        assert report["computed"] == {"embedding": 4} and report["unreadable"] == 1
        assert images.backfill(["embedding"])["computed"] == {"embedding": 0}  # idempotent
        results = images.search(encode(photo(2)), signals=["embedding"])
        assert results[0].location.endswith("p2.png")


def test_whitening_fits_the_collection_and_rebuilds_the_index(tmp_path: Path, store: ModelStore) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 16)) * np.linspace(0.2, 5.0, 16)
    w = Whitening.fit(x, keep=8)
    y = (x - w.mean) @ w.projection
    assert np.allclose(np.cov(y.T), np.eye(8) * np.cov(y.T).diagonal().mean(), atol=0.15)
    assert w.apply(x).shape == (400, 16)
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(12):
        photo(seed).save(folder / f"p{seed}.png")
    with open_with(tmp_path, store, ["embedding"], whiten=True) as images:
        images.index([folder])
        fitted = images.fit_whitening()
        assert fitted["fitted_on"] == 12 and fitted["active"]
        assert images.signals["embedding"].transform_id is not None  # type: ignore[attr-defined]
        assert images.search(encode(photo(7)), signals=["embedding"])[0].location.endswith("p7.png")
    meta = json.loads((tmp_path / "data" / "indexes").glob("embedding.*.json").__next__().read_text())
    assert meta["transform"] is not None
    with open_with(tmp_path, store, ["embedding"]) as plain:  # whitening off: the index is rebuilt plain
        assert plain.search(encode(photo(7)), signals=["embedding"])[0].location.endswith("p7.png")
    meta = json.loads((tmp_path / "data" / "indexes").glob("embedding.*.json").__next__().read_text())
    assert meta["transform"] is None


def test_query_expansion_pulls_in_the_neighbours_neighbourhood(tmp_path: Path, store: ModelStore) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    # orange is nearer the query's near neighbour than the query; pink is as far from red as orange
    shades = {"near": (255, 60, 0), "orange": (255, 140, 0), "pink": (255, 0, 120)}
    for name, rgb in shades.items():
        Image.new("RGB", (20, 20), rgb).save(folder / f"{name}.png")
    query = encode(Image.new("RGB", (20, 20), (255, 0, 0)))
    red = standardised((255, 0, 0))
    cos = {
        n: float(red @ standardised(c) / np.linalg.norm(red) / np.linalg.norm(standardised(c)))
        for n, c in shades.items()
    }
    assert cos["near"] > cos["pink"] > cos["orange"]  # without expansion pink ranks above orange
    ranks = {}
    for expansion in (0, 1):
        with open_with(tmp_path, store, ["clip"], expansion=expansion, tags=0) as images:
            images.index([folder])
            ranks[expansion] = [Path(r.location).stem for r in images.search(query, signals=["clip"], k=3)]
    assert ranks[0] == ["near", "pink", "orange"]
    assert ranks[1] == ["near", "orange", "pink"]


def test_cli_models_and_backfill(tmp_path: Path, store: ModelStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKALIKE_MODELS__FOLDER", str(store.folder))
    monkeypatch.setenv("LOOKALIKE_INGEST__WORKERS", "1")
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert {m["name"] for m in json.loads(listed.stdout)["installed"]} == {"tiny-cnn", "tiny-clip"}
    added = runner.invoke(app, ["models", "add", "copy", str(store.folder / "tiny-cnn"), "--json"])
    assert added.exit_code == 0 and json.loads(added.stdout)["dim"] == 16
    assert runner.invoke(app, ["models", "remove", "copy"]).exit_code == 0
    bad = runner.invoke(app, ["models", "add", "x", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2 and "no such file" in bad.output
    folder = colour_folder(tmp_path)
    data = str(tmp_path / "cli-data")
    assert runner.invoke(app, ["index", str(folder), "--data", data]).exit_code == 0
    monkeypatch.setenv("LOOKALIKE_MODELS__CLIP", "tiny-clip")
    filled = runner.invoke(app, ["index", "--signals", "clip", "--data", data, "--json"])
    assert filled.exit_code == 0, filled.output
    assert json.loads(filled.stdout)["backfill"]["computed"] == {"clip": 12}
    monkeypatch.setenv("LOOKALIKE_INGEST__SIGNALS", '["phash","colour","clip"]')
    found = runner.invoke(app, ["search", "--text", "red", "-k", "2", "--data", data, "--json"])
    assert found.exit_code == 0, found.output
    assert {Path(r["occurrences"][0]["uri"]).name for r in json.loads(found.stdout)} == {
        "red0.png",
        "red1.png",
    }
