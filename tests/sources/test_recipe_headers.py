"""Crawl recipes that send request headers (an API key) to the local shop API, which requires one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import test_recipe
from test_recipe import expected, write_recipe
from typer.testing import CliRunner

from lookalike.cli.main import app
from lookalike.errors import ConfigError
from lookalike.sources.crawl.recipe import LISTING, parse_recipe
from lookalike.usecases.recipe import crawl_recipe

from fake_site import Site, _indexed, local_collection

shop = test_recipe.shop  # the shop's JSON API, served (a fixture)

KEY = "s3cret-key-9f2"
HEADERS = '\n[headers]\nX-Api-Key = "${SHOP_API_KEY}"\nAccept = "application/json"\n'


def _netloc(site: Site) -> str:
    return site.base.split("//", 1)[1]


def test_a_recipe_sends_its_headers_with_the_key_from_the_environment(tmp_path: Path, shop: Site) -> None:
    shop.needs = {"/api/": {"X-Api-Key": KEY}}
    shop.watch = "X-Api-Key"
    with local_collection(tmp_path) as collection:
        plain = collection.crawl([], recipe=write_recipe(tmp_path, shop.base, name="plain"))
        assert plain.failures and not _indexed(collection)  # the API asks for a key: 401
        recipe = write_recipe(tmp_path, shop.base, more=HEADERS)
        before = len(shop.watched)
        report = crawl_recipe(collection.app, recipe, recrawl=True, environ={"SHOP_API_KEY": KEY})
        assert _indexed(collection) == expected(shop.base)
        listings = [
            json.dumps(row)
            for row in collection.catalog.db.rows("SELECT metadata FROM crawl_url WHERE kind = ?", (LISTING,))
        ]
        status = json.dumps(collection.crawl_status())
    assert report.items == 5 and report.images_new == 5  # type: ignore[attr-defined]
    assert {v for t, v in shop.watched[before:] if t.startswith("/api/")} == {KEY}
    assert all(KEY not in text for text in listings) and KEY not in status  # the key is never kept


def test_a_missing_variable_is_a_clear_error_and_nothing_is_fetched(tmp_path: Path, shop: Site) -> None:
    recipe = write_recipe(tmp_path, shop.base, more=HEADERS)
    with local_collection(tmp_path) as collection, pytest.raises(ConfigError) as caught:
        crawl_recipe(collection.app, recipe, environ={})
    assert "SHOP_API_KEY" in str(caught.value) and "X-Api-Key" in str(caught.value)
    assert shop.requests() == []


def test_the_cli_reads_the_key_from_the_environment_and_never_shows_it(tmp_path: Path, shop: Site) -> None:
    shop.needs = {"/api/": {"X-Api-Key": KEY}}
    recipe = str(write_recipe(tmp_path, shop.base, more=HEADERS))
    data = str(tmp_path / "data")
    env = {"LOOKALIKE_FETCH__ALLOW_NETWORKS": '["127.0.0.0/8"]', "LOOKALIKE_CRAWL__DELAY": "0"}
    runner = CliRunner()
    missing = runner.invoke(app, ["crawl", "--recipe", recipe, "--data", data], env=env)
    assert missing.exit_code == 2 and "SHOP_API_KEY" in missing.output and "not set" in missing.output
    done = runner.invoke(
        app, ["crawl", "--recipe", recipe, "--data", data, "--json"], env={**env, "SHOP_API_KEY": KEY}
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["images_new"] == 5
    status = runner.invoke(app, ["crawl", "status", "--data", data, "--json"], env=env)
    assert KEY not in done.output and KEY not in status.output
    assert KEY not in repr(
        parse_recipe({"url": shop.base + "/api", "fields": {"images": "i"}, "headers": {"K": KEY}})
    )


def test_headers_go_to_the_apis_origin_only(tmp_path: Path, shop: Site, cdn: Site) -> None:
    shop.needs = {"/api/": {"X-Api-Key": KEY}}
    cdn.watch = shop.watch = "X-Api-Key"
    page = json.loads(shop.routes["/api/products?page=1"][0])
    page["data"]["products"][0]["images"] = [{"src": cdn.base + "/img/x.png"}]
    shop.routes["/api/products?page=1"] = (json.dumps(page).encode(), "application/json")
    with local_collection(tmp_path, allow_hosts=[_netloc(cdn)]) as collection:
        crawl_recipe(
            collection.app, write_recipe(tmp_path, shop.base, more=HEADERS), environ={"SHOP_API_KEY": KEY}
        )
        indexed = _indexed(collection)
    assert f"{cdn.base}/img/x.png" in indexed
    assert cdn.watched == [("/robots.txt", None), ("/img/x.png", None)]  # never the key
    assert ("/img/3.png", KEY) in shop.watched  # an image the API's own host serves gets it


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Bad Name": "x"}, "is not a header name"),
        ({"X-Key": "a\nb"}, "one line"),
        ({"X-Key": "${not closed"}, "${NAME}"),
    ],
)
def test_bad_headers_are_refused_by_name(shop: Site, headers: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_recipe({"url": shop.base + "/api", "fields": {"images": "i"}, "headers": headers})
    assert problem in str(caught.value) and "headers" in str(caught.value)
