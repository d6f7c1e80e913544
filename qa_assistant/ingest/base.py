"""What a format reader returns before metadata is attached, and what it is told."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa_assistant.types import DocumentKind, Segment

LIBRARY_LANGUAGES = ("en", "fr", "es", "ar")  # the series' languages (ISO 639-1)

# Long reads (transcription, OCR) report progress: (share done 0..1, message).
ReadProgress = Callable[[float, str], None]


def no_read_progress(share: float, message: str) -> None:
    """A ReadProgress that reports nothing."""
    return None


@dataclass(frozen=True)
class ReadOptions:
    """What a reader needs beyond the file: languages, model cache, limits."""

    language: str | None = None  # set by the organiser (ISO 639-1); None = detect
    languages: tuple[str, ...] = LIBRARY_LANGUAGES  # candidates for detection, OCR packs
    cache_dir: Path | None = None  # where joined model files live (Whisper)
    threads: int = 2
    ocr: bool = True  # OCR image-only PDF pages and scan images with Tesseract
    timeout_seconds: float = 1800.0  # per file, for OCR and transcription


@dataclass(frozen=True)
class ReadResult:
    """Text and provenance read from one file by a format reader.

    `notes` are facts worth showing the organiser (language heard, real-time factor);
    `warnings` are problems (pages not read, a missing OCR engine). `url` is a page's own
    address when the file states it (an HTML page's canonical URL).
    """

    text: str
    segments: tuple[Segment, ...]
    kind: DocumentKind
    doc_format: str
    title: str | None = None
    page_count: int | None = None
    cue_count: int | None = None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    url: str | None = None
    language: str | None = None  # when the reader knows it (speech recognition)
