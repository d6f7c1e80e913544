"""Markup inside documents is shown as text, never run: a PDF, a caption file and a Word file
carrying `<script>` and `onerror` payloads, through the real readers, search and the cards."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from qa_assistant.assistant import Assistant
from qa_assistant.ui.files import document_routes
from qa_assistant.ui.render import render_answer

from .conftest import FakeEmbedder, fake_settings

SCRIPT = "<script>alert('xss')</script>"
IMAGE = "<img src=x onerror=alert('xss')>"


def hostile_pdf(path: Path) -> None:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 760, f"Lighthouse keepers trimmed the lamp wicks {SCRIPT} every evening.")
    pdf.drawString(72, 740, f"The keeper wrote the weather in a logbook {IMAGE} each night.")
    pdf.save()


def hostile_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading(f"Caravans {IMAGE}", level=1)
    document.add_paragraph(f"Camel caravans carried salt across the Sahara {SCRIPT} for centuries.")
    document.save(str(path))


HOSTILE_VTT = f"""WEBVTT

00:00:01.000 --> 00:00:05.000
<v Ana {IMAGE}>Beekeepers moved their hives {SCRIPT} to the orange groves.

00:00:05.000 --> 00:00:09.000
The honey harvest doubled <b onmouseover=alert(1)>that spring</b>.
"""


@pytest.fixture
def assistant(tmp_path: Path) -> Assistant:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    hostile_pdf(corpus / "lighthouse.pdf")
    hostile_docx(corpus / "caravans.docx")
    (corpus / "bees.vtt").write_text(HOSTILE_VTT, encoding="utf-8")
    assistant = Assistant(
        fake_settings(tmp_path, corpus), embedder=FakeEmbedder(), link_base_url="/documents"
    )
    report = assistant.add([corpus])
    assert [f.status for f in report.files] == ["indexed"] * 3, report
    return assistant


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("lighthouse keepers lamp wicks logbook", "lighthouse.pdf"),
        ("camel caravans salt Sahara", "caravans.docx"),
        ("beekeepers hives orange groves honey", "bees.vtt"),
    ],
)
def test_payloads_in_documents_are_escaped_in_cards_and_in_the_text_view(
    assistant: Assistant, question: str, source: str
) -> None:
    answer = assistant.ask(question, top_k=1)
    hit = answer.hits[0]
    assert hit.document.source == source
    assert "<script>" in hit.passage.text or "onerror" in hit.passage.text + hit.citation.label
    html = render_answer(answer)
    # No payload is live markup; each is shown as escaped text.
    assert "<script" not in html and "<img" not in html and "<b " not in html
    assert "&lt;script&gt;" in html or "&lt;img src=x onerror" in html
    client = TestClient(Starlette(routes=document_routes(assistant)))
    page = client.get((hit.citation.link or "").split("#")[0])
    assert page.status_code == 200
    assert "<script" not in page.text.lower() and "<img" not in page.text.lower()
    if "text?from=" in (hit.citation.link or ""):  # the text view of a caption or Word file
        assert "&lt;script&gt;" in page.text or "&lt;img" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
