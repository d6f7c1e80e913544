"""From ranked passages to a checkable answer: citations, links, highlights (pure)."""

from __future__ import annotations

import math
from urllib.parse import quote, urlsplit, urlunsplit

from qa_assistant.chunking import sentence_spans
from qa_assistant.types import Citation, DocumentInfo, Passage

HIGHLIGHT_MARGIN = 0.02  # e5 cosines are compressed: sentences within 0.02 of the best count
# Formats of recordings (doc_format is the file suffix); their links play from the cited second.
MEDIA_FORMATS = frozenset("wav mp3 m4a ogg oga opus flac aiff aif mp4 webm mkv mov".split())
VIDEO_FORMATS = frozenset({"mp4", "webm", "mkv", "mov"})
TEXT_FRAGMENT_WORDS = 8
# Where a server serves indexed documents by id: /documents/<id>/file/<name> is the original
# file, /documents/<id>/text the stored text with a passage marked.
DOCUMENT_ROUTE = "/documents"


def whole_seconds(seconds: float) -> int:
    """Seconds as a whole, non-negative number (0 for NaN, infinities and negatives)."""
    return max(0, int(seconds)) if math.isfinite(seconds) else 0


def format_time(seconds: float) -> str:
    """Seconds → 'HH:MM:SS'."""
    total = whole_seconds(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def citation_label(document: DocumentInfo, passage: Passage) -> str:
    """'Report title, p. 12–13' or 'Session title · Speaker · 00:12:34–00:13:10'."""
    if passage.start_seconds is not None:
        session = document.session.title if document.session and document.session.title else ""
        parts = [session or document.title]
        if passage.speaker:
            parts.append(passage.speaker)
        end = passage.end_seconds if passage.end_seconds is not None else passage.start_seconds
        parts.append(f"{format_time(passage.start_seconds)}–{format_time(end)}")
        return " · ".join(parts)
    label = document.title
    if passage.pages and document.doc_format == "pptx":
        first_slide, last_slide = passage.pages
        label += (
            f", slide {first_slide}"
            if first_slide == last_slide
            else f", slides {first_slide}–{last_slide}"
        )
    elif passage.pages:
        first, last = passage.page_labels or (str(passage.pages[0]), str(passage.pages[1]))
        label += f", p. {first}" if first == last else f", pp. {first}–{last}"
    elif passage.section and passage.section != document.title:
        label += f" › {passage.section}"
    if passage.speaker:
        label += f" · {passage.speaker}"
    return label


def recording_link(url: str, seconds: float) -> str:
    """The recording URL opened at `seconds` (`t=` query parameter, replacing any present)."""
    second = whole_seconds(seconds)
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed URL typed by an organiser: still cite, never crash
        return f"{url}{'&' if '?' in url else '?'}t={second}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("t="))
    query = f"{query}&t={second}" if query else f"t={second}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# Formats a browser shows as they are; every other format opens as the app's text view
# (the stored text with the passage marked), so the link lands on the passage.
FILE_VIEW_FORMATS = MEDIA_FORMATS | {"pdf", "image"}


def document_link(document: DocumentInfo, corpus_dir: str, base_url: str | None) -> str:
    """The original file: served by id under `base_url` (a server's document route), else a
    file:// URL of the local file (for command-line users on the same machine)."""
    if base_url is not None:
        name = quote(document.source.replace("\\", "/").rsplit("/", 1)[-1] or "file")
        return f"{base_url.rstrip('/')}/{document.doc_id}/file/{name}"
    source = document.source
    path = source if source.startswith("/") else f"{corpus_dir.rstrip('/')}/{source}"
    return "file://" + quote(path)


def text_view_link(document: DocumentInfo, passage: Passage, base_url: str) -> str:
    """The document's text as the server shows it, scrolled to the passage, which is marked."""
    return (
        f"{base_url.rstrip('/')}/{document.doc_id}/text"
        f"?from={passage.char_start}&to={passage.char_end}#passage"
    )


def citation_link(
    document: DocumentInfo, passage: Passage, corpus_dir: str, base_url: str | None
) -> str:
    """Where a participant checks the passage: the recording at the moment (online, or the
    served media file from that second), the PDF page, the web page at the passage, or the
    document's text at the passage.
    """
    if passage.start_seconds is not None and document.recording_url:
        return recording_link(document.recording_url, passage.start_seconds)
    if document.doc_format == "html" and document.recording_url:  # the page's own URL
        return document.recording_url + text_fragment(passage.text)
    if base_url is not None and document.doc_format not in FILE_VIEW_FORMATS:
        return text_view_link(document, passage, base_url)
    link = document_link(document, corpus_dir, base_url)
    if passage.start_seconds is not None and document.doc_format in MEDIA_FORMATS:
        # A media fragment: the browser plays the file from that second.
        return f"{link}#t={whole_seconds(passage.start_seconds)}"
    if passage.pages and document.doc_format == "pdf":
        return f"{link}#page={passage.pages[0]}"
    return link


def text_fragment(text: str, words: int = TEXT_FRAGMENT_WORDS) -> str:
    """A `#:~:text=` fragment: browsers scroll to and mark the passage's first words."""
    first = " ".join(text.split()[:words])
    return f"#:~:text={quote(first, safe='')}" if first else ""


def make_citation(
    document: DocumentInfo, passage: Passage, corpus_dir: str, base_url: str | None
) -> Citation:
    """Label plus link for one hit."""
    return Citation(
        label=citation_label(document, passage),
        link=citation_link(document, passage, corpus_dir, base_url),
    )


def passage_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence ranges of a passage, the units that get highlighted."""
    return sentence_spans(text)


def sentence_texts(
    passages: list[Passage], spans: list[list[tuple[int, int]]] | None = None
) -> list[str]:
    """The sentences of the passages, in order: the units scored for highlighting."""
    if spans is None:
        spans = [passage_sentences(p.text) for p in passages]
    return [p.text[s:e] for p, ss in zip(passages, spans, strict=True) for s, e in ss]


def choose_highlights(
    spans: list[tuple[int, int]], scores: list[float], limit: int
) -> tuple[tuple[int, int], ...]:
    """The best-scoring sentences (at most `limit`, within a margin of the best), in text order."""
    if not spans or limit <= 0:
        return ()
    order = sorted(range(len(spans)), key=lambda i: (-scores[i], i))
    best = scores[order[0]]
    chosen = [i for i in order[:limit] if scores[i] >= best - HIGHLIGHT_MARGIN]
    return tuple(spans[i] for i in sorted(chosen))
