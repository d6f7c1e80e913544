"""OCR with Tesseract: real scans from ../shared, synthetic pages, a missing Tesseract."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from qa_assistant.errors import IngestError
from qa_assistant.ingest import ocr
from qa_assistant.ingest.base import ReadOptions, ReadResult
from qa_assistant.ingest.ocr import (
    TESSERACT_INSTALL,
    arabic_share,
    ocr_image,
    read_image,
    tesseract_languages,
)
from qa_assistant.ingest.pdf import is_meaningful_title, read_pdf

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SCANNED = SHARED / "samples" / "materials" / "scanned"
REFERENCE = SCANNED / "_reference"
A4_AT_200_DPI = (1654, 2339)
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
PANGRAM = (  # what fr_pangram_francais.pdf shows (its _reference is a German-model reading)
    "Portez ce vieux whisky au juge blond qui fume sur son île intérieure, à côté de "
    "l'alcôve ovoïde, où les bûches se consument dans l'âtre, ce qui lui permet de penser à "
    "la cænogénèse de l'être dont il est question dans la cause ambiguë entendue à Moÿ, dans "
    "un capharnaüm qui, pense-t-il, diminue çà et là la qualité de son œuvre."
)

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason=f"tesseract is not installed: {TESSERACT_INSTALL}",
)
needs_scans = pytest.mark.skipif(
    not SCANNED.is_dir(), reason="../shared/samples/materials not present"
)


def levenshtein(first: str, second: str) -> int:
    """Edit distance (insertions, deletions, substitutions of one character each)."""
    if len(first) < len(second):
        first, second = second, first
    previous = list(range(len(second) + 1))
    for row, char in enumerate(first, start=1):
        current = [row]
        for column, other in enumerate(second, start=1):
            current.append(
                min(previous[column] + 1, current[-1] + 1, previous[column - 1] + (char != other))
            )
        previous = current
    return previous[-1]


def character_error_rate(hypothesis: str, reference: str) -> float:
    """Levenshtein distance over the reference's length, whitespace runs made one space."""
    hypothesis, reference = " ".join(hypothesis.split()), " ".join(reference.split())
    return levenshtein(hypothesis, reference) / max(len(reference), 1)


def find_font() -> Path | None:
    """DejaVu Sans (or any TrueType font) installed on this machine."""
    for folder in FONT_DIRS:
        fonts = sorted(folder.rglob("DejaVuSans.ttf")) or sorted(folder.rglob("*.ttf"))
        if folder.is_dir() and fonts:
            return fonts[0]
    return None


def text_image(
    lines: list[str], size: int = 40, page: tuple[int, int] | None = None
) -> Image.Image:
    """A white image with `lines` printed in black: 40 px letters are 14-pt text at 200 dpi.

    Args:
        page: the image's (width, height); by default just large enough for the lines.
    """
    font_path = find_font()
    if font_path is None:
        pytest.skip("no TrueType font in /usr/share/fonts to draw a test page")
    font = ImageFont.truetype(str(font_path), size)
    image = Image.new("L", page or (1700, 120 + len(lines) * size * 2), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((80, 60 + number * size * 2), line, fill=0, font=font)
    return image


def mixed_pdf(path: Path, scan: Image.Image) -> Path:
    """A 2-page PDF: page 1 typed (a heading and body text), page 2 only the image `scan`."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    width, height = A4
    pdf = canvas.Canvas(str(path), pagesize=A4)  # reportlab's default title is "untitled"
    pdf.setFont("Helvetica-Bold", 24)
    pdf.drawString(72, height - 90, "Quarterly Webinar Findings")
    pdf.setFont("Helvetica", 11)
    for number in range(8):
        pdf.drawString(72, height - 140 - 16 * number, f"Typed line {number} of page one.")
    pdf.showPage()
    pdf.drawImage(ImageReader(scan), 0, 0, width=width, height=height)
    pdf.showPage()
    pdf.save()
    return path


@functools.cache
def read_sample(name: str, language: str | None = None) -> ReadResult:
    """A scan of ../shared read once per test session (several tests check one reading)."""
    options = ReadOptions(language=language)
    path = SCANNED / name
    return (
        read_pdf(path, name, options) if path.suffix == ".pdf" else read_image(path, name, options)
    )


def page_text(result: ReadResult, page: int) -> str:
    """The text of the segment of physical page `page`."""
    segment = next(s for s in result.segments if s.page == page)
    return result.text[segment.char_start : segment.char_end]


# Pure helpers: no Tesseract needed.


def test_character_error_rate_counts_edits() -> None:
    assert character_error_rate("the  quick\nfox", "the quick fox") == 0
    assert character_error_rate("tha quick fox", "the quick fox") == pytest.approx(1 / 13)
    assert levenshtein("kitten", "sitting") == 3


def test_tesseract_languages_follow_the_file_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "find_tesseract", lambda: "/usr/bin/tesseract")
    monkeypatch.setattr(
        ocr, "installed_tesseract_languages", lambda _: frozenset({"eng", "fra", "ara"})
    )
    assert tesseract_languages(ReadOptions(language="fr")) == "fra"
    assert tesseract_languages(ReadOptions(language="fr-CA")) == "fra"
    assert tesseract_languages(ReadOptions()) == "eng+fra+ara"  # spa is not installed
    # A language without its pack falls back to the installed library languages, and says so.
    assert tesseract_languages(ReadOptions(language="es")) == "eng+fra+ara"
    warning = ocr.missing_packs_warning(ReadOptions(language="es"))
    assert warning is not None and "apt-get install tesseract-ocr-spa" in warning


def test_meaningful_titles() -> None:
    assert is_meaningful_title("Argentina's social security reform")
    for placeholder in ("", "untitled", "Microsoft Word - notes.docx", "scan_004.pdf", "  "):
        assert not is_meaningful_title(placeholder), placeholder
    assert not is_meaningful_title("Adobe Photoshop PDF")
    assert not is_meaningful_title("report-anses", ("report_anses",))


def test_missing_tesseract_warns_for_pdf_and_refuses_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "find_tesseract", lambda: None)
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    scan = Image.new("L", (600, 800), 255)
    ImageDraw.Draw(scan).rectangle((50, 50, 550, 120), fill=0)
    path = mixed_pdf(tmp_path / "mixed.pdf", scan)

    result = read_pdf(path, "mixed.pdf")
    assert [s.page for s in result.segments] == [1]
    assert not result.segments[0].ocr
    assert any("no text layer" in w and TESSERACT_INSTALL in w for w in result.warnings)
    assert result.title == "Quarterly Webinar Findings"  # metadata says "untitled"

    scan.save(tmp_path / "scan.png")
    with pytest.raises(IngestError, match=r"scan\.png: .*tesseract-ocr-ara"):
        read_image(tmp_path / "scan.png", "scan.png", ReadOptions())


def test_image_only_pdf_without_tesseract_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ocr, "find_tesseract", lambda: None)
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "scan.pdf"))
    pdf.drawImage(ImageReader(Image.new("L", (200, 200), 128)), 0, 0, width=595, height=842)
    pdf.save()
    with pytest.raises(IngestError, match=r"scan\.pdf: .*scanned.*" + TESSERACT_INSTALL):
        read_pdf(tmp_path / "scan.pdf", "scan.pdf")


def test_ocr_turned_off_keeps_the_text_layer(tmp_path: Path) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf", Image.new("L", (600, 800), 255))
    result = read_pdf(path, "mixed.pdf", ReadOptions(ocr=False))
    assert [s.page for s in result.segments] == [1]
    assert any("OCR is turned off" in w and "2" in w for w in result.warnings)
    Image.new("L", (10, 10), 255).save(tmp_path / "scan.png")
    with pytest.raises(IngestError, match="turned off"):
        read_image(tmp_path / "scan.png", "scan.png", ReadOptions(ocr=False))


# Synthetic pages read by Tesseract.


@needs_tesseract
def test_ocr_reads_a_rendered_page() -> None:
    lines = ["The webinar covered pension reform", "in Tunisia and Argentina."]
    text = ocr_image(text_image(lines), "eng", timeout=60, threads=1)
    assert character_error_rate(text, " ".join(lines)) < 0.03


@needs_tesseract
def test_pdf_scanned_page_is_read_with_its_page_number(tmp_path: Path) -> None:
    lines = ["Scanned minutes of the session", "Budget approved unanimously"]
    scan = text_image(lines, page=A4_AT_200_DPI)
    path = mixed_pdf(tmp_path / "mixed.pdf", scan)
    result = read_pdf(path, "mixed.pdf", ReadOptions(language="en"))
    assert [(s.page, s.ocr) for s in result.segments] == [(1, False), (2, True)]
    assert "unanimously" in page_text(result, 2)
    assert any("OCR: 1 page read with Tesseract (eng)" in note for note in result.notes)
    assert not result.warnings


@needs_tesseract
def test_time_limit_stops_ocr_and_lists_pages_not_read(tmp_path: Path) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf", Image.new("L", (600, 800), 255))
    result = read_pdf(path, "mixed.pdf", ReadOptions(timeout_seconds=1e-6))
    assert [s.page for s in result.segments] == [1]
    assert any("time limit" in w and "pages 2 not read" in w for w in result.warnings)


@needs_tesseract
def test_multi_frame_tiff_gives_one_page_per_frame(tmp_path: Path) -> None:
    first = text_image(["Frame one talks about housing"])
    second = text_image(["Frame two talks about schools"])
    first.save(tmp_path / "scan.tif", save_all=True, append_images=[second])
    result = read_image(tmp_path / "scan.tif", "scan.tif", ReadOptions(language="en"))
    assert result.doc_format == "image" and result.kind == "report" and result.page_count == 2
    assert [(s.page, s.ocr) for s in result.segments] == [(1, True), (2, True)]
    assert "housing" in page_text(result, 1) and "schools" in page_text(result, 2)


@needs_tesseract
def test_blank_or_broken_images_are_clear_errors(tmp_path: Path) -> None:
    Image.new("L", (400, 300), 255).save(tmp_path / "blank.png")
    with pytest.raises(IngestError, match=r"blank\.png: OCR found no text"):
        read_image(tmp_path / "blank.png", "blank.png", ReadOptions())
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(IngestError, match=r"broken\.jpg: "):
        read_image(tmp_path / "broken.jpg", "broken.jpg", ReadOptions())


# The real scans of ../shared/samples/materials/scanned.


@needs_tesseract
@needs_scans
def test_phototest_tif_character_error_rate() -> None:
    result = read_sample("en_phototest.tif", "en")
    reference = (REFERENCE / "en_phototest.ref.txt").read_text(encoding="utf-8")
    assert character_error_rate(result.text, reference) < 0.05
    assert result.doc_format == "image" and result.page_count == 1
    assert [(s.page, s.ocr) for s in result.segments] == [(1, True)]


@needs_tesseract
@needs_scans
def test_multipage_pdf_keeps_page_numbers() -> None:
    result = read_sample("en_multipage_6p.pdf")
    assert result.page_count == 6
    assert [s.page for s in result.segments] == [1, 2, 3, 4, 5, 6]
    # Page 4 carries a text layer (an earlier OCR): it is kept, the five others are read.
    assert [s.ocr for s in result.segments] == [True, True, True, False, True, True]
    silver = (REFERENCE / "en_multipage_6p.silver_tesseract.txt").read_text(encoding="utf-8")
    silver_pages = silver.split("\f")
    words = {1: "widow", 2: "megapixels", 3: "Percentage", 4: "Oppose", 5: "Southcott"}
    words[6] = "Westminster"
    for page, word in words.items():
        assert word in silver_pages[page - 1], (page, word)
        assert word in page_text(result, page), (page, word)
    for page in (2, 3, 4, 5, 6):
        assert "widow" not in page_text(result, page)
    assert any("OCR: 5 pages read with Tesseract" in note for note in result.notes)


@needs_tesseract
@needs_scans
def test_french_pangram_pdf() -> None:
    result = read_sample("fr_pangram_francais.pdf", "fr")
    assert [(s.page, s.ocr) for s in result.segments] == [(1, True)]
    assert character_error_rate(result.text, PANGRAM) < 0.03
    assert "capharnaüm" in result.text and "qualité" in result.text


@needs_tesseract
@needs_scans
def test_arabic_png_yields_arabic_text() -> None:
    result = read_sample("ar_printed_capr12.png")  # language unknown: all four packs
    assert arabic_share(result.text) > 0.95
    reference = (REFERENCE / "ar_printed_capr12.ref.txt").read_text(encoding="utf-8")
    assert character_error_rate(result.text, reference) < 0.05


@needs_tesseract
@needs_scans
def test_png_named_jpg_is_read() -> None:
    result = read_sample("ar_printed_capr14_really_png.jpg", "ar")
    reference = (REFERENCE / "ar_printed_capr14_really_png.ref.txt").read_text(encoding="utf-8")
    assert character_error_rate(result.text, reference) < 0.05


SCAN_FILES = sorted(p.name for p in SCANNED.glob("*") if p.is_file()) if SCANNED.is_dir() else []
SLOW_SCANS = {"ru_form_scan_2p.pdf"}  # 15 s: two dense form pages


@needs_tesseract
@needs_scans
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_SCANS else n for n in SCAN_FILES],
)
def test_every_scan_reads_or_is_a_clear_error(name: str) -> None:
    try:
        result = read_sample(name)
    except IngestError as exc:
        assert str(exc).startswith(f"{name}: ")
        return
    assert any(segment.ocr for segment in result.segments)
    for segment in result.segments:
        assert result.text[segment.char_start : segment.char_end].strip()
