"""PDF reader: pages, labels, encryption, scans, corrupt files; text and Markdown readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_assistant.errors import IngestError
from qa_assistant.ingest import read_document
from qa_assistant.ingest.base import ReadOptions
from qa_assistant.ingest.pdf import clean_page_text, noise_warning, read_pdf
from qa_assistant.ingest.text import read_markdown, read_plain_text
from qa_assistant.types import DocumentMeta

from .conftest import CORPUS, SHARED

PDFS = SHARED / "samples" / "pdfs"
MAX = 50_000_000
REPORT = CORPUS / "2022-11-10-anses" / "report_anses.pdf"


def test_demo_report_has_one_segment_per_page() -> None:
    doc = read_document(REPORT, DocumentMeta(), "report_anses.pdf", MAX)
    assert doc.kind == "report" and doc.doc_format == "pdf"
    assert [s.page for s in doc.segments] == [1, 2, 3, 4, 5]
    assert doc.page_count == 5
    for segment in doc.segments:
        assert doc.text[segment.char_start : segment.char_end].strip()
    assert "1,000 Days" in doc.text
    assert doc.language == "en"


def test_corrupt_pdf_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(REPORT.read_bytes()[:3000])
    with pytest.raises(IngestError, match=r"broken\.pdf"):
        read_document(path, DocumentMeta(), "broken.pdf", MAX)


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(IngestError, match="no %PDF header"):
        read_document(path, DocumentMeta(), "fake.pdf", MAX)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 2000, encoding="utf-8")
    with pytest.raises(IngestError, match="over the"):
        read_document(path, DocumentMeta(), "big.txt", 1000)


def test_binary_file_with_text_suffix(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    with pytest.raises(IngestError, match="binary"):
        read_document(path, DocumentMeta(), "image.txt", MAX)


def test_markdown_headings_become_sections() -> None:
    text = "# Series summary\n\nIntro text.\n\n## Session 1\n\nANSES.\n\n### AUH\n\nDetails.\n"
    result = read_markdown(text)
    assert result.title == "Series summary"
    sections = [s.section for s in result.segments]
    assert sections == [None, "Session 1", "Session 1 › AUH"]


def test_plain_text_with_speaker_lines_is_a_transcript() -> None:
    text = "Grad A: hello there\nProfessor B: welcome all\nGrad A: thanks\nPhD C: ok then\n"
    result = read_plain_text(text)
    assert result.kind == "transcript"
    assert [s.speaker for s in result.segments] == ["Grad A", "Professor B", "Grad A", "PhD C"]
    # Offsets index the original file text.
    assert text[result.segments[1].char_start : result.segments[1].char_end] == (
        "Professor B: welcome all"
    )


@pytest.mark.skipif(not PDFS.is_dir(), reason="../shared/samples is absent on this machine")
class TestSharedPdfSamples:
    files = PDFS / "py-pdf-sample-files"
    resources = PDFS / "pypdf-resources" / "resources"

    def test_encrypted_with_empty_user_password_opens(self) -> None:
        path = self.resources / "encryption" / "r6-empty-password.pdf"
        assert "encryption test" in read_document(path, DocumentMeta(), "r6.pdf", MAX).text

    def test_password_protected_is_a_clear_error(self) -> None:
        path = self.files / "005-libreoffice-writer-password" / "libreoffice-writer-password.pdf"
        with pytest.raises(IngestError, match="protected by a password"):
            read_document(path, DocumentMeta(), "secret.pdf", MAX)

    def test_scanned_pdf_is_a_clear_error(self) -> None:
        path = self.files / "019-grayscale-image" / "grayscale-image.pdf"
        with pytest.raises(IngestError, match="scanned"):
            read_document(path, DocumentMeta(), "scan.pdf", MAX)

    def test_partly_scanned_pdf_warns_about_the_pages(self) -> None:
        path = self.files / "007-imagemagick-images" / "imagemagick-images.pdf"
        doc = read_document(path, DocumentMeta(), "mixed.pdf", MAX)
        assert any("no text layer" in w for w in doc.warnings)

    def test_arabic_pdf(self) -> None:
        doc = read_document(self.files / "015-arabic" / "habibi.pdf", DocumentMeta(), "a.pdf", MAX)
        assert doc.language == "ar"

    def test_long_book_keeps_page_numbers(self) -> None:
        path = self.files / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
        doc = read_document(path, DocumentMeta(), "book.pdf", MAX)
        assert doc.page_count == 117
        pages = [s.page for s in doc.segments]
        assert pages == sorted(pages) and pages[-1] <= 117

    def test_unreadable_pdf_is_a_clear_error(self) -> None:
        path = self.files / "017-unreadable-meta-data" / "unreadablemetadata.pdf"
        with pytest.raises(
            IngestError, match=r"unreadablemetadata\.pdf: not a readable PDF"
        ) as error:
            read_document(path, DocumentMeta(), "unreadablemetadata.pdf", MAX)
        assert "damaged or incomplete: copy or download it again" in str(error.value)

    def test_invisible_ocr_noise_is_indexed_with_a_warning(self) -> None:
        # A drawing on graph paper whose invisible OCR layer reads ":.,\ndP\n. .\ni, .", "LIL"…
        doc = read_document(self.resources / "issue-301.pdf", DocumentMeta(), "g.pdf", MAX)
        assert any("mostly stray marks" in w for w in doc.warnings)
        assert doc.title == "Issue 301"  # not "LIL", the largest noise on the page

    def test_ligatures_are_spelled_out(self) -> None:
        doc = read_document(self.resources / "crazyones.pdf", DocumentMeta(), "c.pdf", MAX)
        assert "The misfits." in doc.text and "things differently" in doc.text


def test_clean_page_text_spells_out_ligatures_and_drops_control_characters() -> None:
    assert clean_page_text("The misﬁts see things diﬀerently, ﬂoors, oﬃce") == (
        "The misfits see things differently, floors, office"
    )
    assert clean_page_text("g\x7f\x7f f\x01x\x0cy") == "g f x y"


def test_noise_warning_only_for_text_without_words() -> None:
    assert noise_warning(":.,\ndP\n. .\ni, .\n. . ?\n. i '\n»\n14\ne.\n:\n..\nPr\n" * 3)
    assert noise_warning("1\n\n2") is None  # too short to judge
    assert noise_warning("Beautiful is better than ugly. " * 5) is None
    prices = "302000001 10.12 散称华联粉条 2700549 334010053 0.5 红豆\n" * 5
    assert noise_warning(prices) is None


def test_text_layer_reading_stops_at_the_time_limit() -> None:
    # pypdf has no limit of its own: the reader checks the file's time limit between pages.
    result = read_pdf(REPORT, "report.pdf", ReadOptions(timeout_seconds=1e-9))
    assert [s.page for s in result.segments] == [1]
    assert result.page_count == 5
    assert any(
        "time limit" in w and "pages 2, 3, 4, 5 not read" in w and "QA_READ_TIMEOUT_S" in w
        for w in result.warnings
    )
