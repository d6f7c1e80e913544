"""Documents written back out for people: a transcript as a WebVTT caption file (pure)."""

from __future__ import annotations

from qa_assistant.types import Document

MIN_CUE_SECONDS = 0.5  # players drop cues that end before they start or last no time


def vtt_timestamp(seconds: float) -> str:
    """Seconds → 'HH:MM:SS.mmm', the WebVTT cue time format."""
    milliseconds = max(0, round(seconds * 1000))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    # A blank line would end the cue and "-->" would start a timing line: neither may appear.
    lines = [line.strip() for line in text.replace("-->", "→").splitlines() if line.strip()]
    return "\n".join(lines).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(document: Document) -> str:
    """The document's timed segments as WebVTT cues, speakers as `<v Name>` voice tags.

    Raises:
        ValueError: the document has no timed segments (it is not a transcript).
    """
    cues = [s for s in document.segments if s.start_seconds is not None]
    if not cues:
        raise ValueError(f"{document.title}: not a timed transcript")
    blocks = [f"WEBVTT - {_cue_text(document.title).replace(chr(10), ' ')}"]
    previous_speaker: str | None = None
    for number, segment in enumerate(cues, start=1):
        start = segment.start_seconds or 0.0
        end = segment.end_seconds if segment.end_seconds is not None else start
        end = max(end, start + MIN_CUE_SECONDS)
        text = document.text[segment.char_start : segment.char_end]
        # read_transcript opens each turn's text with "Name: "; the voice tag already says it,
        # and reading the file back would add it again ("Name: Name: …").
        opening = f"{segment.speaker}: "
        new_turn = segment.speaker != previous_speaker
        if (
            segment.speaker
            and new_turn
            and text.startswith(opening)
            and text[len(opening) :].strip()
        ):
            text = text[len(opening) :]
        previous_speaker = segment.speaker
        text = _cue_text(text)
        if not text:
            continue
        if segment.speaker:
            text = f"<v {_cue_text(segment.speaker)}>{text}"
        blocks.append(f"{number}\n{vtt_timestamp(start)} --> {vtt_timestamp(end)}\n{text}")
    return "\n\n".join(blocks) + "\n"
