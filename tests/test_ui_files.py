"""The UI's file edges: password check, upload names, the /corpus route (no gradio, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from qa_assistant.errors import PermissionDeniedError
from qa_assistant.ui.files import (
    check_password,
    corpus_file,
    corpus_route,
    safe_filename,
    store_upload,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.PDF", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\notes.md", "notes.md"),
        (".bashrc", "bashrc"),
        ("..", "upload"),
        ("", "upload"),
        ("my notes (v2).md", "my_notes_v2.md"),
        ("<script>alert(1)</script>.vtt", "script.vtt"),
        ("résumé_تونس.txt", "résumé_تونس.txt"),
        ("a\x00b\nc.srt", "a_b_c.srt"),
        ("x" * 300 + ".md", "x" * 117 + ".md"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_store_upload_stays_inside_uploads(tmp_path: Path) -> None:
    source = tmp_path / "in.md"
    source.write_text("hello")
    corpus = tmp_path / "corpus"
    stored = store_upload(source, corpus, "../../escape", "../../evil.md")
    assert stored.resolve().is_relative_to((corpus / "uploads").resolve())
    assert stored.name == "evil.md"
    assert stored.read_text() == "hello"


def test_password_is_required_and_compared() -> None:
    check_password("secret", "secret")
    for given in (None, "", "secre", "secret ", "SECRET"):
        with pytest.raises(PermissionDeniedError, match="password"):
            check_password("secret", given)
    with pytest.raises(PermissionDeniedError, match="read-only"):
        check_password(None, "anything")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "s1").mkdir(parents=True)
    (root / "s1" / "report.pdf").write_bytes(b"%PDF-1.4 fake")
    (root / "s1" / "notes.md").write_text("<script>alert(1)</script>")
    (root / "sessions.toml").write_text("[sessions]")
    (root / ".hidden.md").write_text("hidden")
    (tmp_path / "secret.md").write_text("outside")
    (root / "link.md").symlink_to(tmp_path / "secret.md")
    return root


def test_corpus_file_refuses_paths_outside(corpus: Path) -> None:
    assert corpus_file(corpus, "s1/report.pdf") == (corpus / "s1" / "report.pdf").resolve()
    for bad in (
        "../secret.md",
        "s1/../../secret.md",
        "/etc/passwd",
        str(corpus / "s1" / "report.pdf"),
        "link.md",
        ".hidden.md",
        "sessions.toml",
        "s1",
        "missing.pdf",
        "s1/report.pdf\x00.md",
    ):
        assert corpus_file(corpus, bad) is None, bad


def test_corpus_route_serves_pdf_and_plain_text(corpus: Path) -> None:
    client = TestClient(Starlette(routes=[corpus_route(corpus)]))
    pdf = client.get("/corpus/s1/report.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    notes = client.get("/corpus/s1/notes.md")
    assert notes.headers["content-type"] == "text/plain; charset=utf-8"
    assert notes.headers["x-content-type-options"] == "nosniff"
    for bad in ("/corpus/../secret.md", "/corpus/%2e%2e/secret.md", "/corpus/sessions.toml"):
        assert client.get(bad).status_code == 404, bad
