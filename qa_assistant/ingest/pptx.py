"""PowerPoint reader: one segment per slide, with its title, text, tables and speaker notes.

Slides keep their 1-based number in the deck as `page`, so hidden or empty slides still count.
A slideshow (.ppsx) or template (.potx) saved under a .pptx name is read too: python-pptx refuses
their content type, so it is rewritten in memory to the presentation's.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.office import office_bytes
from qa_assistant.types import Segment

logger = logging.getLogger(__name__)

SLIDE_SEPARATOR = "\n\n"
NOTES_PREFIX = "Notes: "
CELL_SEPARATOR = " | "
_PRESENTATION_MAIN = (
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
)
# Main-part content types python-pptx refuses although the slides are the same parts.
_OTHER_MAINS = (
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
)
# Titles PowerPoint writes by itself ("Slide 1" in English, "Diapositive 1" in French…).
_DEFAULT_TITLE = re.compile(
    r"^(?:(?:powerpoint )?presentation\s*\d*|présentation powerpoint|presentación de powerpoint"
    r"|(?:slide|diapositive|diapositiva|folie|dia)\s*\d+)$",
    re.IGNORECASE,
)
# Placeholders repeated on every slide by the layout: no content of the slide itself.
_LAYOUT_PLACEHOLDERS = frozenset({"SLIDE_NUMBER", "DATE", "FOOTER"})
_SPACES = re.compile(r"[ \t\u00a0]+")


def read_pptx(path: Path, name: str) -> ReadResult:
    """Read a .pptx deck: one segment per slide with text, `page` = slide number."""
    presentation = _open(path, name)
    slides = list(presentation.slides)
    parts: list[str] = []
    segments: list[Segment] = []
    empty: list[int] = []
    unreadable: list[int] = []
    offset = 0
    first_title: str | None = None
    for number, slide in enumerate(slides, start=1):
        try:
            title, text = _slide_text(slide)
        except Exception as exc:  # one damaged slide must not lose the others
            logger.warning("%s: slide %d unreadable: %s", name, number, exc)
            unreadable.append(number)
            continue
        if not text:
            empty.append(number)
            continue
        section = title.replace("\n", " ") if title else None
        first_title = first_title or section
        if parts:
            offset += len(SLIDE_SEPARATOR)
        segments.append(
            Segment(char_start=offset, char_end=offset + len(text), page=number, section=section)
        )
        parts.append(text)
        offset += len(text)
    if not segments:
        raise IngestError(
            f"{name}: no slide has any text (pictures only?); export the deck as PDF "
            "so its pages can be read by OCR, and add that file"
        )
    warnings = []
    if empty:
        warnings.append(
            f"{len(empty)} of {len(slides)} slides have no text (pictures only?): "
            f"{_slide_list(empty)}; they are not searchable"
        )
    if unreadable:
        warnings.append(
            f"{len(unreadable)} slides could not be read: {_slide_list(unreadable)}; "
            "open the deck in PowerPoint and save it again to repair them"
        )
    return ReadResult(
        text=SLIDE_SEPARATOR.join(parts),
        segments=tuple(segments),
        kind="report",
        doc_format="pptx",
        title=_core_title(presentation) or first_title,
        page_count=len(slides),
        warnings=tuple(warnings),
    )


def _slide_list(numbers: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (", …" if len(numbers) > limit else "")


def _open(path: Path, name: str) -> Any:
    """The python-pptx Presentation, or an IngestError saying why the file cannot be opened."""
    from pptx import Presentation

    data = office_bytes(path, name, "PowerPoint", ".pptx")
    try:
        return Presentation(io.BytesIO(_as_presentation(data)))
    except Exception as exc:  # python-pptx, zipfile and lxml raise many kinds of errors
        reason = "not a zip archive" if isinstance(exc, zipfile.BadZipFile) else str(exc)
        raise IngestError(
            f"{name}: not a readable PowerPoint file ({reason or exc.__class__.__name__}); "
            "open it in PowerPoint or LibreOffice and save it again as .pptx"
        ) from exc


def _as_presentation(data: bytes) -> bytes:
    """The package with a slideshow/template main part relabelled as a presentation."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            types = archive.read("[Content_Types].xml").decode("utf-8")
            if not any(kind in types for kind in _OTHER_MAINS):
                return data
            for kind in _OTHER_MAINS:
                types = types.replace(kind, _PRESENTATION_MAIN)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
                for item in archive.infolist():
                    if item.filename == "[Content_Types].xml":
                        copy.writestr(item, types.encode("utf-8"))
                    else:
                        copy.writestr(item, archive.read(item))
            return out.getvalue()
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError):
        return data  # let python-pptx report what is wrong with the file


def _slide_text(slide: Any) -> tuple[str | None, str]:
    """(title, text) of a slide: title first, then shapes in order, then the notes."""
    title_shape = slide.shapes.title
    title = _clean(title_shape.text_frame.text) if title_shape is not None else ""
    lines = [title] if title else []
    title_id = title_shape.shape_id if title_shape is not None else None
    shapes = (s for s in slide.shapes if title_id is None or s.shape_id != title_id)
    lines.extend(_shapes_text(shapes))
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        notes = _clean(frame.text) if frame is not None else ""
        if notes:
            lines.append(NOTES_PREFIX + notes)
    return title or None, "\n".join(line for line in lines if line)


def _shapes_text(shapes: Iterable[Any]) -> Iterator[str]:
    """Text of shapes in order; groups are read recursively, tables row by row."""
    from pptx.shapes.group import GroupShape

    for shape in shapes:
        if shape.is_placeholder and shape.placeholder_format.type.name in _LAYOUT_PLACEHOLDERS:
            continue
        if isinstance(shape, GroupShape):
            yield from _shapes_text(shape.shapes)
        elif shape.has_text_frame:
            yield _clean(shape.text_frame.text)
        elif shape.has_table:
            yield from _table_rows(shape.table)
        elif shape.has_chart:
            chart = shape.chart
            if chart.has_title and chart.chart_title.has_text_frame:
                yield _clean(chart.chart_title.text_frame.text)


def _table_rows(table: Any) -> Iterator[str]:
    """One line per row, cells joined; cells covered by a merge are skipped."""
    for row in table.rows:
        cells = [_clean(cell.text).replace("\n", " ") for cell in row.cells if not cell.is_spanned]
        if any(cells):
            yield CELL_SEPARATOR.join(cell for cell in cells if cell)


def _clean(text: str) -> str:
    """Line breaks (\\v in python-pptx) as newlines, runs of spaces collapsed, no blank lines."""
    text = text.replace("\v", "\n").replace("\r", "\n").replace("\x00", "")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _core_title(presentation: Any) -> str | None:
    """The document title from its properties, unless it is empty or PowerPoint's default."""
    try:
        title = _clean(presentation.core_properties.title or "").replace("\n", " ")
    except Exception:  # unreadable properties are not a reason to lose the slides
        return None
    return title if title and not _DEFAULT_TITLE.match(title) else None
