"""What Word and PowerPoint readers share: reading the bytes and refusing what is not OOXML."""

from __future__ import annotations

from pathlib import Path

from qa_assistant.errors import IngestError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office 97-2003 files and encrypted OOXML
ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")  # the stream a protected file holds


def office_bytes(path: Path, name: str, application: str, suffix: str) -> bytes:
    """The file's bytes when they can be an OOXML package (a zip), else an IngestError that
    says why: unreadable, protected by a password, an old 97-2003 file, or not a zip.

    Args:
        application: "Word" or "PowerPoint", for messages.
        suffix: ".docx" or ".pptx", the format to save the file again as.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    if data.startswith(OLE_MAGIC):
        if ENCRYPTED_MARK in data:
            raise IngestError(
                f"{name}: the {application} file is protected by a password; "
                "save an unprotected copy and add it again"
            )
        raise IngestError(
            f"{name}: an old {application} 97-2003 file, not {suffix}; save it again as {suffix}"
        )
    if not data.startswith(b"PK"):
        raise IngestError(
            f"{name}: not a readable {application} file (not a zip archive); "
            f"save it again as {suffix}"
        )
    return data
