"""Web page reader: the main text only (trafilatura), headings as sections, no network access.

trafilatura removes menus, footers, cookie banners and related links and returns the article as
XML (<head>, <p>, <list>, <table>, <quote>), which keeps the headings: each starts a section.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.textfile import decode_text
from qa_assistant.types import Segment

BLOCK_SEPARATOR = "\n\n"
CELL_SEPARATOR = " | "
SECTION_SEPARATOR = " › "  # as read_markdown
CHARSET_SNIFF_BYTES = 4096  # the HTML standard looks for <meta charset> in the first 1024 bytes
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
# Labels that mean windows-1252 in browsers (WHATWG Encoding Standard).
_WINDOWS_1252 = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"})
_HEADING_LEVEL = re.compile(r"^h([1-6])$")
_SPACES = re.compile(r"[ \t\u00a0]+")
_DOCUMENT_TAG = re.compile(r"<(?:html|body)[\s>]", re.IGNORECASE)


def read_html(data: bytes, name: str) -> ReadResult:
    """Read a saved web page: main text without boilerplate, one segment per block."""
    import trafilatura
    from lxml import etree

    text, encoding_warning = _decode(data, name)
    fragment = not _DOCUMENT_TAG.search(text)
    if fragment:
        # A fragment (an article's <div> or <p>s, as readability exports it): trafilatura
        # parses it as one element and finds nothing, so it is given a document to parse.
        text = f"<html><body>{text}</body></html>"
    try:
        # No `url` argument and no fetch call: trafilatura only parses the string it is given.
        # Precision drops link-only lines (related articles, "Read more") and bylines; short
        # pages can fall under its thresholds, so the balanced and recall modes are fallbacks.
        xml = None
        for precision, recall in ((True, False), (False, False), (False, True)):
            xml = trafilatura.extract(
                text,
                output_format="xml",
                include_tables=True,
                include_comments=False,
                include_images=False,
                with_metadata=True,
                favor_precision=precision,
                favor_recall=recall,
            )
            if xml:
                break
        root = etree.fromstring(xml.encode("utf-8")) if xml else None
    except Exception as exc:  # lxml and trafilatura raise many kinds of errors on bad markup
        raise IngestError(
            f"{name}: not a readable web page ({str(exc) or exc.__class__.__name__}); "
            "save the page again from the browser (Save as… Web page, HTML only)"
        ) from exc
    main = root.find("main") if root is not None else None
    blocks = list(_blocks(main)) if main is not None else []
    if not blocks:
        raise IngestError(
            f"{name}: no main text found in the web page (a menu, login or cookie page?); "
            "save the article page itself, or copy its text into a .txt file"
        )
    # A fragment has no <title>: trafilatura would name it after a heading inside the text.
    title = _clean(root.get("title") or "") if root is not None and not fragment else ""
    lone_title = _lone_h1(blocks)
    path: list[str] = []
    section: str | None = None
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for index, (level, block) in enumerate(blocks):
        if level:
            path = _nest(path, level, "" if index == lone_title else block.replace("\n", " "))
            section = SECTION_SEPARATOR.join(p for p in path if p) or None
        if parts:
            offset += len(BLOCK_SEPARATOR)
        end = offset + len(block)
        segments.append(Segment(char_start=offset, char_end=end, section=section))
        parts.append(block)
        offset = end
    url = _canonical_url(text) or _web_url(root.get("url") if root is not None else None)
    return ReadResult(
        text=BLOCK_SEPARATOR.join(parts),
        segments=tuple(segments),
        kind="report",
        doc_format="html",
        title=title or (blocks[lone_title][1] if lone_title is not None else None),
        warnings=(encoding_warning,) if encoding_warning else (),
        url=url,
    )


def _decode(data: bytes, name: str) -> tuple[str, str | None]:
    """Text of the page: BOM, else UTF-8, else the declared charset, else a guess."""
    declared = _declared_charset(data)
    if declared:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                return data.decode(declared), None
            except UnicodeDecodeError:
                pass  # the declaration is wrong: guess below
    return decode_text(data, name)


def _declared_charset(data: bytes) -> str | None:
    """The codec named by <meta charset> or http-equiv Content-Type, when Python knows it."""
    match = _META_CHARSET.search(data[:CHARSET_SNIFF_BYTES])
    if not match:
        return None
    label = match.group(1).decode("ascii", "ignore").lower()
    label = "cp1252" if label in _WINDOWS_1252 else label
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _blocks(main: Any) -> Iterator[tuple[int, str]]:
    """(heading level or 0, text) for each block of trafilatura's <main>."""
    for element in main:
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        if element.tag == "head":
            rend = _HEADING_LEVEL.match(element.get("rend") or "")
            level, text = (int(rend.group(1)) if rend else 2), _inline_text(element)
        elif element.tag == "list":
            level, text = 0, "\n".join(_inline_text(item) for item in element.iter("item"))
        elif element.tag == "table":
            level, text = 0, "\n".join(_table_rows(element))
        else:  # p, quote, code and anything newer
            level, text = 0, _inline_text(element)
        text = _clean(text)
        if text:
            yield level, text


def _inline_text(element: Any) -> str:
    """Text of an element with <lb/> as line breaks; nested lists are left to their items."""
    pieces = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            pieces.append("\n")
        elif child.tag not in ("list", "item"):
            pieces.append(_inline_text(child))
        pieces.append(child.tail or "")
    return "".join(pieces)


def _table_rows(table: Any) -> Iterator[str]:
    """One line per table row, cells joined."""
    for row in table.iter("row"):
        cells = [_clean(_inline_text(cell)).replace("\n", " ") for cell in row.iterfind("cell")]
        if any(cells):
            yield CELL_SEPARATOR.join(cell for cell in cells if cell)


def _lone_h1(blocks: list[tuple[int, str]]) -> int | None:
    """Index of the page's only <h1>: the article title, not a section (as read_markdown)."""
    top = [index for index, (level, _) in enumerate(blocks) if level == 1]
    return top[0] if len(top) == 1 else None


def _nest(path: list[str], level: int, name: str) -> list[str]:
    """The heading path after a heading of `level` (1-based); skipped levels stay empty."""
    kept = path[: level - 1]
    return [*kept, *[""] * (level - 1 - len(kept)), name]


def _canonical_url(text: str) -> str | None:
    """The page's own address from <link rel=canonical> or <meta property=og:url>."""
    import lxml.html

    try:
        page = lxml.html.document_fromstring(text.encode("utf-8"))
    except Exception:  # an address is a bonus; the text was already extracted
        return None
    for link in page.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel and (url := _web_url(link.get("href"))):
            return url
    for meta in page.iter("meta"):
        kind = (meta.get("property") or meta.get("name") or "").lower()
        if kind == "og:url" and (url := _web_url(meta.get("content"))):
            return url
    return None


def _web_url(value: str | None) -> str | None:
    """`value` when it is an absolute http(s) address."""
    value = (value or "").strip()
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _clean(text: str) -> str:
    """Runs of spaces collapsed, lines trimmed, no blank lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)
