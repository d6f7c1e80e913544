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
# Windows-1252 is the usual legacy encoding of English, French and Spanish caption and text
# files. charset-normalizer read a French cp1252 caption as cp1250 ("ŕ tous", "ętre") and two
# accented letters as Big5, so cp1252 is tried first. Its accented letters are a small share of
# the letters in these languages (French ~4%, a dense sample 16%); text in another single-byte
# or Asian encoding read as cp1252 is almost all accented letters (Arabic cp1256, Russian
# cp1251, Chinese GB2312: 95–100%), and is left to charset-normalizer.
WESTERN_ENCODING = "cp1252"
MAX_ACCENTED_SHARE = 0.5
# UTF-16 without a byte-order mark: ASCII characters (timings, digits, spaces) put NUL bytes
# on one side of each code unit only; binary files have them on both.
UTF16_NUL_RATIO = 10
MIN_UTF16_NUL_SHARE = 0.01
MIN_PRINTABLE_SHARE = 0.95


def decode_text(data: bytes, name: str) -> tuple[str, str | None]:
    """Decode `data`; return the text and a warning when the encoding had to be guessed."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), None
    if b"\x00" in data[:4096]:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise IngestError(f"{name}: looks like a binary file, not text; check the file type")
        return utf16, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    encoding, text = _western(data) or _guessed(data, name)
    return text, (
        f"not UTF-8; read as {encoding}: if accents or letters look wrong, "
        "save the file as UTF-8 and add it again"
    )


def _western(data: bytes) -> tuple[str, str] | None:
    """(cp1252, text) when the bytes read as English, French or Spanish text in cp1252."""
    try:
        text = data.decode(WESTERN_ENCODING)
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8d, 0x8f, 0x90, 0x9d)
        return None
    letters = [char for char in text if char.isalpha()]
    accented = sum(1 for char in letters if not char.isascii())
    if not letters or accented > MAX_ACCENTED_SHARE * len(letters):
        return None
    return WESTERN_ENCODING, text


def _guessed(data: bytes, name: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise IngestError(
            f"{name}: cannot tell the text encoding; save the file as UTF-8 and add it again"
        )
    return best.encoding, str(best)


def _utf16_without_bom(data: bytes) -> str | None:
    """The text when `data` is UTF-16 (LE or BE) without a byte-order mark, else None."""
    units = len(data) // 2
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if units == 0 or len(data) % 2:
        return None
    if odd >= MIN_UTF16_NUL_SHARE * units and odd >= UTF16_NUL_RATIO * even:
        encoding = "utf-16-le"
    elif even >= MIN_UTF16_NUL_SHARE * units and even >= UTF16_NUL_RATIO * odd:
        encoding = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    printable = sum(1 for char in text if char.isprintable() or char in "\t\n\r\f")
    return text if printable >= MIN_PRINTABLE_SHARE * len(text) else None
