"""Plain text and Markdown reader: Markdown headings become section titles.

A `.txt` file whose lines mostly start with `Name: ` is read as a transcript without times,
one segment per speaker line (the layout of many meeting-minute exports).
"""

from __future__ import annotations

import re

from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.transcript import looks_like_name
from qa_assistant.types import Segment

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SPEAKER_LINE = re.compile(r"^(?P<name>[^\W\d_][\w.'’\- ]{0,40}?)\s*:\s+\S")
TRANSCRIPT_LINE_SHARE = 0.6
MIN_TRANSCRIPT_LINES = 4


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    offset = 0
    for line in text.split("\n"):
        spans.append((offset, offset + len(line)))
        offset += len(line) + 1
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def read_markdown(text: str) -> ReadResult:
    """Sections between headings become segments; the section path is kept on each."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    segments: list[Segment] = []
    path: list[str] = []
    title = None
    section_start = 0
    section_name: str | None = None

    def close(end: int) -> None:
        start, stop = _trimmed(text, section_start, end)
        if stop > start:
            segments.append(Segment(char_start=start, char_end=stop, section=section_name))

    for start, end in _line_spans(text):
        heading = _HEADING.match(text[start:end])
        if not heading:
            continue
        close(start)
        level, name = len(heading.group(1)), heading.group(2).strip()
        if level == 1 and title is None:
            title = name
            name = ""  # the document title is not a section of itself
        path = [*path[: level - 1], name]
        section_name = " › ".join(p for p in path if p) or None
        section_start = start
    close(len(text))
    return ReadResult(
        text=text, segments=tuple(segments), kind="report", doc_format="md", title=title
    )


def _speaker_match(line: str) -> re.Match[str] | None:
    match = _SPEAKER_LINE.match(line)
    return match if match and looks_like_name(match.group("name")) else None


def read_plain_text(text: str) -> ReadResult:
    """Plain text: speaker lines make a transcript; otherwise one segment per paragraph."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    spans = [(s, e) for s, e in _line_spans(text) if text[s:e].strip()]
    speaker_lines = [(s, e, _speaker_match(text[s:e])) for s, e in spans]
    named = sum(1 for *_, m in speaker_lines if m)
    if len(spans) >= MIN_TRANSCRIPT_LINES and named / len(spans) >= TRANSCRIPT_LINE_SHARE:
        segments = []
        speaker = None
        for start, end, match in speaker_lines:
            if match:
                speaker = match.group("name").strip()
            segments.append(Segment(char_start=start, char_end=end, speaker=speaker))
        return ReadResult(
            text=text,
            segments=tuple(segments),
            kind="transcript",
            doc_format="txt",
            cue_count=len(segments),
        )
    segments = []
    for match in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text):
        start, end = _trimmed(text, match.start(), match.end())
        if end > start:
            segments.append(Segment(char_start=start, char_end=end))
    return ReadResult(text=text, segments=tuple(segments), kind="report", doc_format="txt")
