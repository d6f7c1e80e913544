"""Shared fixtures: a fake embedder for fast logic tests, real-model fixtures for slow ones."""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"
_WORD = re.compile(r"[^\W_]+")


class FakeEmbedder:
    """Deterministic hashed bag-of-words vectors: no model, exact-term similarity only."""

    name = "fake-bow"
    dimension = 256

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self.dimension
                out[row, bucket] += 1.0
            out[row, 0] += 0.01  # never an all-zero vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unmarked tests may not open network connections (loopback stays allowed)."""
    if request.node.get_closest_marker("slow") or request.node.get_closest_marker("browser"):
        return
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1"):
            raise RuntimeError(f"network access in a unit test: {address}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


def fake_settings(tmp: Path, corpus: Path = CORPUS, **extra: object) -> Settings:
    """Settings for a fake-embedder index in `tmp`."""
    values: dict[str, object] = {
        "index_dir": tmp / "index",
        "corpus_dir": corpus,
        # The user's cache: the Whisper model is joined once and a recording's transcript is
        # reused, as between two runs of the product.
        "cache_dir": Settings().cache_dir,
        "model": "fake-bow",
        "min_score": 0.0,
        "rerank": False,  # logic tests; the real-model tests run the USE-m3 second stage
    }
    return Settings(**{**values, **extra})  # type: ignore[arg-type]


@pytest.fixture
def fake_assistant(tmp_path: Path) -> Assistant:
    """An Assistant with the fake embedder over an empty index in tmp_path.

    Its corpus folder is tmp_path / "corpus", where `corpus_copy` puts the demo corpus.
    """
    return Assistant(fake_settings(tmp_path, tmp_path / "corpus"), embedder=FakeEmbedder())


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where the converted real model is cached (shared with `make run`)."""
    return Settings().cache_dir


@pytest.fixture(scope="session")
def real_assistant(
    tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path
) -> Iterator[Assistant]:
    """The real default model over the demo corpus, indexed once per test session."""
    root = tmp_path_factory.mktemp("real")
    settings = Settings(index_dir=root / "index", corpus_dir=CORPUS, cache_dir=model_cache_dir)
    assistant = Assistant(settings)
    report = assistant.add([CORPUS])
    assert report.count("failed") == 0, report
    yield assistant


# ----- UI (tests/test_ui_api.py, tests/test_browser.py) -------------------------------------
UI_PASSWORD = "organiser-test-password"


@dataclass(frozen=True)
class UIServer:
    """A running app: its URL, the Assistant behind it and its writable corpus folder."""

    url: str
    assistant: Assistant
    settings: Settings
    corpus: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def ui_server(
    tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path
) -> Iterator[UIServer]:
    """The Gradio app over the real model and a copy of the demo corpus, with a password."""
    from qa_assistant.ui.app import create_assistant, launch

    root = tmp_path_factory.mktemp("ui")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(
        index_dir=root / "index",
        corpus_dir=corpus,
        cache_dir=model_cache_dir,
        admin_password=UI_PASSWORD,
        port=free_port(),
    )
    assistant = create_assistant(settings)
    report = assistant.add([corpus])
    assert report.count("failed") == 0, report
    demo, url = launch(assistant, settings, prevent_thread_lock=True, quiet=True)
    yield UIServer(url, assistant, settings, corpus)
    demo.close()
