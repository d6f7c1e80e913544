"""PowerPoint and Word readers: slides, notes, tables, groups; headings, sections, footnotes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.docx import read_docx
from qa_assistant.ingest.pptx import read_pptx

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
MATERIALS = SHARED / "samples" / "materials"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _material(folder: str, name: str) -> Path:
    path = MATERIALS / folder / name
    if not path.exists():
        pytest.skip("../shared/samples/materials not present")
    return path


def _segment_texts(result: ReadResult) -> list[str]:
    """Each segment's text; also checks the offsets are exact and trimmed."""
    texts = []
    for segment in result.segments:
        text = result.text[segment.char_start : segment.char_end]
        assert text and text == text.strip()
        texts.append(text)
    return texts


def _sample_names(folder: str) -> list[str]:
    path = MATERIALS / folder
    return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else ["-"]


# --- PowerPoint ---------------------------------------------------------------------------


def _build_deck(path: Path, core_title: str = "") -> Path:
    """Three slides: title + notes; a blank one; a table, a nested group and notes."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = core_title
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Budget overview"
    first.placeholders[1].text = "Quarterly numbers for the board"
    first.notes_slide.notes_text_frame.text = "Remember to mention the reserve fund."
    deck.slides.add_slide(deck.slide_layouts[6])  # blank: counted, not read
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Results by region"
    table = third.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(0, 0).text = "Spending per region"
    for row, (region, total) in enumerate([("North", "12"), ("South", "7")], start=1):
        table.cell(row, 0).text = region
        table.cell(row, 1).text = total
    group = third.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(4), Inches(2), Inches(1))
    box.text_frame.text = "Inside the group"
    inner = group.shapes.add_group_shape()
    inner.shapes.add_textbox(Inches(3), Inches(4), Inches(2), Inches(1)).text_frame.text = "Deep"
    third.notes_slide.notes_text_frame.text = "North grew fastest."
    deck.save(str(path))
    return path


def test_deck_has_one_segment_per_slide_with_text(tmp_path: Path) -> None:
    result = read_pptx(_build_deck(tmp_path / "deck.pptx"), "deck.pptx")
    texts = _segment_texts(result)
    assert result.kind == "report" and result.doc_format == "pptx"
    assert [s.page for s in result.segments] == [1, 3]  # the blank slide keeps its number
    assert result.page_count == 3
    assert [s.section for s in result.segments] == ["Budget overview", "Results by region"]
    assert texts[0].startswith("Budget overview\nQuarterly numbers for the board")
    assert texts[0].endswith("Notes: Remember to mention the reserve fund.")
    assert "Notes: North grew fastest." in texts[1] and "reserve fund" not in texts[1]
    assert result.warnings == (
        "1 of 3 slides have no text (pictures only?): 2; they are not searchable",
    )
    assert result.title == "Budget overview"


def test_deck_reads_tables_row_by_row_and_groups_recursively(tmp_path: Path) -> None:
    result = read_pptx(_build_deck(tmp_path / "deck.pptx"), "deck.pptx")
    lines = _segment_texts(result)[1].split("\n")
    assert lines[:4] == ["Results by region", "Spending per region", "North | 12", "South | 7"]
    assert "Inside the group" in lines and "Deep" in lines


def test_deck_title_from_properties_unless_default(tmp_path: Path) -> None:
    named = read_pptx(_build_deck(tmp_path / "a.pptx", "Board meeting, March"), "a.pptx")
    assert named.title == "Board meeting, March"
    default = read_pptx(_build_deck(tmp_path / "b.pptx", "PowerPoint Presentation"), "b.pptx")
    assert default.title == "Budget overview"


def test_slideshow_saved_as_pptx_is_read(tmp_path: Path) -> None:
    source = _build_deck(tmp_path / "deck.pptx")
    show = tmp_path / "show.pptx"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(show, "w") as copy:
        for item in archive.infolist():
            data = archive.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"presentation.main+xml", b"slideshow.main+xml")
                assert b"slideshow.main+xml" in data
            copy.writestr(item, data)
    result = read_pptx(show, "show.pptx")
    assert [s.page for s in result.segments] == [1, 3]


def test_deck_without_text_is_refused(tmp_path: Path) -> None:
    from pptx import Presentation

    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[6])
    deck.save(str(tmp_path / "empty.pptx"))
    with pytest.raises(IngestError, match=r"^empty\.pptx: no slide has any text"):
        read_pptx(tmp_path / "empty.pptx", "empty.pptx")


def test_not_a_zip_deck_names_file_and_remedy(tmp_path: Path) -> None:
    path = tmp_path / "notes.pptx"
    path.write_bytes(b"just some text, not a deck")
    not_zip = r"^notes\.pptx: not a readable PowerPoint file \(not a zip archive\); save it again"
    with pytest.raises(IngestError, match=not_zip):
        read_pptx(path, "notes.pptx")


def test_encrypted_deck_asks_for_an_unprotected_copy(tmp_path: Path) -> None:
    path = tmp_path / "locked.pptx"
    path.write_bytes(OLE_MAGIC + bytes(500) + "EncryptedPackage".encode("utf-16-le"))
    with pytest.raises(IngestError, match=r"^locked\.pptx: .*password; save an unprotected"):
        read_pptx(path, "locked.pptx")


def test_sample_slides_with_notes_only() -> None:
    path = _material("pptx", "edge_blank_slides_with_notes.pptx")
    result = read_pptx(path, path.name)
    texts = _segment_texts(result)
    assert result.page_count == 3 and [s.page for s in result.segments] == [1, 2, 3]
    assert texts[1] == "Notes: Some notes here: this first slide should use the Blank template"
    assert result.segments[1].section is None


def test_sample_conference_deck_notes_and_tables() -> None:
    path = _material("pptx", "en_conference_evaluation_comms.pptx")
    result = read_pptx(path, path.name)
    by_page = dict(zip([s.page for s in result.segments], _segment_texts(result), strict=True))
    assert result.page_count == 28 and len(by_page) == 28
    assert result.title == "How effective communication can help evaluation achieve influence"
    assert "Notes: Credible: make people believe." in by_page[21]
    assert "Notes:" not in by_page[1]
    assert "Context | Housing New model of service delivery" in by_page[10].split("\n")
    assert sum("Notes: " in text for text in by_page.values()) >= 11


def test_sample_table_deck() -> None:
    path = _material("pptx", "en_autogen_paper_table.pptx")
    result = read_pptx(path, path.name)
    table_slide = _segment_texts(result)[2].split("\n")
    assert result.segments[2].page == 3
    assert "ColA | ColB | ColC | ColD | ColE | ColF" in table_slide
    assert "1 | 2 | 3 | 4 | 5 | 6" in table_slide


def test_sample_slideshow_under_pptx_name() -> None:
    path = _material("pptx", "fr_ar_guide_bachelier_2018.pptx")
    result = read_pptx(path, path.name)
    assert result.page_count == 45
    assert "Guide du bachelier 2018" in result.text and "دليــــل الطــالب 2018" in result.text
    assert result.title and result.title != "Diapositive 1"  # the default core title is skipped


# --- Word ---------------------------------------------------------------------------------


def _build_report(path: Path) -> Path:
    """Title, H1/H2 headings, a table with a merged header, a localised heading style."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    report = docx.Document()
    report.add_heading("Annual report", 0)
    report.add_paragraph("An introduction before any heading.")
    report.add_heading("Methods", 1)
    report.add_paragraph("We counted birds.")
    report.add_heading("Sampling", 2)
    report.add_paragraph("Two sites were visited.")
    table = report.add_table(rows=3, cols=2)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Counts per site"
    for row, (site, count) in enumerate([("Lake", "40"), ("Forest", "12")], start=1):
        table.cell(row, 0).text = site
        table.cell(row, 1).text = count
    report.add_paragraph("After the table.")
    # A French template's heading: only its outline level says it is a level-1 heading.
    titre = report.styles.add_style("Titre Un", WD_STYLE_TYPE.PARAGRAPH)
    outline = OxmlElement("w:outlineLvl")
    outline.set(qn("w:val"), "0")
    titre.element.get_or_add_pPr().append(outline)
    report.add_paragraph("Résultats", style="Titre Un")
    report.add_paragraph("Les oiseaux sont nombreux.")
    report.save(str(path))
    return path


def test_report_sections_follow_the_heading_path(tmp_path: Path) -> None:
    result = read_docx(_build_report(tmp_path / "report.docx"), "report.docx")
    sections = dict(zip(_segment_texts(result), [s.section for s in result.segments], strict=True))
    assert result.kind == "report" and result.doc_format == "docx" and result.page_count is None
    assert result.title == "Annual report"
    assert sections["Annual report"] is None
    assert sections["An introduction before any heading."] is None
    assert sections["We counted birds."] == "Methods"
    assert sections["Two sites were visited."] == "Methods › Sampling"
    assert sections["Lake | 40"] == "Methods › Sampling"
    assert sections["Les oiseaux sont nombreux."] == "Résultats"


def test_report_keeps_body_order_and_reads_table_rows(tmp_path: Path) -> None:
    result = read_docx(_build_report(tmp_path / "report.docx"), "report.docx")
    texts = _segment_texts(result)
    start = texts.index("Two sites were visited.")
    assert texts[start : start + 5] == [
        "Two sites were visited.",
        "Counts per site",  # a merged cell is read once
        "Lake | 40",
        "Forest | 12",
        "After the table.",
    ]


def test_report_title_from_properties_first(tmp_path: Path) -> None:
    import docx

    path = _build_report(tmp_path / "report.docx")
    report = docx.Document(str(path))
    report.core_properties.title = "Birds 2024"
    report.save(str(path))
    assert read_docx(path, "report.docx").title == "Birds 2024"


def test_not_a_zip_report(tmp_path: Path) -> None:
    path = tmp_path / "memo.docx"
    path.write_bytes(b"plain words")
    with pytest.raises(IngestError, match=r"^memo\.docx: not a readable Word file.*as \.docx"):
        read_docx(path, "memo.docx")


def test_sample_encrypted_report() -> None:
    path = _material("docx", "edge_encrypted_password_is_pass.docx")
    with pytest.raises(IngestError) as caught:
        read_docx(path, path.name)
    assert str(caught.value) == (
        "edge_encrypted_password_is_pass.docx: the Word file is protected by a password; "
        "save an unprotected copy and add it again"
    )


def test_sample_truncated_and_empty_reports() -> None:
    truncated = _material("docx", "broken_truncated.docx")
    with pytest.raises(IngestError, match=r"^broken_truncated\.docx: .*damaged or incomplete"):
        read_docx(truncated, truncated.name)
    empty = _material("docx", "edge_empty.docx")
    with pytest.raises(IngestError, match=r"^edge_empty\.docx: the Word document has no text"):
        read_docx(empty, empty.name)


def test_sample_headings_and_tables() -> None:
    headings = _material("docx", "en_headings_h1_h2_h3.docx")
    result = read_docx(headings, headings.name)
    assert result.title == "First paragraph"  # the only Heading 1 names the document
    assert [s.section for s in result.segments][-1] == "Second paragraph › Third paragraph"
    tables = _material("docx", "en_tables_mammoth.docx")
    texts = _segment_texts(read_docx(tables, tables.name))
    assert texts == ["Above", "Top left | Top right", "Bottom left | Bottom right", "Below"]


def test_sample_footnotes() -> None:
    path = _material("docx", "en_footnotes_mammoth.docx")
    result = read_docx(path, path.name)
    texts = _segment_texts(result)
    assert texts[0] == "Ouch[1].[2]"
    assert "[1] A tachyon walks into a bar." in texts
    assert result.segments[texts.index("[2] Fin.")].section == "Footnotes"


def test_sample_arabic_un_headings() -> None:
    path = _material("docx", "ar_un_crc_general_comment_20.docx")
    result = read_docx(path, path.name)
    sections = {s.section for s in result.segments}
    assert result.title == "CRC/C/GC/20"
    assert "ثالثاً- حجج التركيز على المراهقين › بيئة صعبة" in sections
    assert len(result.text) > 50_000


# --- every sample reads or fails cleanly --------------------------------------------------


@pytest.mark.parametrize("name", _sample_names("pptx"))
def test_every_pptx_sample_reads_or_raises_ingest_error(name: str) -> None:
    path = _material("pptx", name)
    try:
        result = read_pptx(path, name)
    except IngestError as error:
        assert str(error).startswith(f"{name}: ")
        return
    assert _segment_texts(result) and result.page_count


@pytest.mark.parametrize("name", _sample_names("docx"))
def test_every_docx_sample_reads_or_raises_ingest_error(name: str) -> None:
    path = _material("docx", name)
    try:
        result = read_docx(path, name)
    except IngestError as error:
        assert str(error).startswith(f"{name}: ")
        return
    assert _segment_texts(result)
