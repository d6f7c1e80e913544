"""Split a Document into Passages: sentence-aware windows that keep provenance (pure)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from qa_assistant.language import detect_language
from qa_assistant.types import Document, Passage, Segment

PASSAGE_ID_CHARS = 16
# A sentence ends at . ! ? (Latin), ؟ (Arabic) or … followed by optional closing marks and
# whitespace, or at a blank line. Single newlines are line wraps in PDFs, not boundaries.
_SENTENCE_END = re.compile(r"(?:[.!?؟…]+[\"'”’»)\]]*)(?=\s)|\n\s*\n")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr sra dra st no nº vol pp p e.g i.e etc cf vs mme mlle m art inc".split()
)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        stop = match.end()
        if match.group().strip(".") == "" and _ends_with_abbreviation(text, cursor, match.start()):
            continue
        spans.extend(_trim(text, cursor, stop))
        cursor = stop
    spans.extend(_trim(text, cursor, end))
    return spans


def _ends_with_abbreviation(text: str, start: int, dot: int) -> bool:
    word = re.search(r"([\w.]+)$", text[start:dot])
    if word is None:
        return False
    token = word.group(1).lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _trim(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if end > start else []


def _split_long(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut a span longer than max_chars at whitespace (or hard, when there is none)."""
    while end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        cut = cut if cut > start else start + max_chars
        yield from _trim(text, start, cut)
        start = cut
    yield from _trim(text, start, end)


def blocks(doc: Document) -> list[tuple[Segment, ...]]:
    """Runs of consecutive segments with the same speaker and section: no passage crosses one."""
    runs: list[list[Segment]] = []
    for segment in doc.segments:
        if runs and (runs[-1][-1].speaker, runs[-1][-1].section) == (
            segment.speaker,
            segment.section,
        ):
            runs[-1].append(segment)
        else:
            runs.append([segment])
    return [tuple(run) for run in runs]


def windows(
    spans: list[tuple[int, int]], max_chars: int, overlap: int
) -> Iterator[tuple[int, int]]:
    """Greedy windows of whole sentences up to max_chars, repeating up to `overlap` chars."""
    index = 0
    while index < len(spans):
        stop = index + 1
        while stop < len(spans) and spans[stop][1] - spans[index][0] <= max_chars:
            stop += 1
        yield spans[index][0], spans[stop - 1][1]
        if stop >= len(spans):
            return
        window_end = spans[stop - 1][1]
        next_index = stop
        while next_index - 1 > index and window_end - spans[next_index - 1][0] <= overlap:
            next_index -= 1
        index = next_index


def passage_id(doc_id: str, start: int, end: int) -> str:
    """Stable id: the same document and range always give the same id."""
    return hashlib.sha256(f"{doc_id}:{start}:{end}".encode()).hexdigest()[:PASSAGE_ID_CHARS]


@dataclass(frozen=True)
class Layout:
    """Passage sizes in characters: reports and slides, and transcripts.

    A conversation says less per character than a report (turn-taking, hesitations, "yes,
    exactly") and one topic runs over several turns, so transcripts are read in longer
    passages that cross speaker turns, without overlap (docs/benchmarks.md, QMSum).
    """

    chars: int = 700
    overlap: int = 150
    transcript_chars: int = 1200
    transcript_overlap: int = 0


def split_document(doc: Document, layout: Layout) -> list[Passage]:
    """Cut `doc` into passages of about the layout's size, never across a section.

    Reports and slides also break at every speaker change. Transcripts read turns together
    (each turn opens with its speaker's name, so the text says who speaks), never across a
    change of language.
    """
    if doc.kind == "transcript":
        return _split_transcript(doc, layout.transcript_chars, layout.transcript_overlap)
    passages: list[Passage] = []
    for run in blocks(doc):
        spans = _spans(doc, run[0].char_start, run[-1].char_end, layout.chars)
        for start, end in windows(spans, layout.chars, layout.overlap):
            passages.append(_make_passage(doc, run, start, end, doc.language))
    return passages


def _spans(doc: Document, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    return [
        piece
        for s, e in sentence_spans(doc.text, start, end)
        for piece in _split_long(doc.text, s, e, max_chars)
    ]


def _split_transcript(doc: Document, max_chars: int, overlap: int) -> list[Passage]:
    # Q&A switches language between turns: each turn's language is detected, and a passage
    # never mixes languages (nor sections).
    stretches: list[tuple[str, list[tuple[Segment, ...]]]] = []
    for turn in blocks(doc):
        text = doc.text[turn[0].char_start : turn[-1].char_end]
        language = detect_language(text, default=doc.language)
        if (
            stretches
            and stretches[-1][0] == language
            and stretches[-1][1][-1][-1].section == turn[0].section
        ):
            stretches[-1][1].append(turn)
        else:
            stretches.append((language, [turn]))
    passages: list[Passage] = []
    for language, turns in stretches:
        spans = [
            span
            for turn in turns
            for span in _spans(doc, turn[0].char_start, turn[-1].char_end, max_chars)
        ]
        segments = tuple(s for turn in turns for s in turn)
        for start, end in windows(spans, max_chars, overlap):
            passages.append(_make_passage(doc, segments, start, end, language))
    return passages


def _main_speaker(segments: list[Segment], start: int, end: int) -> str | None:
    """The speaker with most characters in [start, end) (the first one on a tie)."""
    chars: dict[str | None, int] = {}
    for s in segments:
        chars[s.speaker] = chars.get(s.speaker, 0) + min(end, s.char_end) - max(start, s.char_start)
    named = {k: v for k, v in chars.items() if k is not None}
    return max(named, key=lambda k: named[k]) if named else None


def _make_passage(
    doc: Document, run: tuple[Segment, ...], start: int, end: int, language: str
) -> Passage:
    covered = [s for s in run if s.char_start < end and start < s.char_end]
    pages = [s.page for s in covered if s.page is not None]
    labels = [s.page_label or str(s.page) for s in covered if s.page is not None]
    starts = [s.start_seconds for s in covered if s.start_seconds is not None]
    ends = [s.end_seconds for s in covered if s.end_seconds is not None]
    return Passage(
        passage_id=passage_id(doc.doc_id, start, end),
        doc_id=doc.doc_id,
        text=doc.text[start:end],
        char_start=start,
        char_end=end,
        pages=(min(pages), max(pages)) if pages else None,
        page_labels=(labels[0], labels[-1]) if labels else None,
        start_seconds=min(starts) if starts else None,
        end_seconds=max(ends) if ends else None,
        speaker=_main_speaker(covered, start, end) if covered else run[0].speaker,
        section=(covered or list(run))[0].section,
        language=language,
        ocr=any(s.ocr for s in covered),
    )


def embedding_text(title: str, passage: Passage) -> str:
    """The text embedded for a passage: a short context line, then the passage itself.

    A passage alone often lacks what it is about ("the plan", "he said"); the document title
    and section or speaker give the model that context. The stored and shown text stays verbatim.
    """
    context = " · ".join(x for x in (title, passage.section, passage.speaker) if x)
    return f"{context}\n{passage.text}" if context else passage.text
