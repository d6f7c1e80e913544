"""Property tests ("fuzzing"): caption and text readers, the chunker, citations, upload names
and the WebVTT export never crash on odd input and keep their invariants.

Every property runs derandomized and without the example database, so CI and laptops try the
same examples. A bug found here also gets a plain example test, so it stays fixed whatever
Hypothesis draws.
"""

from __future__ import annotations

import math
import re
import tempfile
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa_assistant.answering import (
    citation_label,
    citation_link,
    format_time,
    recording_link,
    text_fragment,
)
from qa_assistant.chunking import Layout, split_document
from qa_assistant.errors import QAError
from qa_assistant.export import to_webvtt
from qa_assistant.ingest.base import ReadResult
from qa_assistant.ingest.text import read_markdown, read_plain_text
from qa_assistant.ingest.transcript import _SPEAKER_PREFIX, parse_timestamp, read_transcript
from qa_assistant.types import Document, DocumentInfo, Passage, Segment, Session
from qa_assistant.ui.files import (
    MAX_NAME_CHARS,
    UPLOADS_FOLDER,
    safe_filename,
    safe_folder_name,
    store_upload,
)

# The same examples on every run; the whole file runs in a few seconds.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ---------------------------------------------------------------------------------------------
# 1. Caption, plain-text and Markdown readers
# ---------------------------------------------------------------------------------------------

CAPTION_TOKENS = st.sampled_from(
    [
        "WEBVTT",
        "WEBVTT - Title\n",
        "\ufeff",
        "\n",
        "\n\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "-->",
        " --> ",
        "00:00:01.000",
        "00:01,5",
        "1:02:03",
        "99:99:99.999",
        "59:59",
        "9" * 400 + ":00:00",
        "<v Ana Paz>",
        "<v.loud Bo>",
        "<v  >",
        "</v>",
        "<b>",
        "<00:00:02.000>",
        "&amp;",
        "&lt;",
        "&amp;lt;",
        "&lrm;",
        "NOTE",
        "STYLE",
        "1\n",
        "Ana Paz: ",
        "Bo: ",
        "# ",
        "## ",
        "#",
        "\x00",
        "\x85",
        "\u2028",
        "\x1c",
    ]
)
CAPTION_LIKE = st.lists(st.one_of(CAPTION_TOKENS, st.text(max_size=8)), max_size=40).map("".join)
ANY_TEXT = st.one_of(st.text(), CAPTION_LIKE)
CUE_LINES = st.one_of(
    st.sampled_from(
        [
            "ANSES pays benefits across the life cycle.",
            "La centralita abre a las ocho.",
            "مرحبا بكم في الندوة",
            "Eduardo Brau: SINTyS cruza datos.",
            "Digo: hola",
            "Tom &amp; Jerry &lt;3",
            "<i>Merci</i> beaucoup.",
            "   ",
            "",
        ]
    ),
    st.text(max_size=20),
)
# A line of the cue a file certainly keeps: visible plain words, no tags, prefixes or entities.
PLAIN_LINE = "Plain words that any reader keeps."


def check_segments(result: ReadResult) -> None:
    """Segments lie inside the text, in order, without overlap; their times are sane."""
    previous_end = 0
    for segment in result.segments:
        assert previous_end <= segment.char_start < segment.char_end <= len(result.text)
        previous_end = segment.char_end
        times = [t for t in (segment.start_seconds, segment.end_seconds) if t is not None]
        assert all(math.isfinite(t) and t >= 0 for t in times), segment
        if segment.start_seconds is not None and segment.end_seconds is not None:
            assert segment.start_seconds <= segment.end_seconds
        assert segment.speaker is None or segment.speaker.strip(), segment


def read_captions(text: str, doc_format: str) -> ReadResult | None:
    """The reader's result, checked; None when it refused the file with a QAError."""
    try:
        result = read_transcript(text, f"fuzz.{doc_format}", doc_format)
    except QAError:  # IngestError: "no caption cues found", the only allowed failure
        return None
    check_segments(result)
    assert result.segments  # a result always has cues; none is an IngestError
    return result


@settings(FUZZ, max_examples=400)
@given(text=ANY_TEXT, doc_format=st.sampled_from(["vtt", "srt"]))
def test_caption_reader_survives_any_text(text: str, doc_format: str) -> None:
    read_captions(text, doc_format)


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[str, float | None]:
    """A cue time as written (padded or not, `.` or `,`, huge or out-of-range fields) and its
    value in seconds, None when it is malformed."""
    # 330 and 5000 mean that many digits of 9: past float range, past Python's int limit.
    hours = draw(st.one_of(st.none(), st.integers(0, 120), st.sampled_from([330, 5000])))
    minutes = draw(st.one_of(st.integers(0, 59), st.integers(60, 99)))
    seconds = draw(st.one_of(st.integers(0, 59), st.integers(60, 99)))
    millis = draw(st.one_of(st.none(), st.integers(0, 999)))
    stamp = f"{minutes:0{draw(st.integers(1, 2))}d}:{seconds:02d}"
    if hours is not None:
        stamp = f"{hours:02d}:{stamp}" if hours <= 120 else f"{'9' * hours}:{stamp}"
    if millis is not None:
        stamp += f"{draw(st.sampled_from('.,'))}{millis:03d}"
    if minutes >= 60 or seconds >= 60 or (hours or 0) > 120:
        return stamp, None
    value = (hours or 0) * 3600 + minutes * 60 + seconds + (millis or 0) / 1000
    return stamp, value


@st.composite
def caption_files(draw: st.DrawFn) -> tuple[str, str, bool]:
    """(text, format, whether a cue surely survives): valid-ish WebVTT or SRT with random,
    reversed, overlapping or huge times, voice tags, Zoom prefixes, CRLF and BOMs."""
    doc_format = draw(st.sampled_from(["vtt", "srt"]))
    blocks = []
    if doc_format == "vtt":
        blocks.append(draw(st.sampled_from(["WEBVTT", "\ufeffWEBVTT", "WEBVTT - Title\nKind: x"])))
    survives = False
    for number in range(draw(st.integers(0, 8))):
        (start, start_value), (end, end_value) = draw(timestamps()), draw(timestamps())
        lines = draw(st.lists(CUE_LINES, max_size=3))
        speaker = draw(st.sampled_from([None, "Ana Paz", "Bo", "Tom &amp; Jerry"]))
        if speaker:
            voice = draw(st.booleans())
            head = f"<v {speaker}>" if voice else f"{speaker}: "
            lines = [head + (lines[0] if lines else PLAIN_LINE), *lines[1:]]
        if draw(st.booleans()):
            lines.insert(0, PLAIN_LINE)  # first: a blank or "-->" line would end the cue
            if start_value is not None and end_value is not None and start_value <= end_value:
                survives = True
        identifier = [str(number + 1)] if draw(st.booleans()) else []
        blocks.append("\n".join([*identifier, f"{start} --> {end}", *lines]))
    # YouTube exports sometimes omit the blank line between cues (never after the header).
    cue_separator = draw(st.sampled_from(["\n\n", "\n\n\n", "\n"]))
    text = blocks[0] + "\n\n" + cue_separator.join(blocks[1:]) if blocks else ""
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    # Without blank lines, a "NOTE" in one cue's text would hide the next cues.
    return text.replace("\n", newline), doc_format, survives and cue_separator != "\n"


@settings(FUZZ, max_examples=200)
@given(caption=caption_files())
def test_caption_reader_on_random_caption_files(caption: tuple[str, str, bool]) -> None:
    text, doc_format, survives = caption
    result = read_captions(text, doc_format)
    if survives:
        # A well-formed cue with plain words is never lost, whatever the other cues hold.
        assert result is not None and PLAIN_LINE in result.text


def test_huge_hours_skip_the_cue_instead_of_crashing() -> None:
    # Found by fuzzing: a 400-digit hour overflowed float conversion (OverflowError).
    vtt = "WEBVTT\n\n" + "9" * 400 + ":00:00.000 --> 00:00:01.000\nlost\n\n"
    vtt += "00:00:01.000 --> 00:00:02.000\nkept\n"
    result = read_transcript(vtt, "x.vtt", "vtt")
    assert result.text == "kept"
    assert "line 3" in result.warnings[0]
    with pytest.raises(ValueError, match="invalid timestamp"):
        parse_timestamp("9" * 400 + ":00:00")


def test_entities_are_decoded_once() -> None:
    # Found by fuzzing: "&amp;lt;" (the text "&lt;") became "<", and "&amp;lrm;" vanished.
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n&amp;lt; &amp;lrm; &lt;b&gt; &amp;amp;\n"
    assert read_transcript(vtt, "x.vtt", "vtt").text == "&lt; &lrm; <b> &amp;"


def test_voice_names_are_decoded_and_a_blank_voice_is_no_speaker() -> None:
    # Found by round-tripping the export: `<v Tom &amp; Jerry>` named "Tom &amp; Jerry".
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Tom &amp; Jerry>Hi.\n\n"
        "00:00:02.000 --> 00:00:03.000\n<v  >Hello.\n"
    )
    result = read_transcript(vtt, "x.vtt", "vtt")
    assert [s.speaker for s in result.segments] == ["Tom & Jerry", "Tom & Jerry"]
    assert result.text == "Tom & Jerry: Hi. Hello."


MARKDOWN_TOKENS = st.sampled_from(
    ["# ", "## ", "###### ", "####### ", "#", " #", "Title", " ##", "\n", "\r\n", "\r", "\n\n"]
)
TEXT_TOKENS = st.sampled_from(
    ["Ana Paz: ", "Bo: ", "Q: ", "  ", "\n", "\n\n", "\r\n", "\t", "word", "\ufeff", "\u2028"]
)


@settings(FUZZ, max_examples=300)
@given(
    text=st.one_of(
        st.text(),
        st.lists(st.one_of(MARKDOWN_TOKENS, TEXT_TOKENS, st.text(max_size=6)), max_size=40).map(
            "".join
        ),
    )
)
def test_text_and_markdown_readers_survive_any_text(text: str) -> None:
    for result in (read_plain_text(text), read_markdown(text)):
        check_segments(result)
        for segment in result.segments:
            # Segments are trimmed: they start and end on a visible character.
            piece = result.text[segment.char_start : segment.char_end]
            assert piece == piece.strip()


# ---------------------------------------------------------------------------------------------
# 2. The chunker
# ---------------------------------------------------------------------------------------------

CHUNK_WORDS = st.sampled_from(
    [
        "ANSES",
        "pays",
        "the",
        "Días",
        "لحماية",
        "الاجتماعية",
        "Mr.",
        "e.g.",
        "end.",
        "Yes?",
        "«quoted».",
        "…",
        "1,000",
        "؟",
        "x" * 90,
        "a.b.c",
        "(see p. 4)",
    ]
)
CHUNK_SPACES = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \n \n ", "\u00a0", "\u2028"])
CHUNK_TEXT = st.one_of(
    st.lists(st.one_of(CHUNK_WORDS, CHUNK_SPACES), min_size=1, max_size=80).map("".join),
    st.text(min_size=1, max_size=200),
)
SECTIONS = st.sampled_from([None, "Intro", "Intro › Data"])
SPEAKERS = st.sampled_from([None, "Ana Paz", "Bo"])
SECONDS = st.floats(0, 1e7, allow_nan=False, allow_infinity=False)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    """A document as a reader makes it: segments in text order, not overlapping, with pages
    (reports) or times (transcripts), speakers and sections; text between segments too."""
    kind = draw(st.sampled_from(["report", "transcript"]))
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for _ in range(draw(st.integers(1, 8))):
        gap = draw(st.sampled_from(["", " ", "\n", "\n\n", "[header] "]))
        text = draw(CHUNK_TEXT)
        start = draw(SECONDS)
        timed = kind == "transcript" and draw(st.integers(0, 9)) > 0
        segments.append(
            Segment(
                char_start=offset + len(gap),
                char_end=offset + len(gap) + len(text),
                page=draw(st.one_of(st.none(), st.integers(1, 500))) if kind == "report" else None,
                start_seconds=start if timed else None,
                end_seconds=start + draw(st.floats(0, 1e3)) if timed else None,
                speaker=draw(SPEAKERS),
                section=draw(SECTIONS),
            )
        )
        parts += [gap, text]
        offset += len(gap) + len(text)
    parts.append(draw(st.sampled_from(["", "\n", " [footer]"])))
    return Document(
        doc_id=draw(st.sampled_from(["d1", "0123456789abcdef"])),
        source="fuzz.txt",
        sha256="0" * 64,
        title="Fuzz",
        kind=kind,  # type: ignore[arg-type]
        doc_format="txt",
        language="en",
        text="".join(parts),
        segments=tuple(segments),
    )


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    chars = draw(st.integers(20, 1500))
    transcript_chars = draw(st.integers(20, 1500))
    return Layout(
        chars=chars,
        overlap=draw(st.integers(0, chars)),
        transcript_chars=transcript_chars,
        transcript_overlap=draw(st.integers(0, transcript_chars)),
    )


@settings(FUZZ, max_examples=200)
@given(doc=documents(), layout=layouts())
def test_passages_keep_text_provenance_ids_and_coverage(doc: Document, layout: Layout) -> None:
    # Readers give trimmed segments (text.py, pdf.py, transcript.py): a segment of spaces alone
    # never reaches the chunker.
    assume(
        all(
            doc.text[s.char_start : s.char_end].strip() == doc.text[s.char_start : s.char_end]
            and doc.text[s.char_start : s.char_end]
            for s in doc.segments
        )
    )
    passages = split_document(doc, layout)
    size = layout.transcript_chars if doc.kind == "transcript" else layout.chars
    all_pages = [s.page for s in doc.segments if s.page is not None]
    all_starts = [s.start_seconds for s in doc.segments if s.start_seconds is not None]
    all_ends = [s.end_seconds for s in doc.segments if s.end_seconds is not None]
    covered = [False] * len(doc.text)
    for passage in passages:
        assert 0 <= passage.char_start < passage.char_end <= len(doc.text)
        assert passage.text == doc.text[passage.char_start : passage.char_end]
        assert len(passage.text) <= size
        inside = [
            s
            for s in doc.segments
            if s.char_start < passage.char_end and passage.char_start < s.char_end
        ]
        assert inside  # a passage is made of segment text, never of the text between them
        pages = [s.page for s in inside if s.page is not None]
        if passage.pages is not None:
            first, last = passage.pages
            assert min(pages) <= first <= last <= max(pages)
            assert min(all_pages) <= first and last <= max(all_pages)
        else:
            assert not pages
        if passage.start_seconds is not None:
            assert passage.end_seconds is not None
            assert min(all_starts) <= passage.start_seconds <= passage.end_seconds
            assert passage.end_seconds <= max(all_ends)
        for index in range(passage.char_start, passage.char_end):
            covered[index] = True
    ids = [p.passage_id for p in passages]
    assert len(set(ids)) == len(ids)
    assert [p.passage_id for p in split_document(doc, layout)] == ids  # stable
    for segment in doc.segments:
        for index in range(segment.char_start, segment.char_end):
            assert covered[index] or doc.text[index].isspace(), (index, doc.text[index])


# ---------------------------------------------------------------------------------------------
# 3. Citations
# ---------------------------------------------------------------------------------------------

ANY_SECONDS = st.floats(allow_nan=False, allow_infinity=False)  # negative and huge too
URLS = st.one_of(
    st.sampled_from(
        [
            "https://example.org/watch?v=abc&t=30",
            "https://youtu.be/x?t=5&t=6&T=7",
            "https://example.org/a#t=5",
            "https://example.org/?",
            "https://example.org/?&&t=&",
            "/media/recording.mp4",
            "https://exämple.org/vídeo?q=ü",
            "",
            "http://[bad",
        ]
    ),
    st.text(max_size=40),
    st.text(max_size=30).map(lambda q: "https://example.org/watch?" + q),
)
FORMATS = st.sampled_from("pdf pptx docx html md txt vtt mp4 ogg image".split())


def splittable(url: str | None) -> bool:
    """Whether urllib can split the URL (an unclosed `[` or NFKC trick is a ValueError)."""
    try:
        urlsplit(url or "")
    except ValueError:
        return False
    return True


@st.composite
def document_infos(draw: st.DrawFn) -> DocumentInfo:
    session = draw(
        st.one_of(
            st.none(),
            st.builds(
                Session,
                session_id=st.text(max_size=10),
                title=st.text(max_size=30),
                recording_url=st.one_of(st.none(), URLS),
            ),
        )
    )
    return DocumentInfo(
        doc_id="0123456789abcdef",
        source=draw(st.text(max_size=40)),
        sha256="0" * 64,
        title=draw(st.text(max_size=40)),
        kind=draw(st.sampled_from(["report", "transcript"])),
        doc_format=draw(FORMATS),
        language="en",
        session=session,
        recording_url=draw(st.one_of(st.none(), URLS)),
        page_count=draw(st.one_of(st.none(), st.integers())),
        duration_seconds=draw(st.one_of(st.none(), ANY_SECONDS)),
        passages=1,
        added_at="2024-01-01T00:00:00",
    )


@st.composite
def passages(draw: st.DrawFn) -> Passage:
    text = draw(st.text(max_size=80))
    start = draw(st.integers(0, 10_000))
    return Passage(
        passage_id="0123456789abcdef",
        doc_id="0123456789abcdef",
        text=text,
        char_start=start,
        char_end=start + len(text),
        pages=draw(st.one_of(st.none(), st.tuples(st.integers(), st.integers()))),
        page_labels=draw(st.one_of(st.none(), st.tuples(st.text(max_size=5), st.text(max_size=5)))),
        start_seconds=draw(st.one_of(st.none(), ANY_SECONDS)),
        end_seconds=draw(st.one_of(st.none(), ANY_SECONDS)),
        speaker=draw(st.one_of(st.none(), st.text(max_size=20))),
        section=draw(st.one_of(st.none(), st.text(max_size=20))),
    )


@settings(FUZZ, max_examples=300)
@given(
    document=document_infos(),
    passage=passages(),
    base_url=st.sampled_from([None, "/documents", "http://localhost:7860/documents/"]),
)
def test_citations_never_raise(
    document: DocumentInfo, passage: Passage, base_url: str | None
) -> None:
    # Every input gives a label and a link, malformed recording URLs included.
    assert isinstance(citation_label(document, passage), str)
    assert isinstance(citation_link(document, passage, "/srv/corpus", base_url), str)
    fragment = text_fragment(passage.text)
    assert fragment == "" or fragment.startswith("#:~:text=")
    assert fragment == "" or passage.text.split()


TIME_FORMAT = re.compile(r"\d{2,}:\d{2}:\d{2}")


@settings(FUZZ, max_examples=200)
@given(seconds=st.one_of(st.floats(0, 1e300), st.integers(0, 10**12).map(float)))
def test_format_time_reads_hours_minutes_seconds(seconds: float) -> None:
    # Negative seconds show as 00:00:00 (test_format_time_of_negative_seconds).
    shown = format_time(seconds)
    assert TIME_FORMAT.fullmatch(shown), shown
    hours, minutes, whole = (int(part) for part in shown.split(":"))
    assert minutes < 60 and whole < 60
    assert hours * 3600 + minutes * 60 + whole == int(seconds)


@settings(FUZZ, max_examples=300)
@given(url=URLS, seconds=ANY_SECONDS)
def test_recording_link_has_exactly_one_time(url: str, seconds: float) -> None:
    assume(splittable(url))
    link = recording_link(url, seconds)
    times = [p for p in urlsplit(link).query.split("&") if p.startswith("t=")]
    assert times == [f"t={max(0, int(seconds))}"], link


def test_format_time_of_negative_seconds() -> None:
    assert format_time(-5.0) == "00:00:00"


def test_recording_link_of_an_unsplittable_url() -> None:
    assert recording_link("http://[bad", 5).endswith("t=5")


# ---------------------------------------------------------------------------------------------
# 4. Upload names
# ---------------------------------------------------------------------------------------------

NAME_TOKENS = st.sampled_from(
    [
        "..",
        ".",
        "/",
        "\\",
        "report",
        ".pdf",
        ".PDF",
        ".tar.gz",
        "\x00",
        "\n",
        " ",
        "é",
        "e\u0301",
        "\u202e",
        "İ",
        "\u0958",
        "-",
        "_",
        "C:",
        "~",
        "$(rm -rf)",
        "語",
    ]
)
NAMES = st.one_of(
    st.text(max_size=60),
    st.lists(NAME_TOKENS, max_size=30).map("".join),
    # Long names with a usual suffix: the stem is cut, the suffix kept.
    st.tuples(st.text(min_size=100, max_size=300), st.sampled_from(["", ".pdf", ".VTT", ".."])).map(
        "".join
    ),
)


def assert_plain_name(name: str) -> None:
    assert name and name not in (".", "..") and not name.startswith(".")
    assert "/" not in name and "\\" not in name
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") for c in name), name
    assert len(name) <= MAX_NAME_CHARS


@settings(FUZZ, max_examples=400)
@given(name=NAMES)
def test_safe_names_are_plain_file_names(name: str) -> None:
    assert_plain_name(safe_filename(name))
    folder = safe_folder_name(name)
    assert_plain_name(folder)
    assert "." not in folder
    assert safe_folder_name(None) == "unsorted"


@settings(FUZZ, max_examples=150)
@given(name=NAMES, session=st.one_of(st.none(), NAMES), content=st.binary(max_size=32))
def test_store_upload_writes_only_inside_uploads(
    name: str, session: str | None, content: bytes
) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        corpus = root / "corpus"
        corpus.mkdir()
        source = root / "incoming.bin"
        source.write_bytes(content)
        before = set(root.rglob("*"))
        try:
            target: Path | None = store_upload(source, corpus, session, name)
        except OSError as exc:
            raise AssertionError(f"store_upload raised {exc!r} for {name!r}") from exc
        uploads = (corpus / UPLOADS_FOLDER).resolve()
        created = set(root.rglob("*")) - before
        assert all(path.resolve().is_relative_to(uploads) for path in created), created
        if target is not None:
            assert target.resolve().parent.parent == uploads
            assert target.read_bytes() == content
            assert {p for p in created if p.is_file()} == {target}


def test_safe_filename_with_a_huge_suffix() -> None:
    assert_plain_name(safe_filename("a." + "b" * 200))


def test_store_upload_of_a_long_non_latin_name(tmp_path: Path) -> None:
    source = tmp_path / "incoming.pdf"
    source.write_bytes(b"%PDF")
    target = store_upload(source, tmp_path / "corpus", None, "語" * 100 + ".pdf")
    assert target.read_bytes() == b"%PDF"


# ---------------------------------------------------------------------------------------------
# 5. WebVTT export read back
# ---------------------------------------------------------------------------------------------

EXPORT_SPEAKERS = st.one_of(
    st.sampled_from(["Ana Paz", "Bo", "Tom & Jerry", "R&D <team>", "A > B", "Ñandú Ñoño"]),
    # Readers strip names and never give a blank one; "-->" in a name is written as "→".
    st.text(alphabet="Abz &<>'.", min_size=1, max_size=12).map(str.strip).filter(bool),
)
CUE_TEXT = st.one_of(
    st.text(min_size=1, max_size=40),
    st.lists(st.one_of(CAPTION_TOKENS, CHUNK_WORDS), min_size=1, max_size=10).map(" ".join),
)


def cue_lines(text: str) -> list[str]:
    """The lines the export writes for a cue's text."""
    return [line.strip() for line in text.replace("-->", "→").splitlines() if line.strip()]


@st.composite
def timed_documents(draw: st.DrawFn) -> Document:
    """A timed transcript as readers make it: once a cue has a speaker, every later cue has one
    (a cue without a voice tag continues the current turn when read)."""
    count = draw(st.integers(1, 8))
    first_named = draw(st.integers(0, count))
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for number in range(count):
        text = draw(CUE_TEXT)
        start = draw(SECONDS)
        if parts:
            parts.append("\n")
            offset += 1
        segments.append(
            Segment(
                char_start=offset,
                char_end=offset + len(text),
                start_seconds=start,
                end_seconds=draw(st.one_of(st.none(), SECONDS)),
                speaker=draw(EXPORT_SPEAKERS) if number >= first_named else None,
            )
        )
        parts.append(text)
        offset += len(text)
    return Document(
        doc_id="d1",
        source="r.ogg",
        sha256="0" * 64,
        title=draw(st.text(max_size=30)),
        kind="transcript",
        doc_format="ogg",
        language="en",
        text="".join(parts),
        segments=tuple(segments),
    )


def millis(seconds: float | None) -> int:
    assert seconds is not None
    return round(seconds * 1000)


@settings(FUZZ, max_examples=250)
@given(doc=timed_documents())
def test_webvtt_export_reads_back_with_the_same_cues(doc: Document) -> None:
    cues = [s for s in doc.segments if doc.text[s.char_start : s.char_end].strip()]
    texts = [cue_lines(doc.text[s.char_start : s.char_end]) for s in cues]
    # The real invariant has two conditions the reader imposes on any caption file:
    # - a cue that only repeats lines of the cues before it is a rolling-caption duplicate and
    #   is merged away, so every line here is unique;
    lines = [line for cue in texts for line in cue]
    assume(len(set(lines)) == len(lines))
    # - a speaker-less cue opening "Name: " may be read as that speaker's turn (Zoom exports).
    unnamed = [written[0] for cue, written in zip(cues, texts, strict=True) if not cue.speaker]
    assume(not any(_SPEAKER_PREFIX.match(first) for first in unnamed))
    vtt = to_webvtt(doc)
    if not cues:
        with pytest.raises(QAError):
            read_transcript(vtt, "export.vtt", "vtt")
        return
    result = read_transcript(vtt, "export.vtt", "vtt")
    check_segments(result)
    assert len(result.segments) == len(cues)
    for got, want, lines_written in zip(result.segments, cues, texts, strict=True):
        assert millis(got.start_seconds) == millis(want.start_seconds)
        assert got.speaker == want.speaker
        # The reader opens a turn with "Name: " (once, even when the text already did);
        # the export may drop spaces after it.
        body = " ".join(lines_written)
        text = " ".join(result.text[got.char_start : got.char_end].split())
        assert text in {" ".join(t.split()) for t in (body, f"{want.speaker}: {body}")}, text


@st.composite
def plain_caption_files(draw: st.DrawFn) -> str:
    """SRT files as organisers get them: voice tags or Zoom prefixes, or no speakers at all;
    distinct lines (a repeated line is a rolling-caption duplicate)."""
    cues = []
    clock = 0.0
    style = draw(st.sampled_from(["voice", "zoom", "none"]))
    for number in range(draw(st.integers(1, 6))):
        clock += draw(st.floats(0, 100))
        start = clock
        speaker = draw(st.sampled_from(["Ana Paz", "Eduardo Brau", "Tom &amp; Jerry"]))
        words = draw(st.lists(CHUNK_WORDS, min_size=1, max_size=6))
        lines = [f"{number} " + " ".join(words)]
        if draw(st.booleans()):
            lines.append(f"line two of {number} &amp; more")
        if style == "voice":
            lines[0] = f"<v {speaker}>{lines[0]}"
        elif style == "zoom" and draw(st.booleans()):
            lines[0] = f"{speaker}: {lines[0]}"
        stamp = (
            f"{int(start // 3600):02d}:{int(start % 3600 // 60):02d}:{start % 60:06.3f}".replace(
                ".", ","
            )
        )
        cues.append(f"{number + 1}\n{stamp} --> 99:00:00,000\n" + "\n".join(lines))
    return "\n\n".join(cues) + "\n"


@settings(FUZZ, max_examples=100)
@given(srt=plain_caption_files())
def test_caption_file_exported_and_read_again_is_unchanged(srt: str) -> None:
    first = read_transcript(srt, "x.srt", "srt")
    doc = Document(
        doc_id="d1",
        source="x.srt",
        sha256="0" * 64,
        title="x",
        kind="transcript",
        doc_format="srt",
        language="en",
        text=first.text,
        segments=first.segments,
    )
    second = read_transcript(to_webvtt(doc), "x.vtt", "vtt")
    assert second.text == first.text
    assert [(millis(s.start_seconds), s.speaker) for s in second.segments] == [
        (millis(s.start_seconds), s.speaker) for s in first.segments
    ]


def test_export_does_not_repeat_the_speaker_name_the_reader_added() -> None:
    # Found by round-tripping: a turn's text opens with "Name: ", and the export also wrote
    # `<v Name>`, so reading the export back gave "Name: Name: …".
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\nEduardo Brau: SINTyS cruza datos.\n\n"
        "2\n00:00:02,000 --> 00:00:03,000\nCon acuerdos.\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nNadia Mejri: Merci.\n"
    )
    first = read_transcript(srt, "x.srt", "srt")
    doc = Document(
        doc_id="d1",
        source="x.srt",
        sha256="0" * 64,
        title="x",
        kind="transcript",
        doc_format="srt",
        language="en",
        text=first.text,
        segments=first.segments,
    )
    vtt = to_webvtt(doc)
    assert "<v Eduardo Brau>SINTyS cruza datos." in vtt
    assert read_transcript(vtt, "x.vtt", "vtt").text == first.text
