"""Word reader: the body in reading order, headings as sections, tables row by row, footnotes.

Headings are found by outline level (set on the paragraph or its style chain), so localised
style names ("Titre 1", "Título 1") work; "Heading N"/"Title" names and the UN document
template's "_ H_1_GA"-style names are recognised too. One segment per paragraph or table row.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.office import office_bytes
from qa_assistant.types import Segment

BLOCK_SEPARATOR = "\n\n"
CELL_SEPARATOR = " | "
SECTION_SEPARATOR = " › "  # as read_markdown
FOOTNOTES_SECTION = "Footnotes"
MAX_STYLE_DEPTH = 20  # basedOn chains are short; this only guards against cycles
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Text inside these is not the paragraph's own: alternatives, text boxes, deletions.
_NOT_OWN = frozenset({_MC_FALLBACK, f"{_W}txbxContent", f"{_W}del", f"{_W}moveFrom"})
_RUN_CONTENT = " | ".join(
    f".//w:r/w:{tag}"
    for tag in ("t", "tab", "br", "cr", "noBreakHyphen", "footnoteReference", "endnoteReference")
)
_HEADING_NAME = re.compile(r"^heading (\d)$", re.IGNORECASE)
_UN_HEADING = re.compile(r"^_ H[ _]+(M|Ch|\d)")  # UN template: _ H __M_GA, _ H _Ch_GA, _ H_1_GA
_UN_LEVELS = {"M": 0, "Ch": 1}
_TOC_NAME = re.compile(r"^toc \d$|^table of contents", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0]+")
_BIDI_MARKS = re.compile(r"[\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # invisible in a label


@dataclass(frozen=True)
class _Block:
    """A paragraph or a table row; `level` 1..9 for a heading, 0 for the document title."""

    text: str
    level: int | None = None


@dataclass(frozen=True)
class _Style:
    name: str
    outline: int | None
    based_on: str | None


def read_docx(path: Path, name: str) -> ReadResult:
    """Read a .docx report: one segment per paragraph or table row, headings as sections."""
    document = _open(path, name)
    blocks = list(_blocks(document.element.body, _styles(document.styles.element)))
    top = [index for index, b in enumerate(blocks) if b.level is not None and b.level <= 1]
    # A lone Heading 1 names the document, as in read_markdown: it is no section.
    lone_h1 = top[0] if len(top) == 1 and blocks[top[0]].level == 1 else None
    title = _core_title(document) or (_label(blocks[top[0]].text) if top else None)
    blocks.extend(_notes(document))
    if not blocks:
        raise IngestError(
            f"{name}: the Word document has no text; check that it is the right file "
            "(a scanned document needs OCR: export it as PDF and add that)"
        )
    path_names: list[str] = []
    section: str | None = None
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for index, block in enumerate(blocks):
        if block.level:  # a heading (0 = the title paragraph, which is no section)
            heading = "" if index == lone_h1 else _label(block.text)
            path_names = _nest(path_names, block.level, heading)
            section = SECTION_SEPARATOR.join(p for p in path_names if p) or None
        if parts:
            offset += len(BLOCK_SEPARATOR)
        end = offset + len(block.text)
        segments.append(Segment(char_start=offset, char_end=end, section=section))
        parts.append(block.text)
        offset = end
    return ReadResult(
        text=BLOCK_SEPARATOR.join(parts),
        segments=tuple(segments),
        kind="report",
        doc_format="docx",
        title=title,
        page_count=None,
    )


def _open(path: Path, name: str) -> Any:
    """The python-docx Document, or an IngestError saying why the file cannot be opened."""
    import docx

    data = office_bytes(path, name, "Word", ".docx")
    try:
        return docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise IngestError(
            f"{name}: the file is damaged or incomplete ({exc}); copy or download it again, "
            "or open it in Word and save it again as .docx"
        ) from exc
    except Exception as exc:  # python-docx and lxml raise many kinds of errors
        raise IngestError(
            f"{name}: not a readable Word file ({str(exc) or exc.__class__.__name__}); "
            "open it in Word or LibreOffice and save it again as .docx"
        ) from exc


def _styles(root: Any) -> dict[str, _Style]:
    """Paragraph styles by id; the default paragraph style is also stored under ""."""
    styles: dict[str, _Style] = {}
    for element in root.iterfind(f"{_W}style[@{_W}type='paragraph']"):
        name = element.find(f"{_W}name")
        based_on = element.find(f"{_W}basedOn")
        style = _Style(
            name=name.get(f"{_W}val", "") if name is not None else "",
            outline=_outline(element),
            based_on=based_on.get(f"{_W}val") if based_on is not None else None,
        )
        styles[element.get(f"{_W}styleId", "")] = style
        if element.get(f"{_W}default") in ("1", "true"):
            styles.setdefault("", style)
    return styles


def _outline(element: Any) -> int | None:
    """The w:outlineLvl of an element's paragraph properties (0-based; 9 = body text)."""
    level = element.find(f"{_W}pPr/{_W}outlineLvl")
    value = level.get(f"{_W}val") if level is not None else None
    return int(value) if value is not None and value.isdigit() else None


def _heading_level(paragraph: Any, styles: dict[str, _Style]) -> tuple[int | None, bool]:
    """(heading level 1..9, 0 for a title, None for body text; is it a table-of-contents line)."""
    own = _outline(paragraph)
    style_ref = paragraph.find(f"{_W}pPr/{_W}pStyle")
    style = styles.get(style_ref.get(f"{_W}val", "") if style_ref is not None else "")
    toc = bool(style and _TOC_NAME.match(style.name))
    if own is not None:
        return (own + 1 if own < 9 else None), toc
    for _ in range(MAX_STYLE_DEPTH):
        if style is None:
            break
        if style.name.lower() == "title":
            return 0, toc
        if style.outline is not None:
            return (style.outline + 1 if style.outline < 9 else None), toc
        named = _HEADING_NAME.match(style.name) or _UN_HEADING.match(style.name)
        if named:
            mark = named.group(1)
            return (_UN_LEVELS[mark] if mark in _UN_LEVELS else int(mark)), toc
        style = styles.get(style.based_on) if style.based_on else None
    return None, toc


def _blocks(container: Any, styles: dict[str, _Style]) -> Iterator[_Block]:
    """Paragraphs and table rows of a body, cell or text box, in reading order."""
    for child in container.iterchildren():
        if child.tag == f"{_W}p":
            level, toc = _heading_level(child, styles)
            text = _paragraph_text(child)
            if text and not toc:
                yield _Block(text, level)
            for box in child.iter(f"{_W}txbxContent"):
                if _owned(box, child):  # a text box anchored here, not one inside another box
                    yield from _blocks(box, styles)
        elif child.tag == f"{_W}tbl":
            yield from (_Block(row) for row in _table_rows(child))
        elif child.tag in (f"{_W}sdt", f"{_W}customXml"):
            content = child.find(f"{_W}sdtContent")
            yield from _blocks(content if content is not None else child, styles)


def _owned(element: Any, paragraph: Any) -> bool:
    """True when `element` is the paragraph's own content, not an alternative or text box."""
    parent = element.getparent()
    while parent is not None and parent is not paragraph:
        if parent.tag in _NOT_OWN:
            return False
        parent = parent.getparent()
    return True


def _paragraph_text(paragraph: Any) -> str:
    """Run text with tabs and line breaks; footnote references as [n]."""
    pieces: list[str] = []
    for item in paragraph.xpath(_RUN_CONTENT):  # python-docx elements know the w: prefix
        if not _owned(item, paragraph):
            continue
        tag = item.tag[len(_W) :]
        if tag == "t":
            pieces.append(item.text or "")
        elif tag in ("footnoteReference", "endnoteReference"):
            pieces.append(f"[{item.get(f'{_W}id')}]")
        elif tag == "noBreakHyphen":
            pieces.append("-")
        elif tag == "br" and item.get(f"{_W}type") in ("page", "column"):
            pieces.append(" ")
        else:
            pieces.append("\n" if tag in ("br", "cr") else " ")
    return _clean("".join(pieces))


def _table_rows(table: Any) -> Iterator[str]:
    """One line per row, cells joined; a vertically merged cell is read in its first row only."""
    for row in table.iterfind(f"{_W}tr"):
        cells = []
        for cell in row.iterfind(f"{_W}tc"):
            merge = cell.find(f"{_W}tcPr/{_W}vMerge")
            if merge is not None and merge.get(f"{_W}val", "continue") == "continue":
                continue
            texts = (_paragraph_text(p) for p in cell.iter(f"{_W}p") if _owned(p, cell))
            cells.append(" ".join(t.replace("\n", " ") for t in texts if t))
        if any(cells):
            yield CELL_SEPARATOR.join(cell for cell in cells if cell)


def _notes(document: Any) -> Iterator[_Block]:
    """Footnotes and endnotes as "[n] text" blocks under a "Footnotes" heading."""
    from docx.oxml import parse_xml

    notes: list[_Block] = []
    for rel in document.part.rels.values():
        kind = rel.reltype.rsplit("/", 1)[-1]
        if rel.is_external or kind not in ("footnotes", "endnotes"):
            continue
        root = parse_xml(rel.target_part.blob)
        for note in root.iterfind(f"{_W}{kind[:-1]}"):
            if note.get(f"{_W}type") not in (None, "normal"):
                continue  # separators
            text = " ".join(t for p in note.iter(f"{_W}p") if (t := _paragraph_text(p)))
            if text:
                notes.append(_Block(f"[{note.get(f'{_W}id')}] {text}"))
    if notes:
        yield _Block(FOOTNOTES_SECTION, level=1)
        yield from notes


def _clean(text: str) -> str:
    """Runs of spaces collapsed, lines trimmed, no blank lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _nest(path: list[str], level: int, name: str) -> list[str]:
    """The heading path after a heading of `level` (1-based); skipped levels stay empty."""
    kept = path[: level - 1]
    return [*kept, *[""] * (level - 1 - len(kept)), name]


def _label(text: str) -> str:
    """A heading as a one-line section or title label."""
    return _BIDI_MARKS.sub("", text.replace("\n", " ")).strip()


def _core_title(document: Any) -> str | None:
    """The title from the document properties, when set."""
    try:
        title = _clean(document.core_properties.title or "").replace("\n", " ")
    except Exception:  # unreadable properties are not a reason to lose the text
        return None
    return title or None
