"""The organisers' feedback loop: the anonymous question log, votes, the Questions view behind
the password, the opt-out, and the judged export read back by `eval questions`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import gradio as gr
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from qa_assistant.assistant import Assistant
from qa_assistant.errors import QAError
from qa_assistant.eval_data import load_questions
from qa_assistant.feedback import LOG_FILE
from qa_assistant.ui.files import document_routes
from qa_assistant.ui.library import LibraryHandlers
from qa_assistant.ui.organiser import Organiser
from qa_assistant.ui.render import render_answer

from .conftest import UI_PASSWORD, FakeEmbedder, fake_settings

# Every column the log has: none holds a name, an address, a cookie or a client detail.
ALLOWED_COLUMNS = {
    "asks": {"ask_id", "asked_hour", "question", "normalized", "language", "answered",
             "session_filter"},
    "hits": {"ask_id", "rank", "doc_id", "source", "session", "citation", "score", "page_start",
             "page_end", "time_start", "time_end"},
    "votes": {"ask_id", "rank", "vote"},
}  # fmt: skip


@pytest.fixture
def assistant(tmp_path: Path, corpus_copy: Path) -> Assistant:
    settings = fake_settings(tmp_path, corpus_copy, admin_password=UI_PASSWORD)
    assistant = Assistant(settings, embedder=FakeEmbedder(), link_base_url="/documents")
    assistant.add([corpus_copy / "2022-11-10-anses" / "report_anses.pdf"])
    return assistant


def test_questions_and_votes_are_logged_anonymously_and_ranked_for_organisers(
    assistant: Assistant,
) -> None:
    first = assistant.ask("What is the 1,000 Days Plan?")
    again = assistant.ask("what is the 1,000 days plan")  # the same question, typed again
    other = assistant.ask("Universal Child Allowance AUH")
    assert first.ask_id and again.ask_id and other.ask_id and first.ask_id != again.ask_id
    assistant.vote(first.ask_id, 1, helpful=True)
    assistant.vote(other.ask_id, 1, helpful=False)
    assistant.vote(other.ask_id, 1, helpful=False)  # a second vote replaces the first
    with pytest.raises(QAError, match="no such answer"):
        assistant.vote("0" * 24, 1, helpful=True)
    summaries = assistant.question_summaries()
    assert [(s.asked, s.helpful, s.unhelpful) for s in summaries] == [(1, 0, 1), (2, 1, 0)]
    assert summaries[0].question == "Universal Child Allowance AUH"  # 👎 first
    with sqlite3.connect(assistant.settings.index_dir / LOG_FILE) as db:
        for table, allowed in ALLOWED_COLUMNS.items():
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            assert columns == allowed, table
        hours = [row[0] for row in db.execute("SELECT asked_hour FROM asks")]
    assert all(hour.endswith(":00") for hour in hours)  # the hour only, not the moment


def test_the_judged_export_reads_back_as_an_eval_questions_file(
    assistant: Assistant, corpus_copy: Path, tmp_path: Path
) -> None:
    from qa_assistant.feedback import judged_jsonl

    answer = assistant.ask("What is the 1,000 Days Plan?")
    assert answer.ask_id
    top = answer.hits[0]
    assistant.vote(answer.ask_id, top.rank, helpful=True)
    path = tmp_path / "judged.jsonl"
    path.write_text(judged_jsonl(assistant.judged_questions()), encoding="utf-8")
    judged = load_questions(path, corpus_copy)
    (question,) = judged.questions
    assert question.question == "What is the 1,000 Days Plan?" and question.answerable
    location = question.locations[0]
    assert location.doc == top.document.source
    assert top.passage.pages and location.pages[0] == top.passage.pages[0]


def test_logging_can_be_turned_off(tmp_path: Path, corpus_copy: Path) -> None:
    settings = fake_settings(tmp_path, corpus_copy, log_questions=False)
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assistant.add([corpus_copy / "summary_en.md"])
    answer = assistant.ask("What is SINTyS?")
    assert answer.ask_id is None
    assert "qa-vote" not in render_answer(answer)  # no buttons when nothing is logged
    assert not (settings.index_dir / LOG_FILE).exists()


def test_cards_carry_votes_and_the_route_records_them(assistant: Assistant) -> None:
    answer = assistant.ask("What is the 1,000 Days Plan?")
    html = render_answer(answer)
    assert html.count('class="qa-vote qa-up"') == len(answer.hits)
    assert f'<code class="qa-askid">{answer.ask_id}</code>' in html
    client = TestClient(Starlette(routes=document_routes(assistant)))
    vote = {"ask_id": answer.ask_id, "rank": 1, "helpful": True}
    assert client.post("/feedback", json=vote).status_code == 204
    assert client.post("/feedback", json={**vote, "rank": 99}).status_code == 404
    for bad in ({"ask_id": 5, "rank": 1, "helpful": True}, {"rank": 1}, {**vote, "rank": "1"}):
        assert client.post("/feedback", json=bad).status_code == 400
    assert client.post("/feedback", content=b"not json").status_code == 400
    assert assistant.question_summaries()[0].helpful == 1


def test_the_questions_view_needs_the_password_and_exports_files(assistant: Assistant) -> None:
    assistant.ask("What is the 1,000 Days Plan?")
    handlers = LibraryHandlers(Organiser(assistant, assistant.settings))
    for wrong in ("", "guess"):
        with pytest.raises(gr.Error):
            handlers.questions(wrong, "")
    rows, table, judged = handlers.questions(UI_PASSWORD, "")
    assert rows[0][0] == "What is the 1,000 Days Plan?" and rows[0][1] == 1
    assert Path(table).read_text(encoding="utf-8").startswith("question,language,asked")
    assert Path(judged).read_text(encoding="utf-8") == ""  # nothing judged yet
