"""Chunking keeps provenance: offsets, pages and times are always right (property tests)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa_assistant.chunking import Layout, sentence_spans, split_document, windows
from qa_assistant.types import Document, Segment

WORDS = st.sampled_from(
    [
        "ANSES",
        "pays",
        "benefits",
        "across",
        "the",
        "life",
        "cycle",
        "Plan",
        "1,000",
        "Días",
        "لحماية",
        "الاجتماعية",
        "SINTyS",
        "échange",
        "données",
        "Mr.",
        "e.g.",
        "end.",
    ]
)
SENTENCE = st.lists(WORDS, min_size=1, max_size=30).map(lambda ws: " ".join(ws) + ".")
SEGMENT_TEXT = st.lists(SENTENCE, min_size=1, max_size=8).map(" ".join)


def _document(texts: list[str], kind: str, speakers: list[str | None]) -> Document:
    parts: list[str] = []
    segments: list[Segment] = []
    offset = 0
    for number, (text, speaker) in enumerate(zip(texts, speakers, strict=True), start=1):
        if parts:
            parts.append("\n\n")
            offset += 2
        segments.append(
            Segment(
                char_start=offset,
                char_end=offset + len(text),
                page=number if kind == "report" else None,
                start_seconds=10.0 * number if kind == "transcript" else None,
                end_seconds=10.0 * number + 9 if kind == "transcript" else None,
                speaker=speaker,
            )
        )
        parts.append(text)
        offset += len(text)
    return Document(
        doc_id="d1",
        source="x",
        sha256="0",
        title="T",
        kind=kind,  # type: ignore[arg-type]
        doc_format="txt",
        language="en",
        text="".join(parts),
        segments=tuple(segments),
    )


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(SEGMENT_TEXT, min_size=1, max_size=6),
    kind=st.sampled_from(["report", "transcript"]),
    max_chars=st.integers(min_value=100, max_value=900),
    overlap=st.integers(min_value=0, max_value=300),
    data=st.data(),
)
def test_passages_keep_offsets_pages_and_times(
    texts: list[str], kind: str, max_chars: int, overlap: int, data: st.DataObject
) -> None:
    speakers = data.draw(
        st.lists(
            st.sampled_from([None, "Florencia Hiquis", "Eduardo Brau"]),
            min_size=len(texts),
            max_size=len(texts),
        )
    )
    doc = _document(texts, kind, speakers)
    passages = split_document(doc, Layout(max_chars, overlap, max_chars, overlap))
    assert passages
    covered = set()
    for passage in passages:
        # Offsets point at exactly the passage text.
        assert doc.text[passage.char_start : passage.char_end] == passage.text
        assert passage.text == passage.text.strip()
        inside = [
            s
            for s in doc.segments
            if s.char_start < passage.char_end and passage.char_start < s.char_end
        ]
        assert inside
        speakers = {s.speaker for s in inside}
        if kind == "report":
            # A report passage never mixes speakers.
            assert speakers == {passage.speaker}
        else:
            # A transcript passage may read turns together; it names its main speaker.
            assert passage.speaker in speakers or (passage.speaker is None and speakers == {None})
        if kind == "report":
            assert passage.pages == (min(s.page for s in inside), max(s.page for s in inside))
        else:
            assert passage.start_seconds == min(s.start_seconds for s in inside)
            assert passage.end_seconds == max(s.end_seconds for s in inside)
        covered.update(range(passage.char_start, passage.char_end))
    # Every visible character of the document is in some passage.
    assert all(i in covered for i, c in enumerate(doc.text) if not c.isspace())


def test_passage_spanning_two_pages_says_so() -> None:
    doc = _document(["First page ends here.", "Second page starts here."], "report", [None, None])
    (passage,) = split_document(doc, Layout(500, 0))
    assert passage.pages == (1, 2)


def test_turns_are_read_together_under_the_main_speaker() -> None:
    doc = _document(
        ["Does ANSES pay the allowance every month?", "Yes.", "It pays it on the tenth."],
        "transcript",
        ["A", "B", "A"],
    )
    (passage,) = split_document(doc, Layout(transcript_chars=500))
    assert passage.text == doc.text.strip()
    assert passage.speaker == "A"


def test_transcripts_have_their_own_passage_size() -> None:
    turn = " ".join(["The allowance reaches every child in the programme."] * 6)
    transcript = _document([turn, turn, turn], "transcript", ["A", "B", "A"])
    report = _document([turn, turn, turn], "report", [None, None, None])
    layout = Layout(chars=400, overlap=0, transcript_chars=700, transcript_overlap=0)
    spoken = split_document(transcript, layout)
    assert len(spoken) == 2 and 400 < len(spoken[0].text) <= 700
    written = split_document(report, layout)
    assert len(written) == 3 and all(len(p.text) <= 400 for p in written)


def test_report_passages_break_at_speaker_changes() -> None:
    doc = _document(["Hello all.", "Thank you."], "report", ["A", "B"])
    assert [p.speaker for p in split_document(doc, Layout(500, 0))] == ["A", "B"]


def test_sentence_spans_respect_abbreviations_and_arabic_question_mark() -> None:
    text = "Mr. Brau spoke. Was it clear? نعم؟ Yes!"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["Mr. Brau spoke.", "Was it clear?", "نعم؟", "Yes!"]


def test_windows_overlap_by_whole_sentences() -> None:
    spans = [(0, 10), (11, 20), (21, 30), (31, 40)]
    assert list(windows(spans, max_chars=20, overlap=10)) == [(0, 20), (11, 30), (21, 40)]
    assert list(windows(spans, max_chars=20, overlap=0)) == [(0, 20), (21, 40)]


def test_passage_ids_are_stable() -> None:
    doc = _document(["Same text. Twice."], "report", [None])
    assert [p.passage_id for p in split_document(doc, Layout(300, 50))] == [
        p.passage_id for p in split_document(doc, Layout(300, 50))
    ]
