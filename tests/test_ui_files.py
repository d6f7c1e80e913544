"""The UI's file edges: password check, upload names, the /documents routes (no gradio, no
model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from qa_assistant.assistant import Assistant
from qa_assistant.errors import PermissionDeniedError
from qa_assistant.ui.files import (
    FailureThrottle,
    check_password,
    document_routes,
    safe_filename,
    store_upload,
)

from .conftest import FakeEmbedder, fake_settings


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
def served(tmp_path: Path) -> tuple[TestClient, Assistant, Path]:
    """The document routes over a fake-embedder index with a file inside the corpus folder,
    one added from elsewhere, and files that are not indexed."""
    corpus = tmp_path / "corpus"
    (corpus / "s1").mkdir(parents=True)
    (corpus / "s1" / "notes.md").write_text("# Notes\n\n<script>alert(1)</script> Inside.\n")
    (corpus / "secret.md").write_text("# Not indexed\n\nNever served.\n")
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    outside = elsewhere / "report.md"
    outside.write_text("# Outside\n\nA report added from a folder outside the corpus.\n")
    assistant = Assistant(fake_settings(tmp_path, corpus), embedder=FakeEmbedder())
    assistant.add([corpus / "s1" / "notes.md", outside])
    client = TestClient(Starlette(routes=document_routes(assistant)))
    return client, assistant, outside


def test_documents_are_served_by_id_wherever_they_were_added_from(
    served: tuple[TestClient, Assistant, Path],
) -> None:
    client, assistant, outside = served
    by_source = {d.source: d for d in assistant.list_documents()}
    inside = by_source["s1/notes.md"]
    external = by_source[str(outside.resolve())]
    response = client.get(f"/documents/{external.doc_id}/file/report.md")
    assert response.status_code == 200
    assert response.text.startswith("# Outside")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert str(outside.parent) not in response.headers.get("content-disposition", "")
    notes = client.get(f"/documents/{inside.doc_id}/file/notes.md")
    assert notes.status_code == 200 and "<script>" in notes.text  # as text, never as HTML
    assert notes.headers["content-security-policy"] == "sandbox"


def test_the_text_view_marks_the_passage_and_escapes_the_document(
    served: tuple[TestClient, Assistant, Path],
) -> None:
    client, assistant, _ = served
    inside = next(d for d in assistant.list_documents() if d.source == "s1/notes.md")
    text = assistant.stored_document(inside.doc_id).text  # type: ignore[union-attr]
    start = text.index("Inside")
    page = client.get(f"/documents/{inside.doc_id}/text?from={start}&to={start + 7}")
    assert page.status_code == 200
    assert '<mark id="passage">Inside.</mark>' in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    plain = client.get(f"/documents/{inside.doc_id}/text?from=5&to=999999")
    assert plain.status_code == 200 and "<mark" not in plain.text  # out of range: no mark


def test_only_indexed_documents_are_served(served: tuple[TestClient, Assistant, Path]) -> None:
    client, assistant, outside = served
    for bad in (
        "/documents/0000000000000000/file/secret.md",
        "/documents/../secret.md",
        "/documents/%2e%2e/file/secret.md",
        "/documents/s1/file/notes.md",
        "/documents/0000000000000000/text",
        "/corpus/secret.md",
    ):
        assert client.get(bad).status_code == 404, bad
    external = next(d for d in assistant.list_documents() if d.source.startswith("/"))
    outside.unlink()  # moved away since it was added: a clear 404, not a crash
    gone = client.get(f"/documents/{external.doc_id}/file/report.md")
    assert gone.status_code == 404
    assert "no longer where it was added from" in gone.text


def test_repeated_wrong_passwords_are_slowed_down() -> None:
    now = [0.0]
    waited: list[float] = []
    throttle = FailureThrottle(clock=lambda: now[0], sleep=waited.append)
    for _ in range(9):
        with pytest.raises(PermissionDeniedError):
            throttle.check("secret", "guess")
        now[0] += 1
    # five free tries, then 0.25, 0.5, 1, 2 seconds (doubling, capped at MAX_DELAY_S)
    assert waited == [0.25, 0.5, 1.0, 2.0]
    throttle.check("secret", "secret")  # the right password is never delayed
    now[0] += FailureThrottle.WINDOW_S + 10  # old failures are forgotten
    with pytest.raises(PermissionDeniedError):
        throttle.check("secret", "typo")
    assert waited == [0.25, 0.5, 1.0, 2.0]
    with pytest.raises(PermissionDeniedError, match="read-only"):
        throttle.check(None, "x")  # read-only servers refuse at once: nothing to guess
    assert waited == [0.25, 0.5, 1.0, 2.0]
