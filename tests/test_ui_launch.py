"""Launching the UI on a port another server holds fails with a message that says what to do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.errors import QAError
from qa_assistant.ui.app import launch, port_is_free
from tests.conftest import FakeEmbedder, fake_settings


def test_a_taken_port_is_reported_before_anything_loads(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        settings = fake_settings(tmp_path).model_copy(update={"port": port})
        embedder = FakeEmbedder()
        with pytest.raises(QAError, match=rf"port {port} .* already in use.*QA_PORT"):
            launch(Assistant(settings, embedder=embedder), settings, prevent_thread_lock=True)
    assert port_is_free("127.0.0.1", port)
