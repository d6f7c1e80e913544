"""The CLI end to end on the demo corpus (fake embedder for speed; the real one in slow tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_assistant import embedding
from qa_assistant.cli import cli

from .conftest import FakeEmbedder


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, corpus_copy: Path) -> CliRunner:
    """A CliRunner whose commands use the fake embedder and an index in tmp_path."""

    def fake(model: str, cache_dir: Path, threads: int = 2, batch_size: int = 16) -> FakeEmbedder:
        return FakeEmbedder()

    monkeypatch.setattr(embedding, "SentenceTransformerEmbedder", fake)
    monkeypatch.setenv("QA_EMBEDDING_BACKEND", "torch")  # the class patched above
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_CORPUS_DIR", str(corpus_copy))
    monkeypatch.setenv("QA_MODEL", "fake-bow")
    monkeypatch.setenv("QA_MIN_SCORE", "0.1")
    return CliRunner()


def test_add_list_ask_remove(runner: CliRunner, corpus_copy: Path) -> None:
    added = runner.invoke(cli, ["add", str(corpus_copy)])
    assert added.exit_code == 0, added.output
    assert "indexed   2022-11-10-anses/report_anses.pdf  19 passages, 5 pages" in added.output
    assert "indexed   2022-11-23-sintys/slides_sintys.pptx" in added.output
    assert "passages, 6 slides" in added.output
    assert "indexed   2022-11-10-anses/closing_remarks.ogg" in added.output
    assert "language: en" in added.output or "transcript reused" in added.output
    assert "8 indexed" in added.output

    again = runner.invoke(cli, ["add", str(corpus_copy)])
    assert "8 unchanged; 0 passages" in again.output

    listed = runner.invoke(cli, ["list", "--json"])
    documents = json.loads(listed.output)
    assert len(documents) == 8
    assert {"doc_id", "source", "title", "session", "doc_type", "language", "passages"} <= set(
        documents[0]
    )

    asked = runner.invoke(cli, ["ask", "SINTyS interoperability CNCPS", "-k", "3", "--json"])
    assert asked.exit_code == 0, asked.output
    record = json.loads(asked.output)
    assert record["question"] == "SINTyS interoperability CNCPS" and record["answerable"]
    hit = record["hits"][0]
    expected = {
        "rank",
        "score",
        "doc_id",
        "title",
        "source",
        "doc_type",
        "session",
        "language",
        "page_start",
        "page_end",
        "time_start",
        "time_end",
        "speaker",
        "text",
        "highlights",
        "citation",
        "link",
    }
    assert expected <= set(hit)
    assert len(record["hits"]) <= 3

    text = runner.invoke(cli, ["ask", "SINTyS", "--session", "2022-11-23-sintys"])
    assert "[1]" in text.output and "2022-11-10" not in text.output

    pdf = next(d for d in documents if d["format"] == "pdf")
    removed = runner.invoke(cli, ["remove", pdf["doc_id"]])
    assert removed.exit_code == 0 and "removed 2022-11-10-anses/report_anses.pdf" in removed.output
    assert len(json.loads(runner.invoke(cli, ["list", "--json"]).output)) == 7


def test_ask_from_file_prints_one_object_per_question(
    runner: CliRunner, corpus_copy: Path, tmp_path: Path
) -> None:
    runner.invoke(cli, ["add", str(corpus_copy)])
    questions = tmp_path / "q.txt"
    questions.write_text("ANSES\n\n# comment\nSINTyS\nPlan 1000 Días\n", encoding="utf-8")
    result = runner.invoke(cli, ["ask", "-f", str(questions), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [r["question"] for r in lines] == ["ANSES", "SINTyS", "Plan 1000 Días"]


def test_bad_input_is_reported_and_exit_status_reflects_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")
    only_bad = runner.invoke(cli, ["add", str(bad)])
    assert only_bad.exit_code == 1
    assert "bad.pdf" in only_bad.output and "no %PDF header" in only_bad.output
    good = tmp_path / "good.md"
    good.write_text("# Notes\n\nThe AUH is paid by ANSES.\n", encoding="utf-8")
    mixed = runner.invoke(cli, ["add", str(bad), str(good)])
    assert mixed.exit_code == 0 and "1 indexed" in mixed.output and "1 failed" in mixed.output


def test_errors_are_messages_not_tracebacks(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["ask", "anything"])
    assert result.exit_code == 1
    assert "no index" in result.output and "qa-assistant add" in result.output
    assert "Traceback" not in result.output


def test_every_command_has_an_example() -> None:
    runner = CliRunner()
    for command in ("add", "remove", "list", "rebuild", "ask"):
        result = runner.invoke(cli, [command, "--help"])
        assert "Example:" in result.output and "qa-assistant" in result.output


def test_transcript_prints_a_recording_as_webvtt(runner: CliRunner, corpus_copy: Path) -> None:
    runner.invoke(cli, ["add", str(corpus_copy)])
    printed = runner.invoke(cli, ["transcript", "2022-11-10-anses/closing_remarks.ogg"])
    assert printed.exit_code == 0, printed.output
    assert printed.output.startswith("WEBVTT - Session 1 closing remarks (recording)\n\n1\n00:00:0")
    assert "mobile units" in printed.output
    target = corpus_copy.parent / "remarks.vtt"
    written = runner.invoke(
        cli, ["transcript", "2022-11-10-anses/closing_remarks.ogg", "-o", str(target)]
    )
    assert written.exit_code == 0 and target.read_text("utf-8") == printed.output
    report = runner.invoke(cli, ["transcript", "2022-11-10-anses/report_anses.pdf"])
    assert report.exit_code == 1
    assert "has no times (a pdf document)" in report.output


def test_ask_json_links_to_local_files_or_to_the_public_server(
    runner: CliRunner, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.invoke(cli, ["add", str(corpus_copy)])
    question = ["ask", "Session 1 report ANSES lessons for Tunisia", "-k", "1", "--json"]
    local = json.loads(runner.invoke(cli, question).stdout)["hits"][0]
    assert local["source"] == "2022-11-10-anses/report_anses.pdf"
    assert local["link"].startswith(f"file://{corpus_copy}/2022-11-10-anses/report_anses.pdf#page=")
    monkeypatch.setenv("QA_PUBLIC_URL", "https://qa.example.org/")
    public = json.loads(runner.invoke(cli, question).stdout)["hits"][0]
    assert public["link"] == (
        f"https://qa.example.org/documents/{public['doc_id']}/file/report_anses.pdf"
        f"#page={public['page_start']}"
    )
