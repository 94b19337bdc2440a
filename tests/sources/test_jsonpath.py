"""Paths into JSON and templates of them, as crawl recipes write them."""

from __future__ import annotations

import pytest

from lookalike.sources.crawl.jsonpath import Template, parse_path

DOC = {
    "data": {
        "products": [
            {"name": "Mug", "images": [{"src": "a.png"}, {"src": "b.png"}], "price": {"EUR": 12.5}},
            {"name": "Lamp", "images": [], "on sale": True},
        ]
    },
    "next": None,
}


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("", [DOC]),
        ("$", [DOC]),
        ("$.[0]", []),  # JSONPath's root then an index: the document is no list
        ("data.products[0].name", ["Mug"]),
        ("$.data.products[-1].name", ["Lamp"]),
        ("data.products[*].name", ["Mug", "Lamp"]),
        ("data.products[*].images[*].src", ["a.png", "b.png"]),
        ("data.products[0].price.*", [12.5]),
        ('data.products[1]["on sale"]', [True]),
        ("data.products[1]['on sale']", [True]),
        ("data.products[5].name", []),  # out of range: nothing
        ("data.missing.name", []),
        ("data.products.name", []),  # a name on a list: nothing (the wildcard takes each item)
        ("next", []),  # null is no value
    ],
)
def test_a_path_gives_every_value_it_reaches(path: str, values: list[object]) -> None:
    assert parse_path(path).values(DOC) == values


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("a[", "needs an index"),
        ("a[x]", "needs an index"),
        ("a..b", "an empty name"),
        ("a.", "ends with a dot"),
        ("a b", "expected '.' or '['"),
        ("a.[0]", "a dot before '['"),
        ("1a", "cannot start a name"),
    ],
)
def test_a_bad_path_says_where(path: str, said: str) -> None:
    with pytest.raises(ValueError, match="bad path") as error:
        parse_path(path)
    assert said in str(error.value)


def test_a_template_renders_only_when_every_path_has_a_value() -> None:
    item = {"handle": "red-mug", "brand": "Acme", "size": 2, "ok": False}
    assert Template.parse("/products/{handle}").render(item) == "/products/red-mug"
    assert Template.parse("{brand} {size} {ok} {{literal}}").render(item) == "Acme 2 false {literal}"
    assert Template.parse("/p/{missing}").render(item) is None
    assert Template.parse("/p/{brand}").render({"brand": {"name": "x"}}) is None  # not a scalar
    assert [p.text for p in Template.parse("{a.b}-{c[0]}").paths] == ["a.b", "c[0]"]
    for bad, said in (
        ("/p/{", "a lone '{'"),
        ("/p/}", "a lone '}'"),
        ("/p/{}", "empty braces"),
        ("{a..b}", "bad path"),
    ):
        with pytest.raises(ValueError, match="bad") as error:
            Template.parse(bad)
        assert said in str(error.value)
