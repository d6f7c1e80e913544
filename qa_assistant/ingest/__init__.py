"""File → Document. The only code that opens source files."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.pdf import read_pdf
from qa_assistant.ingest.text import read_markdown, read_plain_text
from qa_assistant.ingest.textfile import decode_text
from qa_assistant.ingest.transcript import read_transcript
from qa_assistant.language import detect_language
from qa_assistant.types import Document, DocumentMeta

SUPPORTED_SUFFIXES = (".pdf", ".vtt", ".srt", ".txt", ".md", ".markdown")
DOC_ID_CHARS = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(path: Path | str) -> str:
    """A file name safe to print: control characters (newlines, escapes) shown as `?`."""
    return _CONTROL.sub("?", str(path))


def content_id(data: bytes) -> tuple[str, str]:
    """(doc_id, sha256) of file contents: the same bytes always give the same id."""
    digest = hashlib.sha256(data).hexdigest()
    return digest[:DOC_ID_CHARS], digest


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


def read_document(path: Path, meta: DocumentMeta, source: str, max_bytes: int) -> Document:
    """Read one file into a Document; raise IngestError naming the file and the reason.

    Args:
        source: how the document is named in the index (path relative to the corpus when
            possible); also used in messages.
        max_bytes: larger files are refused before being read.
    """
    name = display_name(source)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(
                f"{name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit; "
                "split the file or raise QA_MAX_FILE_MB"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise IngestError(f"{name}: the file is empty")
    doc_id, sha256 = content_id(data)
    result = _read(path, data, suffix, name)
    language = meta.language or detect_language(result.text, default="und")
    title = meta.title or result.title or _title_from_name(path)
    recording_url = meta.recording_url
    if recording_url is None and meta.session is not None and result.kind == "transcript":
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
    )


def _read(path: Path, data: bytes, suffix: str, name: str) -> ReadResult:
    if suffix == ".pdf":
        if not data.lstrip()[:5].startswith(b"%PDF"):
            raise IngestError(f"{name}: not a PDF file (no %PDF header); check the file")
        return read_pdf(path, name)
    text, encoding_warning = decode_text(data, name)
    if suffix in (".vtt", ".srt"):
        result = read_transcript(text, name, suffix[1:])
    elif suffix in (".md", ".markdown"):
        result = read_markdown(text)
    else:
        result = read_plain_text(text)
    if not result.segments:
        raise IngestError(f"{name}: no text found in the file")
    if encoding_warning:
        return ReadResult(
            text=result.text,
            segments=result.segments,
            kind=result.kind,
            doc_format=result.doc_format,
            title=result.title,
            page_count=result.page_count,
            cue_count=result.cue_count,
            warnings=(encoding_warning, *result.warnings),
        )
    return result


def _title_from_name(path: Path) -> str:
    stem = re.sub(r"[_\-]+", " ", path.stem).strip()
    return display_name(stem[:1].upper() + stem[1:]) if stem else display_name(path.name)
