"""The safety flag end to end: a detector of NudeNet's shape built by the test (red pictures score
as exposed), the labels and scores stored, flagged images kept but marked in results, left out with
``safe`` (use case on both catalogs, API, CLI), blurred or hidden on the pages; and NudeNet's own
detector from its wheel running on a picture it has no reason to flag."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

import lookalike
from lookalike import Collection
from lookalike.api import create_app
from lookalike.cli import render, searching
from lookalike.cli.main import app
from lookalike.decode import decode
from lookalike.errors import ModelError
from lookalike.settings import DecodeSettings, SafetySettings
from lookalike.signals.safety import Safety, bundled_model

from asgi_client import Client, serving
from conftest import encode, photo
from tiny_models import bluish, exposure_model, reddened

SIGNALS = ["phash", "colour", "junk", "safety"]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return exposure_model(tmp_path / "models" / "exposure.onnx")


def decoded(image: Image.Image) -> object:
    return decode(encode(image), DecodeSettings())


def test_scores_labels_and_the_reason(model: Path) -> None:
    signal = Safety(SafetySettings(model=model))
    red, blue = signal.scores([decoded(reddened(1)), decoded(bluish(2))])  # type: ignore[list-item]
    assert set(red) == {"FEMALE_BREAST_EXPOSED"} and red["FEMALE_BREAST_EXPOSED"] > 0.5
    assert blue == {}
    feature = signal.extract(decoded(reddened(1)))  # type: ignore[arg-type]
    assert json.loads(bytes(feature.ravel())) == red  # every label and score is stored
    assert signal.reason(feature) == f"FEMALE_BREAST_EXPOSED {red['FEMALE_BREAST_EXPOSED']:.2f}"
    strict = Safety(SafetySettings(model=model, threshold=0.95))
    assert strict.reason(feature) is None and strict.spec.version != signal.spec.version
    faces_only = Safety(SafetySettings(model=model, labels=["FACE_FEMALE"]))
    assert faces_only.reason(feature) is None


def test_refusals_say_what_is_wrong(model: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"safety\.labels has NAKED, not a detector class"):
        Safety(SafetySettings(model=model, labels=["NAKED"]))
    with pytest.raises(ModelError, match="is missing"):
        Safety(SafetySettings(model=tmp_path / "nowhere.onnx"))
    from tiny_models import conv_model

    other = Safety(SafetySettings(model=conv_model(tmp_path / "conv.onnx", input_name="images")))
    with pytest.raises(ModelError, match=r"the safety signal needs \[batch, 22, anchors\]"):
        other.scores([decoded(bluish(1))])  # type: ignore[list-item]


def test_nudenets_own_detector_runs_offline() -> None:
    if bundled_model() is None:
        pytest.skip("nudenet is not installed (pip install 'lookalike[safety]')")
    signal = Safety()
    assert signal.spec.version == 1
    [scores] = signal.scores([decoded(photo(3))])  # type: ignore[list-item]
    assert all(0.2 <= s <= 1 for s in scores.values())
    assert signal.reason(signal.extract(decoded(photo(3)))) is None  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def flagged(request: pytest.FixtureRequest, tmp_path: Path, model: Path) -> Iterator[Collection]:
    """Two red pictures (flagged), three bluish ones (not)."""
    catalog = {} if request.param == "sqlite" else {"catalog": request.getfixturevalue("postgres_url")}
    root = tmp_path / "pictures"
    root.mkdir()
    for seed in range(2):
        reddened(seed).save(root / f"red{seed}.png")
    for seed in range(3):
        bluish(seed + 10).save(root / f"blue{seed}.png")
    settings = {"ingest": {"workers": 1, "signals": SIGNALS}, "safety": {"model": str(model)}}
    with lookalike.open(tmp_path / "data", **settings, **catalog) as opened:  # type: ignore[arg-type]
        opened.index([root])
        yield opened


def names(results: list[object]) -> set[str]:
    return {Path(r.location).name for r in results}  # type: ignore[attr-defined]


def test_flagged_images_stay_marked_unless_a_search_is_safe(flagged: Collection) -> None:
    red = next(r for r in flagged.browse("path").results if Path(r.location).name == "red0.png")
    assert set(red.flags) == {"safety"} and red.flags["safety"].startswith("FEMALE_BREAST_EXPOSED 0.")
    everything = flagged.search(image_id=red.image_id, k=10, collapse=False)
    assert {"red1.png", "blue0.png"} <= names(everything)
    assert all(bool(r.flags) == Path(r.location).name.startswith("red") for r in everything)
    assert not {
        n for n in names(flagged.search(image_id=red.image_id, k=10, safe=True)) if n.startswith("red")
    }
    assert names(flagged.similar(red.image_id, k=10, safe=True)) == {"blue0.png", "blue1.png", "blue2.png"}
    assert len(flagged.browse("path").results) == 5
    assert names(flagged.browse("path", safe=True).results) == {"blue0.png", "blue1.png", "blue2.png"}
    assert flagged.stats()["flags"]["safety"] == {red.flags["safety"]: 1, **_other(flagged, red.image_id)}
    assert flagged.info(red.image_id)["flags"] == red.flags


def _other(collection: Collection, first: int) -> dict[str, int]:
    """The other red picture's reason (its score differs), counted once."""
    other = next(r for r in collection.browse("path").results if Path(r.location).name == "red1.png")
    return {other.flags["safety"]: 1}


def test_the_api_and_pages_blur_or_hide_flagged_images(flagged: Collection) -> None:
    with serving(create_app(flagged)) as client:
        _api_and_pages(client)


def _api_and_pages(client: Client) -> None:
    listed = client.get("/api/images", params={"sort": "path"}).json()["results"]
    red = next(r for r in listed if r["occurrences"][0]["uri"].endswith("red0.png"))
    assert red["flags"]["safety"].startswith("FEMALE_BREAST_EXPOSED")
    found = client.get("/api/search", params={"id": red["id"], "collapse": "false"}).json()["results"]
    assert any(r["flags"] for r in found)
    safe = client.get("/api/search", params={"id": red["id"], "safe": "true"}).json()["results"]
    assert safe and not any(r["flags"] for r in safe)
    posted = client.post("/api/search", json={"id": red["id"], "safe": True}).json()["results"]
    assert [r["id"] for r in posted] == [r["id"] for r in safe]
    assert len(client.get("/api/images", params={"safe": "true"}).json()["results"]) == 3
    assert not any(
        r["flags"] for r in client.get(f"/api/images/{red['id']}/similar?safe=true").json()["results"]
    )
    page = client.get("/browse").text  # safety.page = blur: flagged cards veiled, a switch offered
    assert page.count("card listed veiled") == 2 and "Blur until clicked" in page
    assert "card listed veiled" not in client.get("/browse", params={"safe": "show"}).text
    hidden = client.get("/browse", params={"safe": "hide"}).text
    assert hidden.count("card listed") == 3 and "red0.png" not in hidden
    searched = client.get("/", params={"id": red["id"]}).text
    assert 'class="card veiled"' in searched
    assert "red1.png" not in client.get("/", params={"id": red["id"], "safe": "hide"}).text
    own = client.get(f"/images/{red['id']}").text
    assert 'class="hero veiled"' in own and "Flagged safety" in own
    assert 'class="hero"' in client.get(f"/images/{red['id']}", params={"safe": "show"}).text
    shown = client.get(f"/images/{red['id']}", params={"safe": "show"}).text
    assert (
        "red1.png" in shown
        and "red1.png" not in client.get(f"/images/{red['id']}", params={"safe": "hide"}).text
    )
    assert client.get("/browse", params={"safe": "nude"}).status_code == 422


def test_without_a_safety_signal_nothing_is_veiled(tmp_path: Path) -> None:
    root = tmp_path / "pictures"
    root.mkdir()
    reddened(0).save(root / "red0.png")
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as opened:
        opened.index([root])
        with serving(create_app(opened)) as client:
            page = client.get("/browse").text
            assert "veiled" not in page and "Flagged images" not in page


def test_the_cli_shows_flags_and_leaves_them_out_when_safe(
    tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pictures"
    root.mkdir()
    reddened(0).save(root / "red0.png")
    bluish(1).save(root / "blue0.png")
    env = {
        "LOOKALIKE_HOME": str(tmp_path / "data"),
        "LOOKALIKE_INGEST__WORKERS": "1",
        "LOOKALIKE_INGEST__SIGNALS": json.dumps(SIGNALS),
        "LOOKALIKE_SAFETY__MODEL": str(model),
    }
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(root)], env=env).exit_code == 0
    query = str(root / "red0.png")
    found = json.loads(runner.invoke(app, ["search", query, "--json", "--no-collapse"], env=env).stdout)
    assert [bool(r["flags"]) for r in found][:1] == [True]
    safe = json.loads(runner.invoke(app, ["search", query, "--json", "--safe"], env=env).stdout)
    assert safe and not any(r["flags"] for r in safe)
    # the safety signal ran once but is not configured: --safe still leaves its flags out
    plain = {k: v for k, v in env.items() if k != "LOOKALIKE_INGEST__SIGNALS"}
    again = json.loads(runner.invoke(app, ["search", query, "--json", "--safe"], env=plain).stdout)
    assert again and not any(r["flags"] for r in again)
    listed = json.loads(runner.invoke(app, ["browse", "--json", "--safe"], env=env).stdout)
    assert [Path(r["occurrences"][0]["uri"]).name for r in listed["results"]] == ["blue0.png"]
    out = io.StringIO()
    terminal = Console(file=out, force_terminal=True, width=200, color_system=None)
    monkeypatch.setattr(render, "console", terminal)
    monkeypatch.setattr(searching, "console", terminal)
    runner.invoke(app, ["search", query], env=env)
    assert "safety: FEMALE_BREAST_EXPOSED 0." in out.getvalue()


def test_flags_of_a_safety_pass_hold_without_the_signal_configured(tmp_path: Path, model: Path) -> None:
    root = tmp_path / "pictures"
    root.mkdir()
    reddened(0).save(root / "red0.png")
    bluish(1).save(root / "blue0.png")
    settings = {"ingest": {"workers": 1}, "safety": {"model": str(model)}}
    with lookalike.open(tmp_path / "data", extra_signals=["safety"], **settings) as opened:  # type: ignore[arg-type]
        opened.index([root])  # once, as `index --signals safety` does
    with lookalike.open(tmp_path / "data", ingest={"workers": 1}) as opened:  # safety not configured
        assert [Path(r.location).name for r in opened.browse("path", safe=True).results] == ["blue0.png"]
        with serving(create_app(opened)) as client:
            assert client.get("/browse").text.count("card listed veiled") == 1
