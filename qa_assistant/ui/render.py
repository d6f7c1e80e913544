"""Answers → HTML cards for the chat (pure; no gradio).

Every piece of text from a document, a citation or the organiser's metadata passes through
`html.escape` here, so a passage containing `<script>` shows as text. Gradio's own sanitizer
stays on as a second line of defence but nothing relies on it.

The chat renders replies as Markdown, where an HTML block ends at the first blank line; the
markup below therefore never contains a blank line, and passage line breaks become `<br>`.
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urlsplit

from qa_assistant.answering import MEDIA_FORMATS, VIDEO_FORMATS, format_time
from qa_assistant.types import Answer, Hit, Session

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "yi"})
LINE_BREAKS = re.compile(r"[ \t]*(?:\r?\n[ \t]*)+")
SHORT_LINE_CHARS = 50  # shorter lines are headings or paragraph ends, not wrapped lines
SENTENCE_ENDS = (".", "!", "?", ":", ";", "…", "؟", "。")
BULLETS = frozenset({"-", "–", "—", "•", "*", "·"})
DEFAULT_MIN_SCORE = 0.5  # used when neither the answer nor the caller gives a floor
# Relevance levels: the share of the distance from the floor to a perfect cosine of 1. The floor
# is the answer's `Coverage.floor`: the cosine everyday questions reach in this library (in
# the question's language), or the fixed threshold. e5 cosines crowd just above it (~0.78), so
# the cut-offs are relative, not absolute.
STRONG_MATCH, GOOD_MATCH = 0.35, 0.15


def text_direction(language: str | None) -> str:
    """'rtl' for right-to-left scripts, else 'ltr'."""
    return "rtl" if (language or "").split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def relevance_level(score: float, min_score: float = DEFAULT_MIN_SCORE) -> int:
    """1 (weak), 2 (good) or 3 (strong), from a cosine and the floor of the relevance scale."""
    span = max(1.0 - min_score, 1e-6)
    share = (score - min_score) / span
    if share >= STRONG_MATCH:
        return 3
    return 2 if share >= GOOD_MATCH else 1


RELEVANCE_WORDS = {3: "strong match", 2: "good match", 1: "weak match"}


def unwrap_lines(text: str) -> str:
    """The text with soft line wraps (PDF lines, wrapped captions) turned into spaces.

    A line break stays where a line ends a sentence or is short (a heading, the last line of
    a paragraph); a lone bullet joins its item. The length is unchanged, so highlight offsets
    still apply.
    """
    lines = text.split("\n")
    out = []
    for number, line in enumerate(lines[:-1]):
        stripped = line.strip()
        following = lines[number + 1].strip()
        soft = (
            bool(stripped)
            and bool(following)
            and (
                stripped in BULLETS
                or (len(stripped) >= SHORT_LINE_CHARS and not stripped.endswith(SENTENCE_ENDS))
            )
        )
        out.append(line + (" " if soft else "\n"))
    out.append(lines[-1])
    return "".join(out)


def highlighted_html(text: str, highlights: tuple[tuple[int, int], ...]) -> str:
    """Passage text, escaped, with the highlighted character ranges wrapped in <mark>."""
    text = unwrap_lines(text)
    pieces: list[str] = []
    position = 0
    for start, end in merge_ranges(highlights, len(text)):
        pieces.append(_escape_text(text[position:start]))
        pieces.append(f"<mark>{_escape_text(text[start:end])}</mark>")
        position = end
    pieces.append(_escape_text(text[position:]))
    return "".join(pieces)


def merge_ranges(ranges: tuple[tuple[int, int], ...], length: int) -> list[tuple[int, int]]:
    """Sorted, clipped to [0, length], overlapping or touching ranges joined, empty ones dropped."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        start, end = max(start, 0), min(end, length)
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _escape_text(text: str) -> str:
    # Blank lines would end the Markdown HTML block, so each run of line breaks becomes one <br>.
    return LINE_BREAKS.sub("<br>", escape(text))


def safe_url(url: str | None) -> str | None:
    """The URL if a browser may open it from a card (http, https or same-site path), else None.

    Organisers type recording URLs; a `javascript:` URL must never become a link.
    """
    if not url:
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[bad": not a link a browser could open
        return None
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    return None


FORMAT_LABELS = {"pptx": "slides", "docx": "report", "html": "web page", "image": "scan"}


def source_kind(doc_format: str, kind: str) -> str:
    """What a document is, in a participant's words: recording, slides, web page, scan…"""
    if doc_format in MEDIA_FORMATS:
        return "recording"
    return FORMAT_LABELS.get(doc_format, kind)


def kind_label(hit: Hit) -> str:
    """What a hit's source is; a PDF page read by OCR is a scan."""
    if hit.passage.ocr and hit.document.doc_format == "pdf":
        return "scan"
    return source_kind(hit.document.doc_format, hit.document.kind)


def link_text(hit: Hit) -> str:
    """What following the citation link opens: the recording, a PDF page or the file."""
    passage, document = hit.passage, hit.document
    if passage.start_seconds is not None and (
        document.recording_url or document.doc_format in MEDIA_FORMATS
    ):
        return f"▶ Play the recording at {format_time(passage.start_seconds)}"
    if passage.pages and document.doc_format == "pptx":
        return f"Open the deck (slide {passage.pages[0]})"
    if passage.pages and document.doc_format == "pdf":
        return f"Open the PDF at page {passage.pages[0]}"
    if document.doc_format == "html" and document.recording_url:
        return "Open the web page at the passage"
    if document.kind == "transcript":
        return "Open the transcript"
    return "Open the document"


VOTE_BUTTONS = (
    '<span class="qa-votes">'
    '<button class="qa-vote qa-up" type="button" title="This passage answers my question">👍'
    "</button>"
    '<button class="qa-vote qa-down" type="button" title="This passage does not answer it">👎'
    "</button></span>"
)


def render_hit(hit: Hit, min_score: float = DEFAULT_MIN_SCORE, votable: bool = False) -> str:
    """One passage as a card: citation, language, relevance, text with highlights, link."""
    passage, document = hit.passage, hit.document
    language = passage.language or document.language or "und"
    level = relevance_level(hit.score, min_score)
    label = escape(hit.citation.label)
    url = safe_url(hit.citation.link)
    title = label
    if url is not None:
        title = f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{label}</a>'
    chips = []
    if language != "und":
        chips.append(f'<span class="qa-lang" title="language">{escape(language.upper())}</span>')
    chips.append(f'<span class="qa-kind">{escape(kind_label(hit))}</span>')
    if passage.ocr:
        chips.append(
            '<span class="qa-ocr" title="text read from a scan by OCR: it may hold '
            'recognition errors; check the page">OCR</span>'
        )
    chips.append(
        f'<span class="qa-rel qa-rel-{level}" title="cosine similarity {hit.score:.3f}">'
        f"{'●' * level}{'○' * (3 - level)} {RELEVANCE_WORDS[level]} · {hit.score:.2f}</span>"
    )
    head = (
        f'<div class="qa-card-head"><span class="qa-rank">{hit.rank}</span>'
        f'<span class="qa-cite">{title}</span></div>'
        f'<div class="qa-meta">{"".join(chips)}</div>'
    )
    body = (
        f'<div class="qa-text" lang="{escape(language)}" dir="{text_direction(language)}">'
        f"{highlighted_html(passage.text, hit.highlights)}</div>"
    )
    foot = ['<div class="qa-foot">']
    player = media_player(hit, url)
    if player:
        foot.append(player)
    if url is not None:
        foot.append(
            f'<a class="qa-open" href="{escape(url)}" target="_blank" '
            f'rel="noopener noreferrer">{escape(link_text(hit))}</a>'
        )
    elif hit.citation.link:  # a file outside the corpus folder: shown, not linked
        foot.append(f'<span class="qa-path">{escape(hit.citation.link)}</span>')
    # The Copy button's script copies the label plus the absolute URL of the link above
    # (gradio's sanitizer drops data-* attributes, so it reads the card itself).
    foot.append(
        f'<span class="qa-copy-wrap">Cite: <code class="qa-copytext">{label}</code>'
        '<button class="qa-copy" type="button" title="Copy the citation and link">Copy</button>'
        "</span>"
    )
    if votable:  # 👍/👎 reach the organisers' Questions view (ui/style.py sends them)
        foot.append(VOTE_BUTTONS)
    foot.append("</div>")
    return f'<div class="qa-card">{head}{body}{"".join(foot)}</div>'


def media_player(hit: Hit, url: str | None) -> str:
    """An inline player for a recording served by the app, starting at the cited second.

    Only for the app's own files (a same-site path): a recording online opens by its link.
    """
    document, passage = hit.document, hit.passage
    if url is None or not url.startswith("/") or document.doc_format not in MEDIA_FORMATS:
        return ""
    if passage.start_seconds is None:
        return ""
    tag = "video" if document.doc_format in VIDEO_FORMATS else "audio"
    return f'<{tag} class="qa-player" controls preload="metadata" src="{escape(url)}"></{tag}>'


def render_not_covered(answer: Answer) -> str:
    """The reply for a question the materials do not cover, with the closest sessions."""
    parts = [
        '<div class="qa-notcovered"><p><strong>Not covered in the session materials.</strong> '
        "No passage in the indexed documents answers this question closely enough, so "
        "nothing is quoted. Try rephrasing, or remove the filters.</p>"
    ]
    if answer.suggestions:
        items = "".join(f"<li>{_session_html(s)}</li>" for s in answer.suggestions)
        parts.append(f"<p>Closest sessions:</p><ul>{items}</ul>")
    parts.append("</div>")
    return "".join(parts)


def _session_html(session: Session) -> str:
    name = escape(session.title or session.session_id)
    date = f" ({escape(session.date)})" if session.date else ""
    url = safe_url(session.recording_url)
    if url is not None:
        name = f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{name}</a>'
    return name + date


def render_answer(answer: Answer, min_score: float = DEFAULT_MIN_SCORE) -> str:
    """A whole reply: an intro line and one card per hit, or the not-covered message.

    Relevance marks count from the answer's coverage floor, else from `min_score`.
    """
    if answer.coverage is not None:
        min_score = answer.coverage.floor
    if not answer.answerable or not answer.hits:
        return f'<div class="qa-answer">{render_not_covered(answer)}</div>'
    count = len(answer.hits)
    intro = (
        f'<p class="qa-intro">{count} passage{"s" if count != 1 else ""} from the session '
        "materials, best first. Highlighted sentences are the closest to your question.</p>"
    )
    votable = answer.ask_id is not None
    cards = "".join(render_hit(hit, min_score, votable) for hit in answer.hits)
    # The answer's log id, for the vote buttons' script (gradio drops data-* attributes).
    ask_id = (
        f'<code class="qa-askid">{escape(answer.ask_id)}</code>'
        if answer.ask_id is not None
        else ""
    )
    return f'<div class="qa-answer">{intro}{cards}{ask_id}</div>'


def render_question(question: str) -> str:
    """The participant's question as shown in the chat: escaped, in its own direction."""
    text = LINE_BREAKS.sub("<br>", escape(question.strip()))
    return f'<div class="qa-question" dir="auto">{text}</div>'


def render_error(message: str) -> str:
    """A problem reported in the chat (no index yet, bad filter…)."""
    return f'<div class="qa-answer qa-error"><p>⚠ {escape(message)}</p></div>'
