"""Web page reader: main text without boilerplate, headings as sections, title, URL, charset."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.html import read_html

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
HTML = SHARED / "samples" / "materials" / "html"
REFERENCE = HTML / "_reference"
LONG_PARAGRAPH = 60  # reference paragraphs at least this long must all be read

# Strings on the raw pages (menus, share bars, cookie and subscription banners, related links)
# that are not in the readable article of the reference.
BOILERPLATE = {
    "en_bbc_article": [
        "Skip to content",
        "Share this story",
        "About sharing",
        "Most Popular",
        "Promoted content by Outbrain",
        "Jeep hack prompts 1.4m car recall",
        "Copyright © 2015 BBC.",
        "Terms of Use",
        "941 comments",
    ],
    "fr_lemonde_loi_renseignement": [
        "Abonnez-vous à partir de 1 €",
        "En savoir plus et gérer ces paramètres",
        "Recevez nos newsletters",
        "Mentions légales",
        "Suivre @lemondefr",
        "Annonces immo",
    ],
}
ARTICLES = sorted(BOILERPLATE)

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="{charset}">
<title>Wetland birds in winter | Field Notes</title>
<meta property="og:title" content="Wetland birds in winter">
<link rel="canonical" href="https://example.org/notes/wetland-birds">
</head><body>
<div id="cookie-banner">We use cookies to improve your experience. Accept all cookies.</div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/about">About us</a></li></ul></nav>
<main><article>
<h1>Wetland birds in winter</h1>
<p>Every winter the wetland hosts thousands of migrating ducks, geese and waders that arrive
from the north when the lakes there freeze over, and the café by the shore counts them.</p>
<h2>Counting method</h2>
<p>Volunteers walk the same route at dawn on the first Sunday of each month and record every
bird they see or hear, using binoculars and a standard tally sheet for each section.</p>
<ul><li>Start at the north gate before sunrise</li><li>Walk slowly along the reed beds</li></ul>
<h3>Equipment</h3>
<p>Each volunteer carries binoculars, a notebook, a waterproof pen and a thermos of tea,
which matters more than one would think on a cold January morning by the water.</p>
<table><tr><th>Species</th><th>Count</th></tr><tr><td>Teal</td><td>420</td></tr>
<tr><td>Wigeon</td><td>310</td></tr></table>
<h2>Results</h2>
<p>The January count found more teal than in any year since the survey began in 1998, while
the number of wigeon stayed close to the long-term average for the site.</p>
</article></main>
<footer><p>© 2024 Field Notes. All rights reserved.</p><a href="/privacy">Privacy policy</a>
</footer></body></html>
"""


def _page(charset: str = "utf-8") -> bytes:
    return PAGE.format(charset=charset).encode(charset)


def _segment_texts(result: ReadResult) -> list[str]:
    """Each segment's text; also checks the offsets are exact and trimmed."""
    texts = []
    for segment in result.segments:
        text = result.text[segment.char_start : segment.char_end]
        assert text and text == text.strip()
        texts.append(text)
    return texts


def _words(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


def _html_tree(path: Path) -> Any:
    """A sample page parsed by lxml (both sample pages are UTF-8)."""
    import lxml.html

    return lxml.html.fromstring(path.read_text(encoding="utf-8"))


def _sample(name: str) -> Path:
    path = HTML / name
    if not path.exists():
        pytest.skip("../shared/samples/materials not present")
    return path


def test_page_sections_follow_headings() -> None:
    result = read_html(_page(), "wetland.html")
    texts = _segment_texts(result)
    sections = dict(zip(texts, [s.section for s in result.segments], strict=True))
    assert result.kind == "report" and result.doc_format == "html"
    assert sections["Wetland birds in winter"] is None  # the page's one <h1> is its title
    assert sections[next(t for t in texts if t.startswith("Every winter"))] is None
    assert sections[next(t for t in texts if t.startswith("Volunteers walk"))] == "Counting method"
    assert sections[next(t for t in texts if t.startswith("Each volunteer"))] == (
        "Counting method › Equipment"
    )
    assert sections["Species | Count\nTeal | 420\nWigeon | 310"] == "Counting method › Equipment"
    assert sections[next(t for t in texts if t.startswith("The January count"))] == "Results"
    assert (
        "Start at the north gate before sunrise\nWalk slowly along the reed beds" in sections
    )  # a list is one block, one item per line


def test_page_drops_menus_banners_and_footer() -> None:
    result = read_html(_page(), "wetland.html")
    for boilerplate in ("cookies", "About us", "All rights reserved", "Privacy policy"):
        assert boilerplate not in result.text
    assert "the café by the shore" in result.text


def test_page_title_and_canonical_url() -> None:
    result = read_html(_page(), "wetland.html")
    assert result.title == "Wetland birds in winter"
    assert result.url == "https://example.org/notes/wetland-birds"


def test_page_in_declared_legacy_charset() -> None:
    result = read_html(_page("windows-1252"), "wetland.html")
    assert "the café by the shore" in result.text
    assert result.warnings == ()


def test_page_in_undeclared_legacy_charset_is_guessed() -> None:
    data = _page("utf-8").replace(b'<meta charset="utf-8">', b"")
    result = read_html(data.decode("utf-8").encode("cp1252"), "wetland.html")
    assert "the café by the shore" in result.text
    assert result.warnings and "not UTF-8" in result.warnings[0]


def test_page_without_main_text_is_refused() -> None:
    data = b"<html><body><nav><a href='/'>Home</a> <a href='/login'>Log in</a></nav></body></html>"
    with pytest.raises(IngestError, match=r"^menu\.html: no main text found.*\.txt file"):
        read_html(data, "menu.html")


def test_binary_page_is_refused() -> None:
    with pytest.raises(IngestError, match=r"^image\.html: "):
        read_html(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "image.html")


def test_reading_a_page_opens_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    read_html(_page(), "wetland.html")
    path = HTML / "en_bbc_article.html"  # a real page full of remote scripts and images
    if path.exists():
        read_html(path.read_bytes(), path.name)
    assert attempts == []


@pytest.mark.parametrize("article", ARTICLES)
def test_sample_article_matches_reference_text(article: str) -> None:
    path = _sample(f"{article}.html")
    result = read_html(path.read_bytes(), path.name)
    reference = _html_tree(REFERENCE / f"{article}.expected.html")
    # Paragraphs that are mostly a link ("Lire : …", "Read more") point to other articles:
    # readability keeps them, the reader drops them as related links.
    long_paragraphs = [
        _words(p.text_content())
        for p in reference.iter("p")
        if len(_words(p.text_content())) >= LONG_PARAGRAPH
        and sum(len(a.text_content()) for a in p.iter("a")) < len(p.text_content()) / 2
    ]
    text = _words(result.text)
    assert len(long_paragraphs) >= 10
    missing = [p for p in long_paragraphs if p not in text]
    assert missing == []


@pytest.mark.parametrize("article", ARTICLES)
def test_sample_article_has_no_boilerplate(article: str) -> None:
    path = _sample(f"{article}.html")
    raw = _words(_html_tree(path).text_content())
    reference = _words(_html_tree(REFERENCE / f"{article}.expected.html").text_content())
    text = read_html(path.read_bytes(), path.name).text
    for boilerplate in BOILERPLATE[article]:
        assert boilerplate in raw and boilerplate not in reference  # a fair check
        assert boilerplate not in text


@pytest.mark.parametrize("article", ARTICLES)
def test_sample_article_title_and_url(article: str) -> None:
    path = _sample(f"{article}.html")
    metadata = json.loads((REFERENCE / f"{article}.expected-metadata.json").read_text("utf-8"))
    result = read_html(path.read_bytes(), path.name)
    assert result.title == metadata["title"]
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', path.read_text("utf-8"))
    assert canonical and result.url == canonical.group(1)


def test_sample_article_sections() -> None:
    bbc = _sample("en_bbc_article.html")
    result = read_html(bbc.read_bytes(), bbc.name)
    texts = _segment_texts(result)
    kenya = texts.index("Kenya trip")
    assert result.segments[kenya].section == "Kenya trip"
    assert result.segments[kenya + 1].section == "Kenya trip"
    assert texts[kenya + 1].startswith("Mr Obama was speaking to the BBC at the White House")
    assert result.segments[0].section is None


@pytest.mark.parametrize(
    "name", sorted(p.name for p in HTML.glob("*.html")) if HTML.is_dir() else ["-"]
)
def test_every_html_sample_reads_or_raises_ingest_error(name: str) -> None:
    path = _sample(name)
    try:
        result = read_html(path.read_bytes(), name)
    except IngestError as error:
        assert str(error).startswith(f"{name}: ")
        return
    assert _segment_texts(result) and result.title and result.url


def test_article_fragment_without_html_or_body_is_read() -> None:
    # readability's output (the samples' _reference/*.expected.html) is a <div> of <p>s:
    # trafilatura parsed it as one element and the page was refused as "no main text".
    fragment = '<div class="page">' + PAGE.split("<main>")[1].split("</main>")[0] + "</div>"
    result = read_html(fragment.encode("utf-8"), "article.html")
    assert "the café by the shore counts them" in _words(result.text)
    assert result.title == "Wetland birds in winter"  # its <h1>, not a guess from metadata


@pytest.mark.parametrize("article", ARTICLES)
def test_reference_fragment_is_read(article: str) -> None:
    path = REFERENCE / f"{article}.expected.html"
    if not path.exists():
        pytest.skip("../shared/samples/materials not present")
    result = read_html(path.read_bytes(), path.name)
    long = [
        _words(p.text_content())
        for p in _html_tree(path).iter("p")
        if len(_words(p.text_content())) >= LONG_PARAGRAPH
        and sum(len(a.text_content()) for a in p.iter("a")) < len(p.text_content()) / 2
    ]  # as in test_sample_article_matches_reference_text: link paragraphs are related links
    assert len(long) >= 10
    assert [p for p in long if p not in _words(result.text)] == []
