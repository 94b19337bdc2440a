"""Links and metadata from HTML pages (pure: no network)."""

from __future__ import annotations

import pytest

from lookalike.sources.crawl.pages import Link, absolute, check_selectors, decode_html, parse_page


def test_links_resolve_once_without_reencoding() -> None:
    html = (
        b'<a href="b.html?x=1&amp;y=2#frag">b</a> <a href=" /c%20d.html ">c</a>'
        b' <a href="mailto:a@b.c">mail</a> <a href="javascript:void(0)">js</a> <a href="">empty</a>'
        b' <img src="img/a.png" srcset="img/a2.png 2x, https://cdn.example/a3.png 3x">'
        b' <picture><source srcset="img/s.webp"></picture> <a href="b.html?x=1&amp;y=2">again</a>'
    )
    page = parse_page(html, "https://site.example/dir/page.html")
    assert page.links == (
        Link("https://site.example/dir/b.html?x=1&y=2"),
        Link("https://site.example/c%20d.html"),
        Link("https://cdn.example/a3.png", embedded=True),  # the largest of the img's candidates
        Link("https://site.example/dir/img/s.webp", embedded=True),
    )
    variants = page.about("https://cdn.example/a3.png").extra["variants"]
    assert variants == ["https://site.example/dir/img/a2.png", "https://site.example/dir/img/a.png"]


def test_base_href_moves_relative_links() -> None:
    page = parse_page(b'<base href="/other/"><a href="x.html">x</a>', "http://h/a/b.html")
    assert page.links == (Link("http://h/other/x.html"),)


def test_metadata_from_common_markup() -> None:
    html = b"""<html><head><title> Page  title </title>
        <meta name="description" content="Plain description">
        <meta property="article:tag" content="pixel">
        <link rel="license" href="/licence.html"></head>
        <body><a rel="author" href="/u/ann">Ann</a> <a rel="tag nofollow" href="/t/red">red</a></body></html>"""
    page = parse_page(html, "http://h/p.html")
    assert page.title == "Page title" and page.text == "Plain description"
    assert page.tags == ("pixel", "red")
    assert page.extra == {"author": "Ann", "licence": "http://h/licence.html"}


def test_opengraph_wins_over_the_title() -> None:
    html = b'<title>Site | Work</title><meta property="og:title" content="Work"><meta property="og:description" content="D">'
    page = parse_page(html, "http://h/")
    assert (page.title, page.text, page.tags, page.extra) == ("Work", "D", (), {})


def test_charset_from_header_then_meta_then_utf8() -> None:
    latin = "<title>Café</title>".encode("latin-1")
    assert "Café" in decode_html(latin, "text/html; charset=ISO-8859-1")
    assert "Café" in decode_html(b'<meta charset="latin-1">' + latin)
    assert "Café" in decode_html("<title>Café</title>".encode())
    assert "Caf" in decode_html(latin, "text/html; charset=no-such-charset")


def test_absolute_keeps_only_http() -> None:
    assert absolute("http://h/a/", "../b") == "http://h/b"
    assert absolute("http://h/", "ftp://h/x") is None
    assert absolute("http://h/", "http://[bad") is None
    assert absolute("http://h/", None) is None


def test_selectors_replace_defaults_and_add_fields() -> None:
    html = b"""<title>Site</title><meta name="author" content="Meta Author">
        <a rel="license" href="/l.html">L</a>
        <h1 class="work"> Green   slime </h1><span class="by">Bo</span><span class="price">4.00</span>
        <ul class="kw"><li>slime</li><li>green</li><li>slime</li></ul>"""
    selectors = {"title": "h1.work", "tags": ".kw li", "author": ".by", "price": ".price", "text": ".none"}
    page = parse_page(html, "http://h/p.html", selectors=selectors)
    assert page.title == "Green slime" and page.tags == ("slime", "green") and page.text is None
    assert page.extra == {"author": "Bo", "price": "4.00", "licence": "http://h/l.html"}
    custom = parse_page(html, "http://h/p.html", selectors={"licence": "a[rel=license]"})
    assert custom.extra["licence"] == "http://h/l.html" and custom.title == "Site"


def test_check_selectors_names_the_bad_one() -> None:
    check_selectors({"title": "h1.work", "tags": ".kw li"})
    with pytest.raises(ValueError, match="'price'"):
        check_selectors({"price": "p[["})
