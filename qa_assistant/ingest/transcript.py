"""WebVTT, SRT and SBV reader: timed cues, speakers, rolling-caption duplicates merged.

A small parser of our own rather than webvtt-py: webvtt-py rejects a whole file on the first
malformed cue, while organisers' caption exports are often slightly broken; here a bad cue is
skipped with a warning naming its line and the rest of the file is kept. It also reads speaker
names both from `<v Name>` voice tags and from Zoom's `Name: text` prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa_assistant.errors import IngestError
from qa_assistant.ingest.base import ReadResult
from qa_assistant.types import Segment

_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{1,2}(?:[.,]\d{1,3})?)\s*-->\s*"
    r"(?P<end>(?:\d+:)?\d{1,2}:\d{1,2}(?:[.,]\d{1,3})?)"
)
_SBV_TIME = r"\d+:\d{1,2}:\d{1,2}(?:\.\d{1,3})?"
_SBV_TIMING = re.compile(rf"^(?P<start>{_SBV_TIME}),(?P<end>{_SBV_TIME})[ \t]*$", re.MULTILINE)
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d{1,2}:\d{2}[^>]*>")
# Zoom and Teams exports put "First Last: " before a turn; keep names short and capitalised.
_SPEAKER_PREFIX = re.compile(r"^(?P<name>[^\W\d_][\w.'’\- ]{0,40}?)\s*:\s+(?=\S)")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&nbsp;": " ", "&lrm;": "", "&rlm;": ""}
# One pass: replacing entity by entity read "&amp;lt;" (the text "&lt;") as "<".
_ENTITY = re.compile("|".join(_ENTITIES))
TURN_SEPARATOR = "\n"
UNTIMED_SNIPPET_CHARS = 40  # of text without a timing line, quoted in its warning
CUE_SEPARATOR = " "


@dataclass(frozen=True)
class Cue:
    """One caption cue after parsing: times in seconds, plain text, speaker if known."""

    start: float
    end: float
    text: str
    speaker: str | None
    line: int


def parse_timestamp(value: str) -> float:
    """'01:02:03.500', '02:03,5' or '1:02:03' → seconds."""
    value = value.replace(",", ".")
    parts = value.split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[-3]) if len(parts) == 3 else 0
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"invalid timestamp {value!r}")
    try:
        return hours * 3600 + minutes * 60 + seconds
    except OverflowError:  # hours past float range ("999…9:00:00"): a malformed cue, no crash
        raise ValueError(f"invalid timestamp {value[:20]!r}…") from None


def format_timestamp(seconds: float) -> str:
    """Seconds → 'HH:MM:SS'."""
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _decode_entities(text: str) -> str:
    return _ENTITY.sub(lambda match: _ENTITIES[match.group()], text)


def _clean_cue_text(lines: list[str]) -> tuple[str, str | None]:
    speaker = None
    joined = "\n".join(lines)
    voice = _VOICE.search(joined)
    if voice:
        # Names are escaped like cue text (`<v Tom &amp; Jerry>`); `<v  >` names nobody.
        speaker = _decode_entities(voice.group(1)).strip() or None
    text = _decode_entities(_TAG.sub("", joined))
    return text.strip(), speaker


def parse_cues(text: str, name: str) -> tuple[list[Cue], list[str]]:
    """Parse WebVTT or SRT text into cues; malformed cues become warnings.

    A cue starts at a timing line and runs to the next blank line or the next timing line
    (YouTube exports sometimes omit the blank line between cues).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    cues: list[Cue] = []
    problems: list[tuple[int, str]] = []  # (line, what was skipped and why)
    untimed: list[tuple[int, str]] = []  # (line, text) of caption text without a timing line
    is_vtt = bool(lines) and lines[0].strip().startswith("WEBVTT")
    index = 0
    if is_vtt:
        # Skip the header block (WEBVTT line and metadata headers) up to the first blank line.
        while index < len(lines) and lines[index].strip():
            index += 1
    skipping = False  # inside a NOTE / STYLE / REGION block
    timed = 0  # timing lines seen
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        index += 1
        if not stripped:
            skipping = False
            continue
        if skipping:
            continue
        if "-->" not in stripped:
            if is_vtt and stripped.startswith(("NOTE", "STYLE", "REGION")):
                skipping = True
            elif index < len(lines) and "-->" in lines[index]:
                pass  # a cue identifier
            else:
                # Text whose timing line is missing has no time to cite: it is left out, and
                # said so. Its block runs to a blank line or the next timing line.
                block = [(index, stripped)]
                while index < len(lines) and lines[index].strip() and "-->" not in lines[index]:
                    index += 1
                    block.append((index, lines[index - 1].strip()))
                said = [(number, text) for number, text in block if not text.isdigit()]
                untimed.extend(said[:1])  # digits alone are cue numbers
            continue
        line_number = index
        timed += 1
        match = _TIMING.match(stripped)
        body: list[str] = []
        while index < len(lines) and lines[index].strip() and "-->" not in lines[index]:
            body.append(lines[index])
            index += 1
        try:
            if not match:
                raise ValueError("unreadable timing")
            start = parse_timestamp(match.group("start"))
            end = parse_timestamp(match.group("end"))
            if end < start:
                raise ValueError("end before start")
        except ValueError as exc:
            problems.append((line_number, f"line {line_number}: cue skipped ({exc})"))
            continue
        cue_text, speaker = _clean_cue_text(body)
        if cue_text:
            cues.append(Cue(start, end, cue_text, speaker, line_number))
    if cues:
        problems.extend(
            (number, f"line {number}: text without a timing line skipped ({_snippet(said)!r})")
            for number, said in untimed
        )
    warnings = [message for _, message in sorted(problems)]
    if not cues and not warnings and timed:
        warnings.append(f"{_count(timed, 'timing line')} but no caption text")
    elif not cues and not warnings and is_vtt:
        warnings.append("the WEBVTT header is followed by no timed cue")
    elif not cues and not warnings and text.strip():
        warnings.append("no timing lines like '00:00:01,000 --> 00:00:04,000'")
    return cues, warnings


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _snippet(text: str) -> str:
    return text if len(text) <= UNTIMED_SNIPPET_CHARS else text[:UNTIMED_SNIPPET_CHARS] + "…"


def assign_speakers(cues: list[Cue]) -> list[Cue]:
    """Take speakers from `Name:` prefixes; a cue without one continues the current turn.

    Prefixes are speaker labels only in a file that labels turns: a name opens two cues, two
    names appear, or a name has two words ("Eduardo Brau"). A lone one-word `Digo: "…"` in
    subtitles is a quotation, and would otherwise name the speaker of everything after it.
    """
    labels: list[str | None] = []
    for cue in cues:
        prefix = _SPEAKER_PREFIX.match(cue.text) if cue.speaker is None else None
        name = prefix.group("name").strip() if prefix else None
        labels.append(name if name and looks_like_name(name) else None)
    named = [name for name in labels if name]
    labelled = (
        len(named) > len(set(named))
        or len(set(named)) > 1
        or any(len(name.split()) > 1 for name in named)
    )
    result: list[Cue] = []
    current: str | None = None
    for cue, label in zip(cues, labels, strict=True):
        speaker, text = cue.speaker, cue.text
        if speaker is None and label and labelled:
            speaker = label
            text = text[_SPEAKER_PREFIX.match(text).end() :]  # type: ignore[union-attr]
        if speaker is not None:
            current = speaker
        result.append(Cue(cue.start, cue.end, text, current, cue.line))
    return result


NAME_PARTICLES = frozenset("de da del della di do dos du la le van von der ben bin el al y".split())


def looks_like_name(candidate: str) -> bool:
    """'Florencia Hiquis', 'Sami Ben Salah', 'PhD A' yes; 'Sobre la presencia territorial' no."""
    words = candidate.split()
    if not 0 < len(words) <= 4 or not words[0][0].isupper() or not words[-1][0].isupper():
        return False
    return all(w[0].isupper() or w.lower() in NAME_PARTICLES for w in words)


def merge_rolling_captions(cues: list[Cue]) -> list[Cue]:
    """Drop text a cue repeats from the previous ones (YouTube's rolling two-line captions)."""
    result: list[Cue] = []
    shown: list[str] = []
    for cue in cues:
        lines = [line.strip() for line in cue.text.split("\n") if line.strip()]
        overlap = 0
        for size in range(min(len(lines), len(shown)), 0, -1):
            if lines[:size] == shown[-size:]:
                overlap = size
                break
        new_lines = lines[overlap:]
        if not new_lines:
            if result and result[-1].speaker == cue.speaker:
                last = result[-1]
                result[-1] = Cue(
                    last.start, max(last.end, cue.end), last.text, last.speaker, last.line
                )
            continue
        shown = (shown + new_lines)[-4:]
        result.append(Cue(cue.start, cue.end, " ".join(new_lines), cue.speaker, cue.line))
    return result


def sbv_as_srt(text: str) -> str:
    """YouTube SubViewer captions (.sbv) with SRT timing lines: `0:00:01.000,0:00:04.000` →
    `0:00:01.000 --> 0:00:04.000`. The cues are otherwise laid out as in SRT."""
    return _SBV_TIMING.sub(r"\g<start> --> \g<end>", text)


def read_transcript(text: str, name: str, doc_format: str) -> ReadResult:
    """Read decoded WebVTT/SRT/SBV text: one segment per cue; a turn starts on a new line with
    `Name: ` when the speaker is known."""
    if doc_format == "sbv":
        text = sbv_as_srt(text)
    cues, warnings = parse_cues(text, name)
    cues = merge_rolling_captions(assign_speakers(cues))
    if not cues:
        detail = f" ({warnings[0]})" if warnings else ""
        raise IngestError(
            f"{name}: no caption cues found{detail}; check that it is WebVTT, SRT or SBV"
        )
    text, segments = layout_cues(cues)
    if len(warnings) > 5:
        warnings = [*warnings[:5], f"… and {len(warnings) - 5} more malformed cues skipped"]
    return ReadResult(
        text=text,
        segments=segments,
        kind="transcript",
        doc_format=doc_format,
        cue_count=len(cues),
        warnings=tuple(warnings),
    )


def layout_cues(cues: Sequence[Cue]) -> tuple[str, tuple[Segment, ...]]:
    """A transcript's text and segments from its cues: one segment per cue, cues of one turn
    joined by CUE_SEPARATOR, a new turn on a new line opening with `Name: `."""
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    previous: Cue | None = None
    for cue in cues:
        new_turn = previous is None or cue.speaker != previous.speaker
        if previous is not None:
            separator = TURN_SEPARATOR if new_turn else CUE_SEPARATOR
            parts.append(separator)
            offset += len(separator)
        # A turn opens with its speaker's name, as in a printed transcript, so that a passage
        # reading several turns together shows who said what.
        cue_text = f"{cue.speaker}: {cue.text}" if new_turn and cue.speaker else cue.text
        parts.append(cue_text)
        segments.append(
            Segment(
                char_start=offset,
                char_end=offset + len(cue_text),
                start_seconds=cue.start,
                end_seconds=cue.end,
                speaker=cue.speaker,
            )
        )
        offset += len(cue_text)
        previous = cue
    return "".join(parts), tuple(segments)
