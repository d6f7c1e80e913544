"""What a format reader returns before metadata is attached."""

from __future__ import annotations

from dataclasses import dataclass

from qa_assistant.types import DocumentKind, Segment


@dataclass(frozen=True)
class ReadResult:
    """Text and provenance read from one file by a format reader."""

    text: str
    segments: tuple[Segment, ...]
    kind: DocumentKind
    doc_format: str
    title: str | None = None
    page_count: int | None = None
    cue_count: int | None = None
    warnings: tuple[str, ...] = ()
