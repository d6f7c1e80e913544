"""Writers take turns (INDEX_DIR/write.lock); readers never wait and never see half a change.

Processes run the installed CLI with the test FakeEmbedder as model (see test_crash_safety).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.errors import QAError
from qa_assistant.index_store import read_current
from qa_assistant.locking import LOCK_FILE, write_lock
from qa_assistant.types import Answer

from .conftest import REPO, FakeEmbedder
from .test_crash_safety import (
    QUESTION,
    assert_sound,
    cli_env,
    note,
    output,
    run_cli,
    source_of,
    start_cli,
)

WAITING = "another qa-assistant process is writing to {index} (pid {pid}); waiting"


def write_notes(folder: Path, numbers: range, lines: int = 40) -> set[str]:
    """Generated notes in `folder`; their sources relative to its parent (the corpus)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        (folder / f"note_{number:04d}.txt").write_text(note(number, lines), encoding="utf-8")
    return {f"{folder.name}/note_{number:04d}.txt" for number in numbers}


def fake_settings(index: Path, corpus: Path) -> Settings:
    """In-process settings matching `cli_env`."""
    return Settings(
        index_dir=index,
        corpus_dir=corpus,
        model=FakeEmbedder.name,
        rerank=False,
        highlight_sentences=0,
        min_score=0.0,
    )


def wait_until_locked_by(index: Path, process: subprocess.Popen[bytes]) -> None:
    """Until `process` holds the write lock (the holder writes its pid into the lock file)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if (index / LOCK_FILE).read_text().strip() == str(process.pid):
                return
        except FileNotFoundError:
            pass
        assert process.poll() is None, "the writer finished before it was seen holding the lock"
        time.sleep(0.01)
    pytest.fail("the writer never took the lock")


def insertion_order(index: Path) -> list[str]:
    """Document sources in the order they were written."""
    folder = read_current(index)
    assert folder is not None
    with closing(sqlite3.connect(folder / "store.sqlite")) as db:
        return [r[0] for r in db.execute("SELECT source FROM documents ORDER BY rowid")]


def generation(index: Path) -> int:
    """The committed generation of the current version."""
    folder = read_current(index)
    if folder is None:
        return 0
    with closing(sqlite3.connect(folder / "store.sqlite", timeout=5)) as db:
        row = db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """corpus/base (8 notes) and corpus/first (300 notes: a second or more of writing)."""
    corpus = tmp_path / "corpus"
    write_notes(corpus / "base", range(8))
    write_notes(corpus / "first", range(1000, 1300))
    return corpus


@pytest.fixture
def index(tmp_path: Path, corpus: Path) -> Path:
    """An index of corpus/base."""
    index = tmp_path / "index"
    Assistant(fake_settings(index, corpus), FakeEmbedder()).add([corpus / "base"])
    return index


# ----- processes take turns ---------------------------------------------------------------
@pytest.mark.slow
def test_a_second_add_and_a_remove_wait_for_the_first_add(
    tmp_path: Path, corpus: Path, index: Path
) -> None:
    first_sources = {f"first/{p.name}" for p in (corpus / "first").iterdir()}
    second_sources = write_notes(corpus / "second", range(2000, 2010))
    env = cli_env(index, corpus)
    first = start_cli(env, tmp_path / "first", "add", str(corpus / "first"))
    wait_until_locked_by(index, first)
    second = start_cli(env, tmp_path / "second", "add", str(corpus / "second"))
    remove = start_cli(env, tmp_path / "remove", "remove", "base/note_0000.txt")
    assert [p.wait(timeout=600) for p in (first, second, remove)] == [0, 0, 0]

    waiting = WAITING.format(index=index, pid=first.pid)
    assert waiting in output(tmp_path / "second", "err")
    assert waiting in output(tmp_path / "remove", "err")
    assert "waiting" not in output(tmp_path / "first", "err")
    base_sources = {f"base/note_{n:04d}.txt" for n in range(8)}
    assert source_of(index) == (base_sources - {"base/note_0000.txt"}) | first_sources | (
        second_sources
    )
    # The second add wrote nothing until the first had written everything.
    order = [s for s in insertion_order(index) if not s.startswith("base/")]
    assert set(order[: len(first_sources)]) == first_sources
    assert_sound(index, corpus)


@pytest.mark.slow
def test_an_add_during_a_rebuild_waits_and_lands_in_the_new_version(
    tmp_path: Path, corpus: Path, index: Path
) -> None:
    """Without the lock the add would write into the old version, deleted at the swap."""
    Assistant(fake_settings(index, corpus), FakeEmbedder()).add([corpus / "first"])
    before = read_current(index)
    late = write_notes(corpus / "late", range(3000, 3005))
    # New passage sizes: the rebuild embeds every passage again, 20 ms a call, so the add
    # starts while it still holds the lock however busy the machine.
    env = cli_env(index, corpus, QA_CHUNK_CHARS="500")
    rebuild = start_cli({**env, "FAKE_EMBED_DELAY": "0.02"}, tmp_path / "rebuild", "rebuild")
    wait_until_locked_by(index, rebuild)
    add = start_cli(env, tmp_path / "add", "add", str(corpus / "late"))
    assert rebuild.wait(timeout=600) == 0, output(tmp_path / "rebuild", "err")
    assert add.wait(timeout=600) == 0, output(tmp_path / "add", "err")

    assert WAITING.format(index=index, pid=rebuild.pid) in output(tmp_path / "add", "err")
    assert read_current(index) != before and len(list(index.glob("v-*"))) == 1
    assert late <= source_of(index)
    assert len(source_of(index)) == 8 + 300 + 5
    assert_sound(index, corpus)


@pytest.mark.slow
def test_a_killed_writer_does_not_block_the_next(tmp_path: Path, corpus: Path, index: Path) -> None:
    env = cli_env(index, corpus)
    start = generation(index)
    victim = start_cli(env, tmp_path / "victim", "add", str(corpus / "first"))
    wait_until_locked_by(index, victim)
    while generation(index) < start + 5:
        assert victim.poll() is None, "add finished before it could be killed"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL

    started = time.monotonic()
    log = tmp_path / "next"
    assert run_cli(env, log, "add", str(corpus / "first")) == 0, output(log, "err")
    assert "waiting" not in output(log, "err")
    assert time.monotonic() - started < 120
    assert {f"first/{p.name}" for p in (corpus / "first").iterdir()} <= source_of(index)
    assert_sound(index, corpus)


# ----- threads and timeouts (one process) ---------------------------------------------------
def test_two_assistants_in_one_process_take_turns(corpus: Path, index: Path) -> None:
    """Two Assistants on one index do not share the thread lock; the file lock orders them."""
    second = write_notes(corpus / "second", range(2000, 2040))
    settings = fake_settings(index, corpus)
    errors: list[BaseException] = []

    def add(folder: Path) -> None:
        try:
            Assistant(settings, FakeEmbedder()).add([folder])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(corpus / f,)) for f in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    order = [s for s in insertion_order(index) if not s.startswith("base/")]
    assert len(order) == 340
    assert [s.split("/")[0] for s in order] in (
        ["first"] * 300 + ["second"] * 40,
        ["second"] * 40 + ["first"] * 300,
    )
    assert second <= set(order)
    assert_sound(index, corpus)


def test_a_writer_gives_up_after_the_timeout_and_says_what_to_do(
    corpus: Path, index: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("qa_assistant.locking.WAIT_SECONDS", 0.3)
    monkeypatch.setattr("qa_assistant.locking.POLL_SECONDS", 0.02)
    assistant = Assistant(fake_settings(index, corpus), FakeEmbedder())
    before = source_of(index)
    with write_lock(index), caplog.at_level(logging.WARNING, "qa_assistant.locking"):
        started = time.monotonic()
        with pytest.raises(QAError) as raised:
            assistant.remove("base/note_0000.txt")
        assert 0.3 <= time.monotonic() - started < 10
    message = str(raised.value)
    assert f"(pid {os.getpid()})" in message and "run this command again" in message
    assert WAITING.format(index=index, pid=os.getpid()) in caplog.text
    assert source_of(index) == before
    assistant.remove("base/note_0000.txt")  # the lock is free again
    assert "base/note_0000.txt" not in source_of(index)


# ----- readers never wait and never see half a change ---------------------------------------
def check_answer(answer: Answer, top_k: int) -> None:
    """Whole: top_k hits ranked 1..k, each passage with its own document and text."""
    assert [hit.rank for hit in answer.hits] == list(range(1, top_k + 1))
    for hit in answer.hits:
        assert hit.passage.doc_id == hit.document.doc_id
        assert hit.passage.text.strip() and hit.document.passages > 0
        assert hit.citation.label


def churn(assistant: Assistant, corpus: Path, rounds: int) -> None:
    """Adds, replacements, removals and rebuilds, as an organiser might make them."""
    for round_number in range(rounds):
        fresh = write_notes(
            corpus / "fresh", range(5000 + 3 * round_number, 5003 + 3 * round_number)
        )
        edited = corpus / "base" / f"note_{round_number % 8:04d}.txt"
        edited.write_text(note(round_number % 8, 40 + round_number % 5), encoding="utf-8")
        assistant.add([corpus / "fresh", edited])
        assistant.remove(sorted(fresh)[0])
        if round_number % 6 == 5:
            assistant.rebuild()


_READER = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.conftest import FakeEmbedder
from tests.test_writers import check_answer, fake_settings
from qa_assistant.assistant import Assistant
index, corpus, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
assistant = Assistant(fake_settings(index, corpus), FakeEmbedder())
asks, errors = 0, []
while not stop.exists() or asks == 0:
    try:
        check_answer(assistant.ask({question!r}), 5)
    except Exception as exc:
        errors.append(f"{{type(exc).__name__}}: {{exc}}")
    asks += 1
    if asks == 1:
        print("ready", flush=True)
print(json.dumps({{"asks": asks, "errors": errors[:5], "failed": len(errors)}}), flush=True)
"""


@pytest.mark.slow
def test_a_reader_process_sees_whole_answers_while_a_writer_works(
    tmp_path: Path, corpus: Path, index: Path
) -> None:
    Assistant(fake_settings(index, corpus), FakeEmbedder()).add([corpus / "first"])
    stop = tmp_path / "stop"
    script = _READER.format(repo=str(REPO), question=QUESTION)
    reader = subprocess.Popen(
        [sys.executable, "-c", script, str(index), str(corpus), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        churn(Assistant(fake_settings(index, corpus), FakeEmbedder()), corpus, rounds=18)
        stop.touch()
        out, err = reader.communicate(timeout=120)
    finally:
        reader.kill()
    result = json.loads(out.splitlines()[-1])
    assert result["failed"] == 0, (result, err[-2000:])
    assert result["asks"] >= 20, result  # they did overlap the writes
    assert_sound(index, corpus)


def test_reader_threads_see_whole_answers_while_a_thread_writes(corpus: Path, index: Path) -> None:
    """The UI's case: one Assistant, questions on some threads, the organiser's adds on another."""
    assistant = Assistant(fake_settings(index, corpus), FakeEmbedder())
    assistant.add([corpus / "first"])
    done = threading.Event()
    asks: list[int] = []
    errors: list[BaseException] = []

    def ask() -> None:
        count = 0
        while not done.is_set() or count == 0:
            try:
                check_answer(assistant.ask(QUESTION), 5)
            except BaseException as exc:
                errors.append(exc)
            count += 1
        asks.append(count)

    readers = [threading.Thread(target=ask) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        churn(assistant, corpus, rounds=12)
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert errors == [], errors[:3]
    assert sum(asks) >= 20, asks
    assert_sound(index, corpus)
