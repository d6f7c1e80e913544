"""Organiser actions of the Library tab over the fake embedder: upload, replace, remove."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.errors import PermissionDeniedError, QAError
from qa_assistant.ui.organiser import Organiser, UploadForm
from tests.conftest import FakeEmbedder, fake_settings

PASSWORD = "pw"


@pytest.fixture
def organiser(tmp_path: Path, corpus_copy: Path) -> Organiser:
    settings = fake_settings(tmp_path, corpus_copy, admin_password=PASSWORD)
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assistant.add([corpus_copy])
    return Organiser(assistant, settings)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_upload_goes_to_the_session_folder_with_its_metadata(
    organiser: Organiser, tmp_path: Path
) -> None:
    upload = write(tmp_path / "Notes (draft).md", "# Draft notes\n\nCash transfers in Gafsa.\n")
    form = UploadForm(
        session_id="2022-12-07-tunisia",
        session_title="Tunisia",
        session_date="2022-12-07",
        recording_url="https://example.org/rec",
        language="en",
        title="Draft notes of session 3",
    )
    report = organiser.add(PASSWORD, [upload], form)
    (item,) = report.files
    assert item.status == "indexed"
    assert item.path == "uploads/2022-12-07-tunisia/Notes_draft.md"
    document = next(d for d in organiser.documents() if d.doc_id == item.doc_id)
    assert document.title == "Draft notes of session 3"
    assert document.session is not None and document.session.title == "Tunisia"
    assert document.recording_url == "https://example.org/rec"


def test_known_session_keeps_its_title_and_date(organiser: Organiser, tmp_path: Path) -> None:
    upload = write(tmp_path / "extra.md", "# Extra\n\nMore about ANSES offices.\n")
    report = organiser.add(PASSWORD, [upload], UploadForm(session_id="2022-11-10-anses"))
    document = next(d for d in organiser.documents() if d.doc_id == report.files[0].doc_id)
    assert document.session is not None
    assert document.session.title == "Argentina's National Social Security Administration (ANSES)"
    assert document.session.date == "2022-11-10"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (UploadForm(recording_url="javascript:alert(1)"), "recording URL"),
        (UploadForm(session_id="s", session_date="10/11/2022"), "YYYY-MM-DD"),
        (UploadForm(language="english"), "language"),
    ],
)
def test_bad_metadata_is_refused(
    organiser: Organiser, tmp_path: Path, form: UploadForm, message: str
) -> None:
    upload = write(tmp_path / "x.md", "# X\n\ntext\n")
    with pytest.raises(QAError, match=message):
        organiser.add(PASSWORD, [upload], form)


def test_replace_in_place_keeps_the_path(organiser: Organiser, tmp_path: Path) -> None:
    old = next(d for d in organiser.documents() if d.source == "summary_en.md")
    new = write(tmp_path / "whatever name.md", "# Series summary v2\n\nA shorter summary.\n")
    (item,) = organiser.replace(PASSWORD, old.doc_id, new).files
    assert (item.status, item.path) == ("replaced", "summary_en.md")
    assert (organiser.settings.corpus_dir / "summary_en.md").read_text().startswith("# Series")
    sources = [d.source for d in organiser.documents()]
    assert sources.count("summary_en.md") == 1
    replaced = next(d for d in organiser.documents() if d.source == "summary_en.md")
    assert replaced.title == old.title
    assert replaced.doc_id != old.doc_id


def test_replace_with_another_type_swaps_the_documents(
    organiser: Organiser, tmp_path: Path
) -> None:
    old = next(d for d in organiser.documents() if d.source == "2022-11-23-sintys/resume_fr.md")
    new = write(tmp_path / "resume.txt", "Résumé de la session 2, nouvelle version.\n")
    (item,) = organiser.replace(PASSWORD, old.doc_id, new).files
    assert item.status == "indexed"
    assert item.path == "uploads/2022-11-23-sintys/resume.txt"
    ids = {d.doc_id for d in organiser.documents()}
    assert old.doc_id not in ids and item.doc_id in ids


def test_remove_and_rebuild_need_the_password(organiser: Organiser) -> None:
    doc_id = organiser.documents()[0].doc_id
    with pytest.raises(PermissionDeniedError):
        organiser.remove("nope", doc_id)
    with pytest.raises(PermissionDeniedError):
        organiser.rebuild(None)
    removed = organiser.remove(PASSWORD, doc_id)
    assert removed.doc_id == doc_id
    assert doc_id not in {d.doc_id for d in organiser.documents()}
    with pytest.raises(QAError, match="no document"):
        organiser.remove(PASSWORD, doc_id)
    assert organiser.rebuild(PASSWORD).documents == len(organiser.documents())
