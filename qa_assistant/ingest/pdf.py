"""PDF reader: one segment per page, with 1-based physical page numbers and printed labels.

Pages without a text layer (scans) are rendered with pypdfium2 and read by Tesseract (ocr.py);
their segments are marked `ocr=True`.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadOptions, ReadProgress, ReadResult, no_read_progress
from qa_assistant.types import Segment

if TYPE_CHECKING:
    from PIL import Image

    from qa_assistant.ingest.ocr import OcrPages

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
OCR_DPI = 300  # the resolution Tesseract's documentation recommends for body text
# Larger pages are rendered at a lower resolution: 16 MP is A3 at ~280 dpi, and a poster-sized
# page at 300 dpi (81 MP in ../shared/samples/materials/scanned/en_multipage_6p.pdf) would take
# gigabytes and minutes for the same few lines of text.
MAX_RENDER_PIXELS = 16_000_000
# A text layer shorter than this on a page mostly covered by an image is a stamp or a page
# number on a scan: the page is read by OCR too, and the longer text kept.
NEGLIGIBLE_TEXT_CHARS = 20
LARGE_IMAGE_SHARE = 0.5  # share of the page's area an image covers on a scanned page
# A first-page heading must be this much larger than the body text to be taken as the title.
HEADING_SIZE_RATIO = 1.2
HEADING_MAX_CHARS = 200
_GENERIC_HEADINGS = frozenset(
    ("contents", "table of contents", "abstract", "summary", "header", "sommaire",
     "table des matières", "résumé", "índice", "contenido", "resumen", "المحتويات", "الفهرس")
)  # fmt: skip
# Metadata titles that name the tool or the file rather than the document.
_PLACEHOLDER_TITLE = re.compile(
    r"^(?:untitled.*|sans titre|sin título|no title|title|document\d*|unknown|none|null|"
    r"presentation\d*|powerpoint presentation|présentation powerpoint|slide \d+|"
    r"microsoft (?:word|powerpoint|excel) - .*|adobe photoshop pdf|.*\.(?:pdf|docx?|pptx?|"
    r"xlsx?|odt|odp|rtf|txt|indd|qxd|tex|dvi|ps|eps|png|jpe?g|tiff?))$",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\u00a0]+")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Control characters inside page text (TeX fonts map arrows and accents to \x01, \x1a, \x7f).
_STRAY_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Typographic ligatures (ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ) that LaTeX and InDesign fonts map to one character:
# "misﬁts" would not match a search for "misfits".
_LIGATURES = re.compile("[\ufb00-\ufb06]")
_LETTERS = re.compile(r"[^\W\d_]{2}")
DAMAGED_PDF_REMEDY = (
    "the file is damaged or incomplete: copy or download it again, or open it in a PDF viewer "
    "and save or print it as a new PDF"
)
# Text in which words and numbers (3+ letters or digits) are under this share of the visible
# characters is noise, such as the invisible OCR layer of a drawing on graph paper (pypdf's
# resources/issue-301.pdf: 14%, ":.,", "dP", "i, ."); prose, price lists and forms are 66-95%.
NOISE_MIN_CHARS = 50
NOISE_MAX_CONTENT_SHARE = 0.3
_WORD = re.compile(r"[^\W_]{3,}")
_DEFAULT_OPTIONS = ReadOptions()  # frozen: one shared default is safe
# PDFium is not thread-safe: one page is rendered at a time in this process.
_PDFIUM_LOCK = threading.Lock()


def clean_page_text(text: str) -> str:
    """Tidy extracted text: collapse runs of spaces, join words hyphenated across lines, spell
    out ligatures, drop control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _LIGATURES.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)
    text = _STRAY_CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def read_pdf(
    path: Path,
    name: str,
    options: ReadOptions = _DEFAULT_OPTIONS,
    progress: ReadProgress = no_read_progress,
    *,
    password: str | None = None,
) -> ReadResult:
    """Read a PDF with pypdf; pages without a text layer are read by OCR (Tesseract).

    Args:
        name: how the file is named in messages.
        options: `ocr` on or off, OCR languages, `threads`, `timeout_seconds` for the file.
        progress: told (share done, message) as scanned pages are read.
        password: opens a protected PDF (the empty password is always tried).

    Raises:
        IngestError: the PDF cannot be opened, or no page has text even after OCR.
    """
    started = time.monotonic()
    reader, pages = _open_pdf(path, name, password)
    labels = _page_labels(reader)
    heading = _HeadingFinder()
    layers: list[str] = []
    for number, page in enumerate(pages, start=1):
        layers.append(_page_text(page, number, name, heading if number == 1 else None))
        # pypdf has no time limit of its own: a huge or crafted file stops here, between pages.
        if time.monotonic() - started > options.timeout_seconds:
            break

    warnings: list[str] = []
    if len(layers) < len(pages):
        unread = list(range(len(layers) + 1, len(pages) + 1))
        warnings.append(
            f"reading stopped at the {options.timeout_seconds:.0f} s time limit per file: "
            f"pages {page_list(unread)} not read; raise QA_READ_TIMEOUT_S or split the file"
        )
    notes: list[str] = []
    read_by_ocr: dict[int, str] = {}
    textless = [number for number, text in enumerate(layers, start=1) if not text]
    negligible = [
        number
        for number, text in enumerate(layers, start=1)
        if 0 < len(text) < NEGLIGIBLE_TEXT_CHARS
    ]
    unavailable = _ocr_unavailable(options)
    if (textless or negligible) and unavailable is None:
        outcome = _ocr_scanned_pages(
            path, password, textless, negligible, options, started, progress
        )
        for number, text in outcome.texts:
            if len(text) > len(layers[number - 1]):
                read_by_ocr[number] = text
        if outcome.texts:
            notes.append(outcome.note(time.monotonic() - started))
        warnings.extend(outcome.warnings(options))
        nothing_found = [number for number in outcome.empty if not layers[number - 1]]
        if nothing_found and len(nothing_found) < len(pages):
            warnings.append(
                f"{_pages(len(nothing_found), len(pages))} no text layer and OCR found no text "
                f"on them: {page_list(nothing_found)}; they are not searchable"
            )
        elif nothing_found:
            warnings.append("OCR found no text on any page; check that the scan holds text")
    elif textless:
        warnings.append(
            f"{_pages(len(textless), len(pages))} no text layer (scanned?): "
            f"{page_list(textless)}; they are not searchable: {unavailable}"
        )

    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for number, layer in enumerate(layers, start=1):
        text = read_by_ocr.get(number, layer)
        if not text:
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
                ocr=number in read_by_ocr,
            )
        )
        parts.append(text)
        offset += len(text)

    if not segments:
        reason = "; ".join(warnings) if unavailable is None else unavailable
        raise IngestError(f"{name}: no page has extractable text (a scanned PDF?) and {reason}")
    text = PAGE_SEPARATOR.join(parts)
    noise = noise_warning(text)
    if noise:
        warnings.append(noise)
    title, title_warning = _metadata_title(reader, path, name)
    if title_warning:
        warnings.append(title_warning)
    return ReadResult(
        text=text,
        segments=tuple(segments),
        kind="report",
        doc_format="pdf",
        title=title or (None if noise else heading.title()),
        page_count=len(pages),
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


def noise_warning(text: str) -> str | None:
    """A warning when the text is long enough to judge but is mostly stray marks, not words."""
    marks = len(text) - text.count(" ") - text.count("\n")
    content = sum(len(word) for word in _WORD.findall(text))
    if marks < NOISE_MIN_CHARS or content >= NOISE_MAX_CONTENT_SHARE * marks:
        return None
    return (
        f"the text is mostly stray marks, not words ({content} of {marks} characters are in "
        "words or numbers): an invisible OCR layer of a drawing or a bad scan? check the PDF "
        "in a viewer; the original document or a better scan would be searchable"
    )


def _open_pdf(path: Path, name: str, password: str | None) -> tuple[Any, list[Any]]:
    """pypdf's reader and its pages, or an IngestError that says what to do."""
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
        return reader, list(reader.pages)
    except IngestError:
        raise
    except (PdfReadError, ValueError, OSError, KeyError, TypeError) as exc:
        raise IngestError(f"{name}: not a readable PDF ({exc}); {DAMAGED_PDF_REMEDY}") from exc
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        if "decrypt" in str(exc).lower() or "cryptography" in str(exc).lower():
            raise IngestError(
                f"{name}: cannot decrypt the PDF ({exc}); remove the protection "
                "(e.g. print to PDF) and add it again"
            ) from exc
        raise IngestError(
            f"{name}: not a readable PDF ({exc.__class__.__name__}: {exc}); {DAMAGED_PDF_REMEDY}"
        ) from exc


def _page_labels(reader: Any) -> list[str] | None:
    try:
        return list(reader.page_labels)
    except Exception:  # broken /PageLabels trees are common; physical numbers still work
        return None


def _page_text(page: Any, number: int, name: str, heading: _HeadingFinder | None) -> str:
    try:
        if heading is None:
            raw = page.extract_text() or ""
        else:
            heading.page_height = float(page.mediabox.height)
            raw = page.extract_text(visitor_text=heading.visit) or ""
    except Exception as exc:  # one bad page must not lose the others
        logger.warning("%s: page %d unreadable: %s", name, number, exc)
        raw = ""
    return clean_page_text(raw)


def _ocr_unavailable(options: ReadOptions) -> str | None:
    """Why scanned pages cannot be read by OCR, with what to do; None when they can."""
    from qa_assistant.ingest.ocr import TESSERACT_INSTALL, find_tesseract

    installed = find_tesseract() is not None
    if not options.ocr:
        remedy = "" if installed else f" and install Tesseract ({TESSERACT_INSTALL})"
        return f"OCR is turned off: set QA_OCR=true{remedy} to read them"
    if not installed:
        return f"Tesseract (OCR) is not installed: to read them, run {TESSERACT_INSTALL}"
    return None


def _ocr_scanned_pages(
    path: Path,
    password: str | None,
    textless: list[int],
    negligible: list[int],
    options: ReadOptions,
    started: float,
    progress: ReadProgress,
) -> OcrPages:
    """Render the pages without text (and scans with a negligible layer) and OCR them."""
    import pypdfium2 as pdfium

    from qa_assistant.ingest.ocr import OcrError, OcrPages, ocr_pages, tesseract_languages

    languages = tesseract_languages(options)
    try:
        with _PDFIUM_LOCK:
            document = pdfium.PdfDocument(path, password=password)
    except pdfium.PdfiumError as exc:
        reason = f"cannot render the page ({exc})"
        return OcrPages(languages, (), failed=tuple((number, reason) for number in textless))

    def render(number: int) -> Image.Image:
        try:
            with _PDFIUM_LOCK:
                page = document[number - 1]
                width, height = page.get_size()
                bitmap = page.render(scale=_render_scale(width, height), grayscale=True)
                image: Image.Image = bitmap.to_pil()
                page.close()
            return image
        except (pdfium.PdfiumError, ValueError, MemoryError) as exc:
            raise OcrError(f"cannot render the page ({exc})") from exc

    try:
        with _PDFIUM_LOCK:
            scans = sorted([*textless, *(n for n in negligible if _is_scan(document, n))])
        return ocr_pages(scans, render, languages, options, started, progress)
    finally:
        with _PDFIUM_LOCK:
            document.close()


def _render_scale(width: float, height: float) -> float:
    """PDF points → pixels: OCR_DPI, lowered to stay within MAX_RENDER_PIXELS."""
    scale = OCR_DPI / 72
    area = width * height * scale * scale
    if area > MAX_RENDER_PIXELS:
        scale *= math.sqrt(MAX_RENDER_PIXELS / area)
    return scale


def _is_scan(document: Any, number: int) -> bool:
    """True when one image covers most of the page (LARGE_IMAGE_SHARE)."""
    import pypdfium2.raw as pdfium_c

    try:
        page = document[number - 1]
        width, height = page.get_size()
        for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
            left, bottom, right, top = image.get_bounds()
            if (right - left) * (top - bottom) >= LARGE_IMAGE_SHARE * width * height:
                return True
        return False
    except Exception as exc:  # a page PDFium cannot parse keeps its text layer
        logger.debug("page %d: cannot list images: %s", number, exc)
        return False


@dataclass
class _HeadingFinder:
    """Collects (font size, line) pairs of the first page for a title from its largest text."""

    page_height: float = 0.0
    runs: list[tuple[float, float, str]] = field(default_factory=list)  # (size, y, text)

    def visit(self, text: str, cm: list[float], tm: list[float], font: Any, size: Any) -> None:
        """pypdf's `visitor_text`: the text's size is the font size times the matrix scale."""
        if not text.strip() or not isinstance(size, int | float):
            return
        matrix = _multiply(tm, cm)
        scale = math.hypot(matrix[2], matrix[3])
        self.runs.append((round(float(size) * scale, 1), matrix[5], text))

    def title(self) -> str | None:
        """The largest text in the top half of the page, if it stands out from the body."""
        if not self.runs:
            return None
        weight: dict[float, int] = {}
        for size, _y, text in self.runs:
            weight[size] = weight.get(size, 0) + len(text.strip())
        body = max(weight, key=lambda size: (weight[size], -size))
        top = [
            run for run in self.runs if run[1] >= self.page_height / 2 and _LETTERS.search(run[2])
        ]
        if not top:
            return None
        largest = max(size for size, _y, _text in top)
        if largest < body * HEADING_SIZE_RATIO:
            return None
        # The heading's lines: consecutive runs of the largest size, in reading order.
        lines: list[str] = []
        for size, y, text in self.runs:
            if abs(size - largest) < 0.5 and y >= self.page_height / 2:
                lines.append(text)
            elif lines:
                break
        heading = " ".join(" ".join(lines).split())
        heading = _CONTROL.sub("", heading)
        if not heading or len(heading) > HEADING_MAX_CHARS:
            return None
        return None if heading.casefold() in _GENERIC_HEADINGS else heading


def _multiply(first: list[float], second: list[float]) -> list[float]:
    """The product of two PDF matrices [a b c d e f]."""
    a, b, c, d, e, f = (float(value) for value in first)
    g, h, i, j, k, m = (float(value) for value in second)
    return [
        a * g + b * i,
        a * h + b * j,
        c * g + d * i,
        c * h + d * j,
        e * g + f * i + k,
        e * h + f * j + m,
    ]


def _metadata_title(reader: Any, path: Path, name: str) -> tuple[str | None, str | None]:
    """(the metadata title when it names the document, a warning if metadata is unreadable)."""
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:  # unreadable metadata is not a reason to lose the text
        return None, "document metadata is unreadable; title taken from the first page or name"
    title = " ".join(_CONTROL.sub(" ", str(raw or "")).split())
    return (title if is_meaningful_title(title, (path.stem, Path(name).stem)) else None), None


def is_meaningful_title(title: str, file_stems: tuple[str, ...] = ()) -> bool:
    """False for empty titles, placeholders ("untitled", "Microsoft Word - a.docx"), file names."""
    if not title or not _LETTERS.search(title) or _PLACEHOLDER_TITLE.match(title):
        return False
    simple = re.sub(r"[\W_]+", "", title).casefold()
    return all(simple != re.sub(r"[\W_]+", "", stem).casefold() for stem in file_stems)


def _pages(count: int, total: int) -> str:
    """The subject of a warning: "1 of 6 pages has", "2 of 6 pages have"."""
    return f"{count} of {total} pages {'has' if count == 1 else 'have'}"


def page_list(pages: list[int], limit: int = 10) -> str:
    """Page numbers for a message: "3, 4, 7", with an ellipsis past `limit`."""
    shown = ", ".join(str(p) for p in pages[:limit])
    return shown + (", …" if len(pages) > limit else "")
