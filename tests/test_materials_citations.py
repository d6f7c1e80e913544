"""Citations, links and cards for the new kinds of material: slides, web pages, recordings,
OCR'd scans; WebVTT export; titles from file names; the [series] table (pure, no model)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qa_assistant.answering import citation_label, citation_link, text_fragment
from qa_assistant.errors import QAError
from qa_assistant.export import to_webvtt, vtt_timestamp
from qa_assistant.ingest import title_from_file_name
from qa_assistant.ingest.manifest import corpus_series, load_manifest
from qa_assistant.types import (
    Citation,
    Document,
    DocumentInfo,
    Hit,
    Passage,
    Segment,
    Session,
)
from qa_assistant.ui.app import DEFAULT_SERIES, series_text
from qa_assistant.ui.render import render_hit

SESSION = Session("s1", "Session one", "2022-11-10", None)


def info(doc_format: str, kind: str = "report", recording_url: str | None = None) -> DocumentInfo:
    return DocumentInfo(
        doc_id="d1",
        source=f"s1/file.{doc_format}",
        sha256="0" * 64,
        title="The title",
        kind=kind,  # type: ignore[arg-type]
        doc_format=doc_format,
        language="en",
        session=SESSION,
        recording_url=recording_url,
        page_count=None,
        duration_seconds=None,
        passages=1,
        added_at="2026-01-01T00:00:00",
    )


def passage(**fields: object) -> Passage:
    values: dict[str, object] = {
        "passage_id": "p1",
        "doc_id": "d1",
        "text": "Some words said here.",
        "char_start": 0,
        "char_end": 21,
    }
    return Passage(**{**values, **fields})  # type: ignore[arg-type]


def test_a_slide_is_cited_by_its_number_and_links_to_the_deck() -> None:
    document, one = info("pptx"), passage(pages=(7, 7))
    assert citation_label(document, one) == "The title, slide 7"
    assert citation_label(document, passage(pages=(2, 3))) == "The title, slides 2–3"
    # A deck opens as the app's text view, at the passage (a browser cannot show a .pptx).
    assert citation_link(document, one, "/c", "/documents") == (
        "/documents/d1/text?from=0&to=21#passage"
    )


def test_a_recording_is_cited_by_time_and_plays_the_served_file_from_that_second() -> None:
    document = info("ogg", kind="transcript")
    spoken = passage(start_seconds=754.2, end_seconds=790.0)
    assert citation_label(document, spoken) == "Session one · 00:12:34–00:13:10"
    link = citation_link(document, spoken, "/c", "/documents")
    assert link == "/documents/d1/file/file.ogg#t=754"
    assert citation_link(document, spoken, "/c", None) == "file:///c/s1/file.ogg#t=754"
    hit = Hit(spoken, document, 0.9, 1, "hybrid", Citation("x", link))
    card = render_hit(hit, 0.8)
    player = f'<audio class="qa-player" controls preload="metadata" src="{link}">'
    assert player in card
    assert "Play the recording at 00:12:34" in card


def test_a_recording_with_a_url_opens_it_at_the_second_and_a_video_gets_a_video_player() -> None:
    online = info("mp4", kind="transcript", recording_url="https://example.org/v?x=1")
    spoken = passage(start_seconds=61.0, end_seconds=70.0)
    assert citation_link(online, spoken, "/c", "/documents") == "https://example.org/v?x=1&t=61"
    local = info("mp4", kind="transcript")
    hit = Hit(spoken, local, 0.9, 1, "hybrid", Citation("x", "/documents/d1/file/file.mp4#t=61"))
    assert '<video class="qa-player"' in render_hit(hit, 0.8)


def test_a_web_page_links_to_its_url_at_the_passage() -> None:
    page = info("html", recording_url="https://example.org/news")
    link = citation_link(page, passage(text="Tunisia and Argentina sign an agreement"), "/c", None)
    assert (
        link == "https://example.org/news#:~:text=Tunisia%20and%20Argentina%20sign%20an%20agreement"
    )
    assert text_fragment("") == ""


def test_ocr_passages_carry_a_tag_on_their_card() -> None:
    scanned = passage(pages=(3, 3), ocr=True)
    hit = Hit(scanned, info("pdf"), 0.9, 1, "hybrid", Citation("The title, p. 3", None))
    assert ">OCR</span>" in render_hit(hit, 0.8)
    assert ">OCR</span>" not in render_hit(replace(hit, passage=passage(pages=(3, 3))), 0.8)


def test_webvtt_export_keeps_times_and_speakers_and_cannot_be_broken_by_the_text() -> None:
    text = "Hello --> all.\n\nSecond <b>cue</b>."
    document = Document(
        doc_id="d1",
        source="r.ogg",
        sha256="0" * 64,
        title="Closing remarks",
        kind="transcript",
        doc_format="ogg",
        language="en",
        text=text,
        segments=(
            Segment(0, 14, start_seconds=1.5, end_seconds=4.25, speaker="Ana"),
            Segment(16, len(text), start_seconds=3661.0, end_seconds=3661.0),
        ),
    )
    vtt = to_webvtt(document)
    first_cue = "1\n00:00:01.500 --> 00:00:04.250\n<v Ana>Hello"
    assert vtt.startswith(f"WEBVTT - Closing remarks\n\n{first_cue}")
    assert "-->" not in vtt.split("\n")[4]  # the cue text's arrow cannot start a timing line
    assert "2\n01:01:01.000 --> 01:01:01.500\nSecond &lt;b&gt;cue&lt;/b&gt;." in vtt
    assert vtt_timestamp(0.0004) == "00:00:00.000"
    with pytest.raises(ValueError, match="not a timed transcript"):
        to_webvtt(replace(document, segments=(Segment(0, 5),)))


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("cias-fundar-mapa-de-politicas-sociales-2023-cc-by-nc-nd-4-0.pdf",
         "Cias fundar mapa de politicas sociales 2023"),
        ("Annual_Report_2022_final_v2.pdf", "Annual Report 2022"),
        ("session 3.docx", "Session 3"),
        ("RAPPORT_ANNUEL.pdf", "Rapport annuel"),
        ("cc-by.pdf", "Cc by"),
    ],
)  # fmt: skip
def test_titles_from_file_names_drop_licence_and_version_tails(name: str, title: str) -> None:
    assert title_from_file_name(Path(name)) == title


def test_series_table_gives_the_ui_its_title_description_and_examples(tmp_path: Path) -> None:
    (tmp_path / "sessions.toml").write_text(
        '[series]\ntitle = "Youth <b>forum</b>"\ndescription = "Ask *anything*."\n'
        'examples = ["What was agreed?", " "]\nlanguages = ["EN", "pt"]\n',
        encoding="utf-8",
    )
    series = corpus_series(tmp_path)
    assert series.examples == ("What was agreed?",)
    assert series.languages == ("en", "pt")
    shown = series_text(series)
    assert shown.title == "Youth &lt;b&gt;forum&lt;/b&gt;"
    assert shown.description == "Ask *anything*."
    assert series_text(corpus_series(tmp_path / "nowhere")) == DEFAULT_SERIES


def test_a_malformed_series_table_names_the_file(tmp_path: Path) -> None:
    manifest = tmp_path / "sessions.toml"
    manifest.write_text('[series]\nexamples = "one question"\n', encoding="utf-8")
    with pytest.raises(QAError, match=r"sessions.toml: \[series\] examples must be a list"):
        load_manifest(manifest)


def test_the_demo_corpus_keeps_its_series_text() -> None:
    series = corpus_series(Path(__file__).parent.parent / "corpus")
    assert series.title.startswith("Tunisia–Argentina social protection webinars")
    assert len(series.examples) == 5
