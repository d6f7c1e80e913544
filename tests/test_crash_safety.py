"""Killing `qa-assistant add` mid-way leaves the previous index loadable and consistent."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.index_store import read_current

from .conftest import CORPUS, FakeEmbedder

MODEL = "all-MiniLM-L6-v2"  # the smaller packaged model keeps this test quick


def _cli(index: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_MODEL": MODEL, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "qa_assistant.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _generation(index: Path) -> int:
    folder = read_current(index)
    if folder is None:
        return 0
    with sqlite3.connect(folder / "store.sqlite", timeout=5) as db:
        row = db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0


def _check_consistent(index: Path) -> tuple[int, int]:
    embedder = FakeEmbedder()
    embedder.name, embedder.dimension = MODEL, 384
    assistant = Assistant(Settings(index_dir=index, corpus_dir=CORPUS, model=MODEL), embedder)
    documents, passages, keyword, vectors = assistant.consistency()
    assert passages == keyword == vectors, (passages, keyword, vectors)
    assert all(d.passages > 0 for d in assistant.list_documents())
    return documents, passages


@pytest.mark.slow
def test_sigkill_during_add_keeps_the_index_consistent(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = _cli(index, "add", str(CORPUS))
    assert first.wait(timeout=600) == 0, first.stderr.read() if first.stderr else ""
    documents, _ = _check_consistent(index)

    folder = tmp_path / "more"
    folder.mkdir()
    for number in range(40):
        sentences = " ".join(
            f"Note {number}.{line}: provincial offices coordinate benefit {line * number}."
            for line in range(60)
        )
        (folder / f"note_{number:02d}.txt").write_text(sentences, encoding="utf-8")
    start = _generation(index)
    victim = _cli(index, "add", str(folder))
    deadline = time.monotonic() + 300
    while _generation(index) < start + 3 and time.monotonic() < deadline:
        if victim.poll() is not None:
            pytest.fail("add finished before it could be killed; make the batch larger")
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    killed_documents, _ = _check_consistent(index)
    assert documents < killed_documents < documents + 40

    search = _cli(index, "ask", "provincial offices", "--json")
    out, err = search.communicate(timeout=300)
    assert search.returncode == 0, err
    assert b'"hits"' in out

    resumed = _cli(index, "add", str(folder))
    assert resumed.wait(timeout=600) == 0
    assert _check_consistent(index)[0] == documents + 40
