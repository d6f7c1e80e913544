"""PDF reader: one segment per page, with 1-based physical page numbers and printed labels."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.types import Segment

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
_SPACES = re.compile(r"[ \t\u00a0]+")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def clean_page_text(text: str) -> str:
    """Tidy extracted text: collapse runs of spaces, join words hyphenated across lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _SPACES.sub(" ", text)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def read_pdf(path: Path, name: str, password: str | None = None) -> ReadResult:
    """Read a PDF with pypdf; pages without a text layer become warnings."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        # Many PDFs are encrypted only to restrict printing: the empty user password opens them.
        if reader.is_encrypted and not reader.decrypt(password or ""):
            raise IngestError(
                f"{name}: the PDF is protected by a password; remove the protection "
                "(e.g. print to PDF) and add it again"
            )
        pages = list(reader.pages)
    except IngestError:
        raise
    except (PdfReadError, ValueError, OSError, KeyError, TypeError) as exc:
        raise IngestError(
            f"{name}: not a readable PDF ({exc}); check that the file is complete"
        ) from exc
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        if "decrypt" in str(exc).lower() or "cryptography" in str(exc).lower():
            raise IngestError(f"{name}: cannot decrypt the PDF ({exc})") from exc
        raise IngestError(f"{name}: not a readable PDF ({exc.__class__.__name__}: {exc})") from exc

    try:
        labels: list[str] | None = list(reader.page_labels)
    except Exception:  # broken /PageLabels trees are common; physical numbers still work
        labels = None

    parts: list[str] = []
    segments: list[Segment] = []
    empty: list[int] = []
    offset = 0
    for number, page in enumerate(pages, start=1):
        try:
            raw = page.extract_text() or ""
        except Exception as exc:  # one bad page must not lose the others
            logger.warning("%s: page %d unreadable: %s", name, number, exc)
            raw = ""
        text = clean_page_text(raw)
        if not text:
            empty.append(number)
            continue
        if parts:
            offset += len(PAGE_SEPARATOR)
        label = labels[number - 1] if labels and len(labels) >= number else None
        segments.append(
            Segment(
                char_start=offset,
                char_end=offset + len(text),
                page=number,
                page_label=label if label and label != str(number) else None,
            )
        )
        parts.append(text)
        offset += len(text)

    warnings: list[str] = []
    if empty:
        warnings.append(
            f"{len(empty)} of {len(pages)} pages have no text layer (scanned?): "
            f"{_page_list(empty)}; they are not searchable"
        )
    if not segments:
        raise IngestError(
            f"{name}: no page has extractable text (a scanned PDF?); "
            "run OCR on it (e.g. ocrmypdf) and add the result"
        )
    title = None
    try:
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
    except Exception:  # unreadable metadata is not a reason to lose the text
        warnings.append("document metadata is unreadable; title taken from the file name")
    return ReadResult(
        text=PAGE_SEPARATOR.join(parts),
        segments=tuple(segments),
        kind="report",
        doc_format="pdf",
        title=title,
        page_count=len(pages),
        warnings=tuple(warnings),
    )


def _page_list(pages: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(p) for p in pages[:limit])
    return shown + (", …" if len(pages) > limit else "")
