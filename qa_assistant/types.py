"""Typed records passed between the stages: read → chunk → index → search → answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DocumentKind = Literal["report", "transcript"]
Retriever = Literal["vector", "keyword", "hybrid"]
FileStatus = Literal["indexed", "replaced", "unchanged", "skipped", "failed"]


@dataclass(frozen=True)
class Session:
    """A webinar session: organisers describe it in `sessions.toml` or by CLI flags."""

    session_id: str
    title: str = ""
    date: str = ""
    recording_url: str | None = None


@dataclass(frozen=True)
class Series:
    """What the UI says about the whole library: `[series]` in the corpus's sessions.toml."""

    title: str = ""
    description: str = ""
    examples: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentMeta:
    """What the organiser says about a file; empty fields are filled by the reader."""

    title: str | None = None
    session: Session | None = None
    language: str | None = None
    recording_url: str | None = None

    @staticmethod
    def from_dict(data: dict[str, Any]) -> DocumentMeta:
        """The metadata `dataclasses.asdict` gave (as stores keep it, in JSON)."""
        session = Session(**data["session"]) if data.get("session") else None
        return DocumentMeta(
            title=data.get("title"),
            session=session,
            language=data.get("language"),
            recording_url=data.get("recording_url"),
        )


@dataclass(frozen=True)
class Segment:
    """A unit of provenance: one PDF page, one caption cue, one Markdown section line block.

    `char_start`/`char_end` index into `Document.text`. Consecutive segments with the same
    `speaker` and `section` form a block (a speaker turn, a section): no passage crosses a
    section; transcript passages read turns together (chunking.split_document).
    """

    char_start: int
    char_end: int
    page: int | None = None
    page_label: str | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    speaker: str | None = None
    section: str | None = None
    ocr: bool = False  # text read from an image by OCR (a scan): may hold recognition errors


@dataclass(frozen=True)
class Document:
    """A source file as read: its full text and the provenance of every part of it."""

    doc_id: str
    source: str
    sha256: str
    title: str
    kind: DocumentKind
    doc_format: str
    language: str
    text: str
    segments: tuple[Segment, ...]
    session: Session | None = None
    recording_url: str | None = None
    page_count: int | None = None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # facts for the organiser: language heard, real-time factor


@dataclass(frozen=True)
class Passage:
    """A window of a document's text, with the provenance it covers. Never carries a score.

    `speaker` is the speaker with most of the passage's characters; a transcript passage that
    reads several turns shows every speaker's name in its text.
    """

    passage_id: str
    doc_id: str
    text: str
    char_start: int
    char_end: int
    pages: tuple[int, int] | None = None
    page_labels: tuple[str, str] | None = None
    start_seconds: float | None = None
    end_seconds: float | None = None
    speaker: str | None = None
    section: str | None = None
    language: str | None = None
    ocr: bool = False  # some of the text was read by OCR


@dataclass(frozen=True)
class DocumentInfo:
    """A document as listed from the index (no text)."""

    doc_id: str
    source: str
    sha256: str
    title: str
    kind: DocumentKind
    doc_format: str
    language: str
    session: Session | None
    recording_url: str | None
    page_count: int | None
    duration_seconds: float | None
    passages: int
    added_at: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    """How a participant checks a hit: a readable label and, when possible, a link."""

    label: str
    link: str | None


@dataclass(frozen=True)
class Hit:
    """A passage returned for a question, with its score, rank and highlighted sentences.

    `highlights` are (start, end) character ranges into `passage.text`.
    """

    passage: Passage
    document: DocumentInfo
    score: float
    rank: int
    retriever: Retriever
    citation: Citation
    highlights: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search; empty means no restriction."""

    sessions: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """How closely the library matches a question, as search measured it (abstention reads it).

    Cosines are the first stage's (e5); "nearest" passages are those of dense search.
    """

    best_cosine: float  # of the nearest passage
    best_sentence: float  # best cosine of a sentence of the 3 nearest passages (or best_cosine)
    word_share: float | None = None  # IDF-weighted share of the question's content words in
    # the 3 nearest passages in its language (None: none in its language, or no content word)
    unknown_name: bool | None = None  # a name of the question (a capitalised word inside it)
    # is in no passage of the library (None as word_share)


@dataclass(frozen=True)
class Coverage:
    """Whether the materials cover a question, and why (`qa_assistant.abstention`)."""

    covered: bool
    rule: Literal["model", "fixed"]  # the calibrated model, or a fixed cosine (QA_MIN_SCORE)
    best_score: float  # the question's best dense cosine among the passages searched
    bar: float  # what was compared had to reach it: the probability ("model") or the cosine
    probability: float | None = None  # the model's probability that the materials cover it
    reference: str | None = None  # probe language the question was measured against
    floor: float = 0.0  # cosine an off-topic question reaches here: the relevance scale's zero
    features: tuple[float, ...] = ()  # the model's inputs (`abstention.FEATURES`, in order)


@dataclass(frozen=True)
class Answer:
    """The reply to a question: the best passages, or a statement that nothing covers it."""

    question: str
    answerable: bool
    hits: tuple[Hit, ...]
    query_language: str | None = None
    suggestions: tuple[Session, ...] = ()
    ask_id: str | None = None  # the question log's id, for votes (None when not logged)
    coverage: Coverage | None = None  # how `answerable` was decided


@dataclass(frozen=True)
class FileReport:
    """What happened to one file during `add`."""

    path: str
    status: FileStatus
    doc_id: str | None = None
    title: str | None = None
    passages: int = 0
    pages: int | None = None
    cues: int | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()
    doc_format: str | None = None


@dataclass(frozen=True)
class IngestReport:
    """The outcome of an `add` call: one report per file."""

    files: tuple[FileReport, ...]
    seconds: float = 0.0

    def count(self, status: FileStatus) -> int:
        """Number of files that ended with `status`."""
        return sum(1 for report in self.files if report.status == status)

    @property
    def passages(self) -> int:
        """Passages written by this call."""
        return sum(r.passages for r in self.files if r.status in ("indexed", "replaced"))


@dataclass(frozen=True)
class RebuildReport:
    """The outcome of a rebuild."""

    documents: int
    passages: int
    embedded: int
    reused: int
    seconds: float
    model: str


@dataclass(frozen=True)
class Facets:
    """The values the filters can take, read from the index."""

    sessions: tuple[Session, ...] = ()
    speakers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    documents: tuple[tuple[str, str], ...] = field(default=())
