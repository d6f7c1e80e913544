"""Decoding bytes of text files whose encoding is not declared."""

from __future__ import annotations

import codecs

from qa_assistant.errors import IngestError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes, name: str) -> tuple[str, str | None]:
    """Decode `data`; return the text and a warning when the encoding had to be guessed."""
    if b"\x00" in data[:4096] and not any(data.startswith(bom) for bom, _ in _BOMS):
        raise IngestError(f"{name}: looks like a binary file, not text; check the file type")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise IngestError(
            f"{name}: cannot tell the text encoding; save the file as UTF-8 and add it again"
        )
    return str(best), f"not UTF-8; decoded as {best.encoding}"
