"""The running app over the real model, driven through its API with gradio_client."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from qa_assistant.records import answer_record
from qa_assistant.types import Answer
from qa_assistant.ui.app import ASK_QUEUE, build_app, respond
from qa_assistant.ui.library import ORGANISER_QUEUE, LibraryHandlers
from qa_assistant.ui.organiser import Organiser
from tests.conftest import UI_PASSWORD, FakeEmbedder, UIServer, fake_settings, free_port

pytestmark = pytest.mark.slow

AUH_QUESTION = "In which year was Argentina's Universal Child Allowance (AUH) introduced?"
OFF_TOPIC = "What were the football results last weekend?"
SINTYS = "2022-11-23-sintys"
HOSTILE_MD = """# Camel caravan logistics

Camel caravans crossing the Sahara carried salt blocks and dates between oases.
<script>alert(1)</script> The caravan master counted the camels every morning.
<img src=x onerror=alert(1)> Salt from Taoudenni was traded for gold in Timbuktu.
"""


@pytest.fixture(scope="module")
def client(ui_server: UIServer) -> Client:
    # The default client, as API users copy it from the docs (no download_files=False).
    return Client(ui_server.url, verbose=False)


def raw_call(url: str, endpoint: str, data: list[Any]) -> str:
    """Gradio's two-step HTTP call, as a script without gradio_client would make it."""
    base = f"{url.rstrip('/')}/gradio_api/call/{endpoint}"
    event = httpx.post(base, json={"data": data}).json()["event_id"]
    return httpx.get(f"{base}/{event}", timeout=30).text


def ask(client: Client, question: str, **options: Any) -> dict[str, Any]:
    result = client.predict(question, api_name="/ask", **options)
    assert isinstance(result, dict)
    return result


def test_only_the_documented_endpoints_are_public(client: Client) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/ask", "/add", "/remove", "/rebuild"}
    parameters = [p["parameter_name"] for p in endpoints["/ask"]["parameters"]]
    assert parameters == ["question", "top_k", "session", "speaker", "language", "doc_type"]
    assert all(p["parameter_has_default"] for p in endpoints["/ask"]["parameters"][1:])


def test_ask_returns_the_cli_json_with_citations_and_links(
    client: Client, ui_server: UIServer
) -> None:
    result = ask(client, AUH_QUESTION)
    expected_keys = answer_record(Answer("q", True, ())).keys()
    assert result.keys() == expected_keys
    assert result["answerable"] is True
    assert 1 <= len(result["hits"]) <= ui_server.settings.top_k
    pdf_hits = [hit for hit in result["hits"] if hit["source"].endswith("report_anses.pdf")]
    assert pdf_hits, [hit["citation"] for hit in result["hits"]]
    hit = pdf_hits[0]
    assert hit["citation"].startswith("Session 1 report: ANSES and lessons for Tunisia, p")
    assert hit["link"] == (
        f"/documents/{hit['doc_id']}/file/report_anses.pdf#page={hit['page_start']}"
    )
    pdf = httpx.get(ui_server.url.rstrip("/") + hit["link"].split("#")[0])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    spoken = [h for h in result["hits"] if h["source"] == "2022-11-10-anses/transcript.vtt"]
    for item in spoken:  # that session has a recording URL: transcript hits play it
        assert (
            item["link"]
            == f"https://example.org/recordings/2022-11-10-anses?t={int(item['time_start'])}"
        )


def test_filters_and_top_k_restrict_hits(client: Client) -> None:
    # Both sessions speak of how ANSES and SINTyS work together; the filter keeps one.
    result = ask(client, "How do ANSES and SINTyS work together?", top_k=3, session=SINTYS)
    assert 1 <= len(result["hits"]) <= 3
    assert {hit["session"] for hit in result["hits"]} == {SINTYS}
    result = ask(client, AUH_QUESTION, doc_type="transcript", language="es")
    assert {(hit["doc_type"], hit["language"]) for hit in result["hits"]} == {("transcript", "es")}
    with pytest.raises(AppError, match=r"(?i)top_k must be between 1 and 10"):
        ask(client, AUH_QUESTION, top_k=50)


def test_off_topic_question_is_not_covered(client: Client, ui_server: UIServer) -> None:
    result = ask(client, OFF_TOPIC)
    assert result["answerable"] is False, [h["score"] for h in result["hits"]]
    assert result["hits"] == []
    assert result["suggested_sessions"]
    history = respond(ui_server.assistant, OFF_TOPIC, [])
    assert "Not covered in the session materials" in history[-1]["content"]


def test_unauthenticated_callers_cannot_change_the_index(
    client: Client, ui_server: UIServer, tmp_path: Path
) -> None:
    before = ui_server.assistant.consistency()
    note = tmp_path / "note.md"
    note.write_text("# Intruder\n\nThis file must never be indexed.\n")
    doc_id = ui_server.assistant.list_documents()[0].doc_id
    for password in ("", "wrong"):
        with pytest.raises(AppError, match="password"):
            client.predict(files=[handle_file(str(note))], password=password, api_name="/add")
        with pytest.raises(AppError, match="password"):
            client.predict(doc_id=doc_id, password=password, api_name="/remove")
        with pytest.raises(AppError, match="password"):
            client.predict(password=password, api_name="/rebuild")
    with pytest.raises(AppError, match="password"):
        client.predict(doc_id=doc_id, api_name="/remove")  # no password at all
    # The UI's own (private) events are reachable over raw HTTP: their handlers check too.
    for endpoint, data in (
        ("library_remove", ["", doc_id]),
        ("library_remove", ["wrong", doc_id]),
        ("library_rebuild", [""]),
        ("library_replace", ["", doc_id, None]),
    ):
        assert "Wrong or missing organiser password" in raw_call(ui_server.url, endpoint, data)
    assert ui_server.assistant.consistency() == before
    # Nothing was written to the corpus either (other tests may have uploaded their own files).
    assert not list(ui_server.corpus.rglob("note.md"))


def test_upload_reports_then_answers_then_remove(client: Client, ui_server: UIServer) -> None:
    notes = Path(__file__).parent / "data" / "tunisia_amen.vtt"
    result = client.predict(
        files=[handle_file(str(notes))],
        password=UI_PASSWORD,
        session_id="2022-12-07-tunisia",
        session_title="Tunisia's AMEN social programme",
        session_date="2022-12-07",
        recording_url="https://example.org/recordings/amen",
        api_name="/add",
    )
    (report,) = result["files"]
    assert report["status"] == "indexed", report
    assert report["source"] == "uploads/2022-12-07-tunisia/tunisia_amen.vtt"
    assert report["passages"] >= 1 and report["cues"] >= 1
    assert (ui_server.corpus / report["source"]).is_file()

    answer = ask(client, "How many households does the AMEN programme cover?")
    top = answer["hits"][0]
    assert top["doc_id"] == report["doc_id"], [h["citation"] for h in answer["hits"]]
    assert top["session"] == "2022-12-07-tunisia"
    assert top["link"].startswith("https://example.org/recordings/amen?t=")

    removed = client.predict(doc_id=report["doc_id"], password=UI_PASSWORD, api_name="/remove")
    assert removed["doc_id"] == report["doc_id"]
    answer = ask(client, "How many households does the AMEN programme cover?", top_k=10)
    assert report["doc_id"] not in {hit["doc_id"] for hit in answer["hits"]}


def test_markup_in_a_document_is_shown_as_text(
    client: Client, ui_server: UIServer, tmp_path: Path
) -> None:
    hostile = tmp_path / "caravans.md"
    hostile.write_text(HOSTILE_MD, encoding="utf-8")
    result = client.predict(
        files=[handle_file(str(hostile))], password=UI_PASSWORD, api_name="/add"
    )
    doc_id = result["files"][0]["doc_id"]
    question = "What did camel caravans carry across the Sahara?"
    try:
        answer = ask(client, question)
        assert answer["hits"][0]["doc_id"] == doc_id
        assert "<script>" in answer["hits"][0]["text"]  # the API returns the text as it is
        html = respond(ui_server.assistant, question, [])[-1]["content"]
        assert "qa-card" in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<script" not in html and "<img" not in html
        base = ui_server.url.rstrip("/")
        served = httpx.get(f"{base}/documents/{doc_id}/file/caravans.md")
        assert served.headers["content-type"] == "text/plain; charset=utf-8"
        assert served.headers["x-content-type-options"] == "nosniff"
        link = answer["hits"][0]["link"]
        assert link.startswith(f"/documents/{doc_id}/text?from=")  # opens at the passage
        view = httpx.get(base + link.split("#")[0])
        assert '<mark id="passage">' in view.text and "<script>" not in view.text
    finally:
        client.predict(doc_id=doc_id, password=UI_PASSWORD, api_name="/remove")


def test_file_routes_serve_indexed_documents_only(ui_server: UIServer) -> None:
    address = urlsplit(ui_server.url)
    for path in (
        "/corpus/sessions.toml",
        "/corpus/2022-11-10-anses/report_anses.pdf",
        "/documents/../pyproject.toml",
        "/documents/%2e%2e/%2e%2e/etc/passwd",
        "/documents/..%2f..%2fetc%2fpasswd/file/x",
        "/documents//etc/passwd",
        "/documents/0123456789abcdef/file/sessions.toml",
    ):
        connection = http.client.HTTPConnection(address.hostname or "", address.port)
        connection.request("GET", path)  # sent as is: no client-side normalisation
        assert connection.getresponse().status == 404, path
        connection.close()


def test_asks_and_organiser_actions_have_separate_queues(tmp_path: Path) -> None:
    assistant_settings = fake_settings(tmp_path, admin_password="x")
    from qa_assistant.assistant import Assistant

    demo = build_app(Assistant(assistant_settings, embedder=FakeEmbedder()), assistant_settings)
    queues = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit) for fn in demo.fns.values()}
    assert queues["ask"][0] == queues["chat_turn"][0] == ASK_QUEUE
    assert queues["ask"][1] > 1
    for name in ("add", "remove", "rebuild", "library_add", "library_replace", "library_remove"):
        assert queues[name] == (ORGANISER_QUEUE, 1), name


def test_library_handlers_refuse_without_the_password(tmp_path: Path, corpus_copy: Path) -> None:
    settings = fake_settings(tmp_path, corpus_copy, admin_password=UI_PASSWORD)
    from qa_assistant.assistant import Assistant

    assistant = Assistant(settings, embedder=FakeEmbedder())
    assistant.add([corpus_copy])
    doc_id = assistant.list_documents()[0].doc_id
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nText.\n")
    before = assistant.consistency()
    for handlers in (
        LibraryHandlers(Organiser(assistant, settings)),
        LibraryHandlers(Organiser(assistant, settings.model_copy(update={"admin_password": None}))),
    ):
        for password in ("", "wrong", UI_PASSWORD if handlers.organiser.read_only else ""):
            with pytest.raises(gr.Error):
                handlers.add(password, [str(note)], "s", "", "", "", "", "")
            with pytest.raises(gr.Error):
                handlers.remove(password, doc_id)
            with pytest.raises(gr.Error):
                handlers.replace(password, doc_id, str(note))
            with pytest.raises(gr.Error):
                handlers.rebuild(password)
    assert assistant.consistency() == before
    assert not (corpus_copy / "uploads").exists()
    handlers = LibraryHandlers(Organiser(assistant, settings))
    rows, summary, *_ = handlers.add(UI_PASSWORD, [str(note)], "s", "", "", "", "", "")
    assert rows[0][:2] == ["uploads/s/note.md", "indexed"]
    assert summary.startswith("1 indexed")


class GateEmbedder(FakeEmbedder):
    """Holds any batch containing MARKER until released, to keep an add running."""

    MARKER = "gatekeeperword"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.left = threading.Event()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if any(self.MARKER in text for text in texts):
            self.entered.set()
            self.release.wait(timeout=20)
            self.left.set()
        return super().embed_passages(texts)


def test_questions_are_answered_while_an_add_runs(tmp_path: Path, corpus_copy: Path) -> None:
    from qa_assistant.assistant import Assistant
    from qa_assistant.ui.app import launch

    settings = fake_settings(tmp_path, corpus_copy, admin_password=UI_PASSWORD, port=free_port())
    embedder = GateEmbedder()
    assistant = Assistant(settings, embedder=embedder, link_base_url="/documents")
    assistant.add([corpus_copy])
    demo, url = launch(assistant, settings, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        note = tmp_path / "gate.md"
        note.write_text(f"# Gate\n\nThe {GateEmbedder.MARKER} paragraph.\n")
        job = client.submit(files=[handle_file(str(note))], password=UI_PASSWORD, api_name="/add")
        assert embedder.entered.wait(timeout=30), "the add never started embedding"
        answer = client.predict("What is the 1,000 Days Plan?", api_name="/ask")
        assert answer["answerable"] and answer["hits"]
        assert not embedder.left.is_set()  # the add still runs: the ask did not queue behind it
        embedder.release.set()
        assert job.result(timeout=30)["files"][0]["status"] == "indexed"
    finally:
        embedder.release.set()
        demo.close()
