"""Evaluate the configured pipeline on a judged set: index it into a temporary folder, search
with `Assistant.search` as participants would, and score the rankings with `evaluation`.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qa_assistant.assistant import Assistant
from qa_assistant.errors import QAError
from qa_assistant.evaluation import (
    GOLD_KEY,
    BeirDocument,
    BeirQuery,
    EvalResult,
    JudgedQuestion,
    QueryOutcome,
    SpanQuery,
    matches_location,
    overlaps_span,
    summarize,
)
from qa_assistant.language import detect_language
from qa_assistant.types import Document, Hit, Passage, Segment

if TYPE_CHECKING:
    from qa_assistant.config import Settings
    from qa_assistant.embedding import Embedder
    from qa_assistant.eval_data import BeirSet, QuestionSet, SpanSet

logger = logging.getLogger(__name__)

Progress = Callable[[float, int, str], None]
# Passages fetched per query. Metrics look at the first 10 documents or answer targets; BEIR
# documents are split into several passages, so more are needed to fill ten distinct ones.
DEFAULT_TOP_K = 30


def _no_progress(done: float, total: int, message: str) -> None:
    return None


@contextmanager
def temporary_assistant(
    settings: Settings, embedder: Embedder | None = None, corpus_dir: Path | None = None
) -> Iterator[Assistant]:
    """An Assistant with the given settings over a fresh index in a temporary folder.

    Highlights are switched off: they do not change rankings and cost one embedding per
    sentence of every hit.
    """
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as folder:
        update: dict[str, object] = {"index_dir": Path(folder) / "index", "highlight_sentences": 0}
        if corpus_dir is not None:
            update["corpus_dir"] = corpus_dir
        yield Assistant(settings.model_copy(update=update), embedder=embedder)


def _language(given: str | None, text: str) -> str:
    return given or detect_language(text, default="und")


# ----- BEIR -------------------------------------------------------------------------------------
def beir_document(doc: BeirDocument, language: str | None = None) -> Document:
    """A BEIR document as an in-memory report: "title\\n\\ntext", its id as source."""
    title, body = doc.title.strip(), doc.text.strip()
    text = f"{title}\n\n{body}" if title and body else title or body
    digest = hashlib.sha256(f"{doc.doc_id}\n{text}".encode()).hexdigest()
    return Document(
        doc_id=digest[:16],
        source=doc.doc_id,
        sha256=digest,
        title=title or doc.doc_id,
        kind="report",
        doc_format="txt",
        language=_language(language, text),
        text=text,
        segments=(Segment(char_start=0, char_end=len(text)),),
    )


def index_beir(
    assistant: Assistant,
    documents: Sequence[BeirDocument],
    language: str | None = None,
    progress: Progress = _no_progress,
) -> None:
    """Add a BEIR corpus to the assistant's index (language detected per document if None)."""
    assistant.add_documents([beir_document(doc, language) for doc in documents], progress)


def beir_outcomes(
    assistant: Assistant,
    queries: Sequence[BeirQuery],
    top_k: int = DEFAULT_TOP_K,
    progress: Progress = _no_progress,
) -> list[QueryOutcome]:
    """Search every query; the ranking is the documents of the hits, first passage counting."""
    outcomes = []
    for number, query in enumerate(queries):
        progress(number, len(queries), "searching")
        hits = assistant.search(query.text, top_k)
        ranking = tuple(dict.fromkeys(hit.document.source for hit in hits))
        language = _language(query.language, query.text)
        outcomes.append(QueryOutcome(query.query_id, language, ranking, query.grades))
    return outcomes


def evaluate_beir(
    data: BeirSet,
    settings: Settings,
    embedder: Embedder | None = None,
    top_k: int = DEFAULT_TOP_K,
    limit: int | None = None,
    corpus_language: str | None = None,
    progress: Progress = _no_progress,
) -> EvalResult:
    """Index a BEIR corpus into a temporary index and evaluate its queries (first `limit`)."""
    with temporary_assistant(settings, embedder) as assistant:
        index_beir(assistant, data.documents, corpus_language, progress)
        queries = data.queries[:limit] if limit else data.queries
        return summarize(beir_outcomes(assistant, queries, top_k, progress))


# ----- spans ------------------------------------------------------------------------------------
def span_relevant(source: str, start: int, end: int, query: SpanQuery) -> bool:
    """Whether the passage `[start, end)` of file `source` overlaps a gold span of the query."""
    return Path(source).stem == query.meeting_id and overlaps_span(start, end, query.spans)


def meeting_passages(assistant: Assistant) -> dict[str, list[tuple[str, Passage]]]:
    """The indexed passages of each meeting (file stem), with their file: read once per run."""
    found: dict[str, list[tuple[str, Passage]]] = {}
    for document in assistant.list_documents():
        passages = assistant.document_passages(document.doc_id)
        found.setdefault(Path(document.source).stem, []).extend(
            (document.source, p) for p in passages
        )
    return found


def span_grades(
    meetings: Mapping[str, Sequence[tuple[str, Passage]]], query: SpanQuery
) -> dict[str, float]:
    """Every indexed passage of the query's meeting that overlaps a gold span: each is relevant.

    Gold spans are long (QMSum: median 22 turns), so a query has several relevant passages, and
    nDCG@10 and recall count each of them, as for any judged passage set. `meetings` comes from
    `meeting_passages`.
    """
    return {
        p.passage_id: 1.0
        for source, p in meetings.get(query.meeting_id, ())
        if span_relevant(source, p.char_start, p.char_end, query)
    }


def span_outcomes(
    assistant: Assistant,
    queries: Sequence[SpanQuery],
    top_k: int = DEFAULT_TOP_K,
    progress: Progress = _no_progress,
) -> list[QueryOutcome]:
    """Search every query; each retrieved passage inside the gold spans is relevant."""
    outcomes = []
    meetings = meeting_passages(assistant)
    for number, query in enumerate(queries):
        progress(number, len(queries), "searching")
        hits = assistant.search(query.text, top_k)
        ranking = tuple(hit.passage.passage_id for hit in hits)
        language = _language(query.language, query.text)
        grades = span_grades(meetings, query)
        outcomes.append(
            QueryOutcome(query.query_id, language, ranking, grades, answerable=bool(grades))
        )
    return outcomes


def _add_folder(assistant: Assistant, folder: Path, progress: Progress) -> None:
    report = assistant.add([folder], progress=progress)
    if report.passages == 0:
        failed = [f"{r.path}: {r.error}" for r in report.files if r.error]
        raise QAError(f"nothing could be indexed from {folder}: {'; '.join(failed[:3])}")
    for item in report.files:
        if item.status == "failed":
            logger.warning("not indexed: %s (%s)", item.path, item.error)


def evaluate_spans(
    data: SpanSet,
    settings: Settings,
    embedder: Embedder | None = None,
    top_k: int = DEFAULT_TOP_K,
    limit: int | None = None,
    progress: Progress = _no_progress,
) -> EvalResult:
    """Index the transcripts into a temporary index and evaluate the span queries."""
    with temporary_assistant(settings, embedder, corpus_dir=data.docs_dir) as assistant:
        _add_folder(assistant, data.docs_dir, progress)
        queries = data.queries[:limit] if limit else data.queries
        return summarize(span_outcomes(assistant, queries, top_k, progress))


# ----- organiser questions ----------------------------------------------------------------------
def question_key(hit: Hit, question: JudgedQuestion) -> str:
    """GOLD_KEY when the hit is at one of the question's answer locations."""
    passage = hit.passage
    for location in question.locations:
        if matches_location(
            location, hit.document.source, passage.pages, passage.start_seconds, passage.end_seconds
        ):
            return GOLD_KEY
    return passage.passage_id


def question_outcomes(
    assistant: Assistant,
    questions: Sequence[JudgedQuestion],
    top_k: int = DEFAULT_TOP_K,
    progress: Progress = _no_progress,
) -> list[QueryOutcome]:
    """Ask every question: its ranking, and whether the assistant declined to answer."""
    outcomes = []
    for number, question in enumerate(questions):
        progress(number, len(questions), "asking")
        answer = assistant.ask(question.question, top_k)
        ranking: tuple[str, ...] = ()
        if question.answerable:
            # A declined answer carries no hits; rank anyway, so recall is not conflated
            # with abstention.
            hits = answer.hits or tuple(assistant.search(question.question, top_k))
            ranking = tuple(question_key(hit, question) for hit in hits)
        language = _language(question.language, question.question)
        grades = {GOLD_KEY: 1.0} if question.answerable else {}
        outcomes.append(
            QueryOutcome(
                query_id=f"q{number + 1}",
                language=language,
                ranking=ranking,
                grades=grades,
                answerable=question.answerable,
                abstained=not answer.answerable,
            )
        )
    return outcomes


def evaluate_questions(
    data: QuestionSet,
    settings: Settings,
    embedder: Embedder | None = None,
    top_k: int = DEFAULT_TOP_K,
    limit: int | None = None,
    progress: Progress = _no_progress,
) -> EvalResult:
    """Index the corpus folder into a temporary index and evaluate the organiser questions."""
    with temporary_assistant(settings, embedder, corpus_dir=data.docs_dir) as assistant:
        _add_folder(assistant, data.docs_dir, progress)
        questions = data.questions[:limit] if limit else data.questions
        return summarize(question_outcomes(assistant, questions, top_k, progress))
