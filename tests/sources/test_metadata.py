"""What pages, sitemaps and feeds say about their images (pure: no network)."""

from __future__ import annotations

import gzip
import json
import sys

import pytest

from lookalike.sources.crawl.documents import read_page
from lookalike.sources.crawl.pages import Link, parse_page
from lookalike.sources.crawl.sitemaps import looks_like_xml, parse_xml

URL = "http://h/work/p.html"


def _ld(*items: object) -> bytes:
    scripts = "".join(f'<script type="application/ld+json">{json.dumps(i)}</script>' for i in items)
    return f"<html><head><title>Site</title>{scripts}</head><body></body></html>".encode()


def test_a_gallery_of_schema_items_gives_each_image_its_own() -> None:
    gallery = {
        "@context": "https://schema.org",
        "@type": "ImageGallery",
        "name": "All works",
        "hasPart": [
            {
                "@type": "ImageObject",
                "contentUrl": "/a.png",
                "name": "A",
                "creator": "Ann",
                "keywords": "red",
            },
            {
                "@type": "Photograph",
                "contentUrl": "/b.png",
                "name": "B",
                "author": [{"name": "Bo"}, {"name": "Cy"}],
            },
        ],
    }
    page = parse_page(_ld(gallery), URL)
    assert Link("http://h/a.png", embedded=True) in page.links  # images only named in JSON-LD are found
    a, b = page.about("http://h/a.png"), page.about("http://h/b.png")
    assert (a.title, a.extra["author"], a.tags) == ("A", "Ann", ("red",))
    assert (b.title, b.extra["author"], b.tags) == ("B", "Bo, Cy", ())
    assert page.title == "Site" and "author" not in page.extra  # neither work is the page's own


def test_a_product_with_offers_and_a_nested_image() -> None:
    product = {
        "@type": "Product",
        "name": "Sword sprite",
        "category": "Weapons > Swords",
        "image": {"@type": "ImageObject", "contentUrl": "https://cdn.h/sword.png", "caption": "A sword"},
        "offers": [{"@type": "AggregateOffer", "lowPrice": 3, "priceCurrency": "EUR"}],
        "license": {"@id": "https://l.example/terms"},
    }
    page = parse_page(_ld({"@graph": [{"@type": "WebPage"}, product]}), URL)
    assert (page.title, page.tags) == ("Sword sprite", ("Weapons", "Swords"))
    assert page.extra == {"price": "3", "currency": "EUR", "licence": "https://l.example/terms"}
    sword = page.about("https://cdn.h/sword.png")
    assert sword.text == "A sword" and sword.extra["price"] == "3"


def test_json_ld_is_read_without_extruct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "extruct", None)  # as if the crawl extra were not installed
    page = parse_page(_ld({"@type": "VisualArtwork", "name": "Kite", "author": {"name": "Ann"}}), URL)
    assert (page.title, page.extra["author"]) == ("Kite", "Ann")


def test_broken_structured_data_leaves_the_rest() -> None:
    html = b"""<title>T</title><script type="application/ld+json">{"@type": "ImageObject", </script>
        <meta name="keywords" content="a, b"><div itemscope><span itemprop="name">x</span></div>"""
    page = parse_page(html, URL)
    assert (page.title, page.tags) == ("T", ("a", "b"))


def test_microformats_entry_and_rels() -> None:
    html = b"""<article class="h-entry"><h1 class="p-name">Tower</h1><p class="p-summary">A tall one</p>
        <a class="p-author h-card" href="/u/ed">Ed</a><span class="p-category">stone</span>
        <img class="u-photo" src="/t.png"></article><a rel="tag" href="/tags/night-sky"></a>"""
    page = parse_page(html, URL)
    assert (page.title, page.text, page.extra["author"]) == ("Tower", "A tall one", "Ed")
    assert page.tags == ("night sky", "stone")  # a tag link without text: the last part of its URL


def test_class_words_and_labels_are_a_fallback() -> None:
    html = b"""<title>Knight</title><div class="sidebar"><dl><dt>Artist</dt><dd>Gus</dd>
        <dt>Licence:</dt><dd><a href="/lic">MIT</a></dd></dl></div>
        <p class="tags">Tags: knight, amber</p><span class="author-name">Not this</span>"""
    page = parse_page(html, URL)
    assert page.extra == {"author": "Gus", "licence": "http://h/lic"}  # a label before a class word
    assert page.tags == ("knight", "amber")
    marked = parse_page(html + b'<meta name="author" content="Meta Gus">', URL)
    assert marked.extra["author"] == "Meta Gus"  # any real markup wins over the fallback


def test_image_candidates_lazy_loading_and_backgrounds() -> None:
    html = b"""<img src="/blank.gif" data-srcset="/l-1.png 1x, /l-2.png 2x">
        <img src="/s.png" srcset="/s-640.png 640w,/s-1280.png 1280w" alt="Sea">
        <figure><img data-src="/f.png"><figcaption> Harbour  at dawn </figcaption></figure>
        <section style="background: #000 url('/bg.jpg') no-repeat"></section>"""
    page = parse_page(html, URL)
    assert [link.url for link in page.links] == [
        "http://h/l-2.png",
        "http://h/s-1280.png",
        "http://h/f.png",
        "http://h/bg.jpg",
    ]
    assert page.about("http://h/l-2.png").extra["variants"] == ["http://h/l-1.png"]
    sea = page.about("http://h/s-1280.png")
    assert sea.text == "Sea" and sea.extra["variants"] == ["http://h/s-640.png", "http://h/s.png"]
    assert page.about("http://h/f.png").text == "Harbour at dawn"


def test_a_thumbnail_link_gives_its_target_the_thumbnail_s_words() -> None:
    page = parse_page(b'<title>T</title><a href="/full.png"><img src="/thumb.png" alt="Owl"></a>', URL)
    assert page.about("http://h/full.png").text == "Owl"
    assert page.file_entry("http://h/full.png", 2).metadata["text"] == "Owl"


def test_a_page_announces_its_feed() -> None:
    html = b'<link rel="alternate" type="application/atom+xml" href="/feed.atom"><link rel="alternate" hreflang="de" href="/de/">'
    assert parse_page(html, URL).links == (Link("http://h/feed.atom"),)


def test_sitemap_index_and_image_sitemap() -> None:
    index = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <sitemap><loc>http://h/s1.xml.gz</loc></sitemap></sitemapindex>"""
    assert parse_xml(index, "http://h/sitemap.xml").links == (Link("http://h/s1.xml.gz"),)  # type: ignore[union-attr]
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url><loc>http://h/w.html</loc>
        <image:image><image:loc>http://h/w.png</image:loc><image:title>Owl</image:title>
        <image:caption>An owl at night</image:caption><image:license>http://h/lic</image:license></image:image>
        </url></urlset>"""
    page = parse_xml(gzip.compress(urlset), "http://h/s1.xml.gz")
    assert page is not None and page.links == (Link("http://h/w.html"), Link("http://h/w.png", embedded=True))
    entry = page.file_entry("http://h/w.png", 1)
    assert (entry.page_url, entry.title, entry.metadata["text"]) == (
        "http://h/w.html",
        "Owl",
        "An owl at night",
    )
    assert entry.metadata["extra"] == {"licence": "http://h/lic"}


def test_rss_and_atom_feeds() -> None:
    rss = b"""<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
        xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item><title>Golem</title><link>http://h/g.html</link>
        <description>&lt;p&gt;An ice golem &lt;img src="/g2.png"&gt;&lt;/p&gt;</description><category>ice</category>
        <dc:creator>Ann</dc:creator><media:content url="http://h/g.png" medium="image"/></item></channel></rss>"""
    page = parse_xml(rss, "http://h/feed.xml")
    assert page is not None
    assert [link.url for link in page.links] == ["http://h/g.html", "http://h/g.png", "http://h/g2.png"]
    golem = page.file_entry("http://h/g2.png", 1)
    assert (golem.page_url, golem.title, golem.metadata["text"]) == (
        "http://h/g.html",
        "Golem",
        "An ice golem",
    )
    assert golem.metadata["tags"] == ["ice"] and golem.metadata["extra"] == {"author": "Ann"}
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>Kite</title><link href="http://h/k.html"/>
        <link rel="enclosure" type="image/jpeg" href="http://h/k.jpg"/><author><name>Bo</name></author>
        <rights>CC0</rights><category term="sky"/><summary>Red kite</summary></entry></feed>"""
    kite = parse_xml(atom, "http://h/atom.xml")
    assert kite is not None
    entry = kite.file_entry("http://h/k.jpg", 1)
    assert (entry.page_url, entry.title, entry.metadata["tags"]) == ("http://h/k.html", "Kite", ["sky"])
    assert entry.metadata["extra"] == {"author": "Bo", "licence": "CC0"}


def test_xml_that_is_not_a_sitemap_or_is_hostile() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>'
    assert parse_xml(bomb, "http://h/s.xml") is None  # entities are refused, not expanded
    assert parse_xml(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "http://h/a.svg") is None
    assert parse_xml(b"<urlset><url>", "http://h/s.xml") is None  # cut short
    assert parse_xml(b"\x1f\x8bnot gzip", "http://h/s.xml.gz") is None
    assert read_page(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "http://h/a", "image/svg+xml") is None
    assert looks_like_xml(b"<?xml version='1.0'?><rss/>", None) and not looks_like_xml(b"<html>", "text/html")
    assert read_page(b"<!doctype html><title>x</title>", "http://h/") is not None
