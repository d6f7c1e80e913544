"""File → Document. The only code that opens source files."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

from qa_assistant.errors import IngestError
from qa_assistant.ingest.audio import (
    DEFAULT_CACHE_DIR,
    MEDIA_SUFFIXES,
    TRANSCRIBER_ID,
    transcribe_recording,
)
from qa_assistant.ingest.base import ReadOptions, ReadProgress, ReadResult, no_read_progress
from qa_assistant.ingest.docx import read_docx
from qa_assistant.ingest.html import read_html
from qa_assistant.ingest.ocr import read_image
from qa_assistant.ingest.pdf import read_pdf
from qa_assistant.ingest.pptx import read_pptx
from qa_assistant.ingest.text import read_markdown, read_plain_text
from qa_assistant.ingest.textfile import decode_text
from qa_assistant.ingest.transcript import read_transcript
from qa_assistant.ingest.transcript_cache import cache_key, load_transcript, reused, save_transcript
from qa_assistant.language import detect_language
from qa_assistant.types import Document, DocumentMeta

TEXT_SUFFIXES = (".vtt", ".srt", ".sbv", ".txt", ".md", ".markdown")
OFFICE_SUFFIXES = (".pptx", ".docx")
HTML_SUFFIXES = (".html", ".htm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
SUPPORTED_SUFFIXES = (
    ".pdf",
    *TEXT_SUFFIXES,
    *OFFICE_SUFFIXES,
    *HTML_SUFFIXES,
    *IMAGE_SUFFIXES,
    *MEDIA_SUFFIXES,
)
DOC_ID_CHARS = 16
MEDIA_SIZE_FACTOR = 20  # recordings are far larger per word than documents
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(path: Path | str) -> str:
    """A file name safe to print: control characters (newlines, escapes) shown as `?`."""
    return _CONTROL.sub("?", str(path))


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks ("" when unreadable: the reader reports why)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def is_supported(path: Path) -> bool:
    """True when a reader exists for the file's suffix."""
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def unsupported_reason(suffix: str) -> str:
    """Why a file is not read, and what to do."""
    return (
        f"unsupported file type {suffix or '(none)'}: save or convert it as one of "
        f"{', '.join(SUPPORTED_SUFFIXES)} and add it again"
    )


def is_media(path: Path | str) -> bool:
    """True for recordings (audio or video), which are transcribed when added."""
    return Path(path).suffix.lower() in MEDIA_SUFFIXES


def read_document(
    path: Path,
    meta: DocumentMeta,
    source: str,
    max_bytes: int,
    options: ReadOptions | None = None,
    progress: ReadProgress = no_read_progress,
    sha256: str | None = None,
) -> Document:
    """Read one file into a Document; raise IngestError naming the file and the reason.

    Args:
        source: how the document is named in the index (path relative to the corpus when
            possible); also used in messages.
        max_bytes: larger files are refused before being read (recordings: 20 times more).
        options: languages, OCR and time limits; `meta.language` overrides its language.
        progress: told the share done of long reads (transcription, OCR).
        sha256: the file's hash when the caller has it (a recording is not read twice).
    """
    name = display_name(source)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(f"{name}: {unsupported_reason(suffix)}")
    options = replace(options or ReadOptions(), language=meta.language)
    limit = max_bytes * MEDIA_SIZE_FACTOR if suffix in MEDIA_SUFFIXES else max_bytes
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    if size > limit:
        raise IngestError(
            f"{name}: {size / 1e6:.1f} MB is over the {limit / 1e6:.0f} MB limit; "
            "split the file or raise QA_MAX_FILE_MB"
        )
    if size == 0:
        raise IngestError(
            f"{name}: the file is empty (0 bytes); check that it was saved or copied "
            "completely and add it again"
        )
    sha256 = sha256 or file_sha256(path)
    if not sha256:
        raise IngestError(f"{name}: cannot read the file; check its permissions")
    doc_id = sha256[:DOC_ID_CHARS]
    result = _read(path, suffix, name, options, progress, sha256)
    language = meta.language or result.language or detect_language(result.text, default="und")
    title = meta.title or result.title or title_from_file_name(path)
    recording_url = meta.recording_url or result.url
    # A caption file times the session's recording; a recording file is its own recording,
    # played by the app from the cited second unless the organiser gives it a URL.
    if (
        recording_url is None
        and meta.session is not None
        and result.kind == "transcript"
        and suffix not in MEDIA_SUFFIXES
    ):
        recording_url = meta.session.recording_url
    return Document(
        doc_id=doc_id,
        source=source,
        sha256=sha256,
        title=title,
        kind=result.kind,
        doc_format=result.doc_format,
        language=language,
        text=result.text,
        segments=result.segments,
        session=meta.session,
        recording_url=recording_url,
        page_count=result.page_count if result.page_count is not None else result.cue_count,
        warnings=result.warnings,
        notes=result.notes,
    )


def _read(
    path: Path,
    suffix: str,
    name: str,
    options: ReadOptions,
    progress: ReadProgress,
    sha256: str,
) -> ReadResult:
    """The reader for the suffix; text formats are decoded here."""
    if suffix == ".pdf":
        with open(path, "rb") as handle:
            head = handle.read(1024)
        if b"%PDF" not in head:
            raise IngestError(f"{name}: not a PDF file (no %PDF header); check the file")
        return _with_text(read_pdf(path, name, options, progress), name)
    if suffix == ".pptx":
        return _with_text(read_pptx(path, name), name)
    if suffix == ".docx":
        return _with_text(read_docx(path, name), name)
    if suffix in IMAGE_SUFFIXES:
        return _with_text(read_image(path, name, options, progress), name)
    if suffix in MEDIA_SUFFIXES:
        return _with_text(_transcript(path, name, options, progress, sha256), name)
    data = path.read_bytes()
    if suffix in HTML_SUFFIXES:
        return _with_text(read_html(data, name), name)
    text, encoding_warning = decode_text(data, name)
    if suffix in (".vtt", ".srt", ".sbv"):  # .sbv: YouTube's caption export
        result = read_transcript(text, name, suffix[1:])
    elif suffix in (".md", ".markdown"):
        result = read_markdown(text)
    else:
        result = read_plain_text(text)
    result = _with_text(result, name)
    if encoding_warning:
        return replace(result, warnings=(encoding_warning, *result.warnings))
    return result


def _transcript(
    path: Path, name: str, options: ReadOptions, progress: ReadProgress, sha256: str
) -> ReadResult:
    """A recording's transcript: from the transcript cache when this content was heard before."""
    cache_dir = options.cache_dir or DEFAULT_CACHE_DIR
    key = cache_key(sha256, TRANSCRIBER_ID, options)
    cached = load_transcript(cache_dir, key)
    if cached is not None:
        return reused(replace(cached, doc_format=path.suffix.lower().lstrip(".")))
    result = transcribe_recording(path, name, options, progress)
    save_transcript(cache_dir, key, result)
    return result


def _with_text(result: ReadResult, name: str) -> ReadResult:
    if not result.segments:
        raise IngestError(f"{name}: no text found in the file")
    return result


# Words file names carry that are not part of a title: licences, versions, drafts.
_NAME_NOISE = re.compile(
    r"(?:\b(?:cc|by|nc|nd|sa|v\d+|final|draft|copy|web|es|en|fr|ar)\b\s*)+(?:\d+\s*)*$",
    re.IGNORECASE,
)


def title_from_file_name(path: Path) -> str:
    """A readable title from a file name: 'cias-fundar-mapa-2023-cc-by-nc-nd-4-0.pdf' →
    'Cias fundar mapa 2023' (separators to spaces, licence and version tails dropped)."""
    stem = re.sub(r"[_\-.]+", " ", path.stem).strip()
    stem = re.sub(r"\s+", " ", stem)
    cleaned = _NAME_NOISE.sub("", stem).strip() or stem
    if cleaned.islower() or cleaned.isupper():
        cleaned = cleaned[:1].upper() + cleaned[1:].lower() if cleaned.isupper() else cleaned
    cleaned = cleaned[:1].upper() + cleaned[1:]
    return display_name(cleaned) if cleaned else display_name(path.name)
