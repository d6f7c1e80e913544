"""Answer cards: escaping, highlights, right-to-left text, links, the not-covered reply (pure)."""

from __future__ import annotations

import re

from qa_assistant.types import Answer, Citation, DocumentInfo, Hit, Passage, Session
from qa_assistant.ui.render import (
    highlighted_html,
    relevance_level,
    render_answer,
    render_hit,
    render_question,
    safe_url,
    text_direction,
    unwrap_lines,
)

SESSION = Session("2022-11-10-anses", "ANSES session", "2022-11-10", None)
SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"


def make_document(
    kind: str = "report", language: str = "en", recording_url: str | None = None
) -> DocumentInfo:
    return DocumentInfo(
        doc_id="d1",
        source="2022-11-10-anses/report_anses.pdf",
        sha256="0" * 64,
        title="Session 1 report",
        kind=kind,  # type: ignore[arg-type]
        doc_format="pdf" if kind == "report" else "vtt",
        language=language,
        session=SESSION,
        recording_url=recording_url,
        page_count=6,
        duration_seconds=None,
        passages=3,
        added_at="2024-01-01T00:00:00",
    )


def make_hit(
    text: str,
    highlights: tuple[tuple[int, int], ...] = (),
    language: str = "en",
    link: str | None = "/corpus/2022-11-10-anses/report_anses.pdf#page=2",
    label: str = "Session 1 report, p. 2",
    score: float = 0.9,
    pages: tuple[int, int] | None = (2, 2),
    start_seconds: float | None = None,
    document: DocumentInfo | None = None,
) -> Hit:
    passage = Passage(
        passage_id="p1",
        doc_id="d1",
        text=text,
        char_start=0,
        char_end=len(text),
        pages=pages,
        start_seconds=start_seconds,
        language=language,
    )
    return Hit(
        passage=passage,
        document=document or make_document(language=language),
        score=score,
        rank=1,
        retriever="hybrid",
        citation=Citation(label, link),
        highlights=highlights,
    )


def test_passage_markup_is_escaped() -> None:
    text = f"Before {SCRIPT} middle {IMAGE} after."
    html = render_hit(make_hit(text, highlights=((7, 7 + len(SCRIPT)),)))
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in html


def test_citation_and_metadata_are_escaped() -> None:
    hit = make_hit("Plain text.", label=f'Title {IMAGE} "quoted"', link='/corpus/a"onmouseover="x')
    html = render_hit(hit)
    assert "<img" not in html
    assert 'a"onmouseover' not in html
    assert "&quot;onmouseover=&quot;x" in html


def test_highlights_become_marks_in_text_order() -> None:
    text = "First sentence. Second sentence. Third sentence."
    html = highlighted_html(text, ((33, 48), (0, 15)))
    assert html == "<mark>First sentence.</mark> Second sentence. <mark>Third sentence.</mark>"


def test_overlapping_and_out_of_range_highlights_are_merged() -> None:
    assert highlighted_html("abcdef", ((2, 5), (0, 3), (9, 99))) == "<mark>abcde</mark>f"
    assert (
        highlighted_html("abcdef", ((-4, 1), (1, 2), (5, 99))) == "<mark>ab</mark>cde<mark>f</mark>"
    )


def test_line_breaks_never_leave_a_blank_line() -> None:
    # A blank line would end the Markdown HTML block and let the rest render as Markdown.
    html = render_answer(Answer("q", True, (make_hit("One.\n\n\n  # Two\r\nThree"),)))
    assert "\n" not in html
    assert "One.<br># Two<br>Three" in html


def test_arabic_passage_is_right_to_left() -> None:
    html = render_hit(make_hit("خطة الألف يوم", language="ar"))
    assert 'lang="ar" dir="rtl"' in html
    assert text_direction("en") == "ltr"
    assert text_direction("ar") == "rtl"


def test_card_shows_language_relevance_and_pdf_link() -> None:
    html = render_hit(make_hit("Text.", score=0.9), min_score=0.8)
    assert '<span class="qa-lang" title="language">EN</span>' in html
    assert "strong match" in html
    assert 'href="/corpus/2022-11-10-anses/report_anses.pdf#page=2"' in html
    assert "Open the PDF at page 2" in html
    assert '<code class="qa-copytext">Session 1 report, p. 2</code>' in html


def test_recording_link_plays_at_the_moment() -> None:
    document = make_document(kind="transcript", recording_url="https://example.org/rec")
    hit = make_hit(
        "Spoken words.",
        link="https://example.org/rec?t=595",
        pages=None,
        start_seconds=595.0,
        document=document,
    )
    html = render_hit(hit)
    assert 'href="https://example.org/rec?t=595"' in html
    assert "Play the recording at 00:09:55" in html


def test_unsafe_links_are_not_clickable() -> None:
    for link in (
        "javascript:alert(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "data:text/html,x",
    ):
        html = render_hit(make_hit("Text.", link=link))
        assert ' href="' not in html
        assert safe_url(link) is None
    assert safe_url("https://example.org/a?t=1") == "https://example.org/a?t=1"


def test_relevance_levels_are_relative_to_the_threshold() -> None:
    assert relevance_level(0.90, 0.80) == 3
    assert relevance_level(0.84, 0.80) == 2
    assert relevance_level(0.81, 0.80) == 1
    assert relevance_level(0.70, 0.35) == 3


def test_not_covered_lists_closest_sessions() -> None:
    sessions = (
        Session("s2", "SINTyS <b>session</b>", "2022-11-23", None),
        Session("s1", "ANSES session", "2022-11-10", "javascript:alert(1)"),
    )
    html = render_answer(Answer("Who won the match?", False, (), "en", suggestions=sessions))
    assert "Not covered in the session materials" in html
    assert "SINTyS &lt;b&gt;session&lt;/b&gt; (2022-11-23)" in html
    assert "ANSES session (2022-11-10)" in html
    assert "javascript" not in html
    assert "qa-card" not in html


def test_answer_lists_cards_in_rank_order() -> None:
    hits = (make_hit("A."), make_hit("B."))
    html = render_answer(Answer("q", True, hits))
    assert html.count('class="qa-card"') == 2
    assert "2 passages" in html
    assert re.search(r"A\..*B\.", html)


def test_soft_line_wraps_join_but_headings_and_sentences_keep_their_breaks() -> None:
    text = (
        "Presence across the country\n"
        "ANSES has offices in practically every city and the staff travel to rural\n"
        "areas with mobile units.\n"
        "–\n"
        "A bullet item."
    )
    joined = unwrap_lines(text)
    assert len(joined) == len(text)  # highlight offsets stay valid
    assert joined == (
        "Presence across the country\n"
        "ANSES has offices in practically every city and the staff travel to rural "
        "areas with mobile units.\n"
        "– "
        "A bullet item."
    )


def test_question_is_escaped_and_keeps_its_direction() -> None:
    html = render_question(f"ما هو {IMAGE}?\n\nsecond line")
    assert html.startswith('<div class="qa-question" dir="auto">')
    assert "<img" not in html
    assert "\n" not in html
