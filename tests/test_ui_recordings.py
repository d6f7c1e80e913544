"""A recording added from the Library tab: progress with the time left, questions answered
meanwhile, and the transcript downloadable as WebVTT. Real Whisper, fake embedder."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.ui.library import LibraryHandlers
from qa_assistant.ui.organiser import Organiser
from tests.conftest import CORPUS, UI_PASSWORD, FakeEmbedder, fake_settings

RECORDING = CORPUS / "2022-11-10-anses" / "closing_remarks.ogg"


class RecordedProgress:
    """Stands in for gr.Progress: keeps every (share, message) the handler reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[float | None, str]] = []

    def __call__(self, progress: float | None, desc: str | None = None) -> None:
        self.calls.append((progress, desc or ""))


@pytest.mark.slow
def test_library_shows_transcription_progress_answers_meanwhile_and_offers_the_vtt(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS / "2022-11-23-sintys", corpus / "2022-11-23-sintys")
    # A cache of its own: no transcript of this recording is there, so it is transcribed now.
    settings = fake_settings(
        tmp_path, corpus, admin_password=UI_PASSWORD, cache_dir=tmp_path / "cache"
    )
    assistant = Assistant(settings, embedder=FakeEmbedder())
    assistant.add([corpus])
    handlers = LibraryHandlers(Organiser(assistant, settings))
    upload = tmp_path / "closing remarks.ogg"
    shutil.copyfile(RECORDING, upload)
    progress = RecordedProgress()
    answered_during: list[float] = []

    def add() -> None:
        handlers.add(UI_PASSWORD, [str(upload)], "s1", "Session one", "", "", "en", "", progress)  # type: ignore[arg-type]

    worker = threading.Thread(target=add)
    worker.start()
    while worker.is_alive():
        if any("transcribing" in message for _, message in progress.calls):
            started = time.perf_counter()
            answer = assistant.ask("What does SINTyS do?")
            if worker.is_alive():
                answered_during.append(time.perf_counter() - started)
                assert answer.hits
                break
        time.sleep(0.2)
    worker.join(timeout=300)
    assert answered_during, "no question was answered while the recording was transcribed"
    messages = [message for _, message in progress.calls]
    assert any("left" in message for message in messages), messages
    shares = [share for share, message in progress.calls if "transcribing" in message]
    assert shares and all(share is not None and 0 <= share <= 1 for share in shares)
    assert shares == sorted(shares)  # the bar only moves forward
    recording = next(d for d in assistant.list_documents() if d.doc_format == "ogg")
    assert recording.session is not None and recording.session.session_id == "s1"
    download = handlers.transcript(recording.doc_id)
    vtt = Path(download["value"]).read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and "mobile units" in vtt
