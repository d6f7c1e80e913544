"""From ranked passages to a checkable answer: citations, links, highlights (pure)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from qa_assistant.chunking import sentence_spans
from qa_assistant.types import Citation, DocumentInfo, Passage

HIGHLIGHT_MARGIN = 0.02  # e5 cosines are compressed: sentences within 0.02 of the best count
# Formats of recordings (doc_format is the file suffix); their links play from the cited second.
MEDIA_FORMATS = frozenset("wav mp3 m4a ogg oga opus flac aiff aif mp4 webm mkv mov".split())
VIDEO_FORMATS = frozenset({"mp4", "webm", "mkv", "mov"})
TEXT_FRAGMENT_WORDS = 8


def format_time(seconds: float) -> str:
    """Seconds → 'HH:MM:SS'."""
    total = int(seconds)
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
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("t="))
    query = f"{query}&t={int(seconds)}" if query else f"t={int(seconds)}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def document_link(source: str, corpus_dir: str, base_url: str | None) -> str:
    """Link to a source file: under `base_url` (the UI's file route) when the file lies in the
    corpus folder (its source is then relative), else a file:// URL."""
    if base_url is not None and not source.startswith("/"):
        return base_url.rstrip("/") + "/" + quote(source)
    path = source if source.startswith("/") else f"{corpus_dir.rstrip('/')}/{source}"
    return "file://" + quote(path)


def citation_link(
    document: DocumentInfo, passage: Passage, corpus_dir: str, base_url: str | None
) -> str:
    """Where a participant checks the passage: the recording at the moment (online, or the
    served media file from that second), the PDF page, the web page at the passage, or the file.
    """
    if passage.start_seconds is not None and document.recording_url:
        return recording_link(document.recording_url, passage.start_seconds)
    if document.doc_format == "html" and document.recording_url:  # the page's own URL
        return document.recording_url + text_fragment(passage.text)
    link = document_link(document.source, corpus_dir, base_url)
    if passage.start_seconds is not None and document.doc_format in MEDIA_FORMATS:
        return f"{link}#t={int(passage.start_seconds)}"  # media fragment: plays from there
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
