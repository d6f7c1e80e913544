"""Plain JSON-ready records of answers and documents, shared by the CLI and the UI's API."""

from __future__ import annotations

from typing import Any

from qa_assistant.abstention import FEATURES
from qa_assistant.types import Answer, Coverage, DocumentInfo, FileReport, Hit


def hit_record(hit: Hit) -> dict[str, Any]:
    """One hit in the `ask --json` schema (times in seconds; absent fields null)."""
    passage, document = hit.passage, hit.document
    return {
        "rank": hit.rank,
        "score": hit.score,
        "doc_id": document.doc_id,
        "title": document.title,
        "source": public_source(document.source),
        "doc_type": document.kind,
        "format": document.doc_format,
        "session": document.session.session_id if document.session else None,
        "session_title": document.session.title if document.session else None,
        "language": passage.language or document.language,
        "page_start": passage.pages[0] if passage.pages else None,
        "page_end": passage.pages[1] if passage.pages else None,
        "time_start": passage.start_seconds,
        "time_end": passage.end_seconds,
        "speaker": passage.speaker,
        "section": passage.section,
        "text": passage.text,
        "highlights": [
            {"start": start, "end": end, "text": passage.text[start:end]}
            for start, end in hit.highlights
        ],
        "citation": hit.citation.label,
        "link": hit.citation.link,
        "retriever": hit.retriever,
        "ocr": passage.ocr,
    }


def public_source(source: str) -> str:
    """How a participant sees where a passage comes from: the path inside the corpus folder,
    or only the file name for a file added from elsewhere (no server path is shown)."""
    if source.startswith("/") or (len(source) > 2 and source[1] == ":"):
        return source.replace("\\", "/").rsplit("/", 1)[-1]
    return source


def answer_record(answer: Answer) -> dict[str, Any]:
    """An answer in the `ask --json` schema."""
    return {
        "question": answer.question,
        "ask_id": answer.ask_id,
        "answerable": answer.answerable,
        "query_language": answer.query_language,
        "hits": [hit_record(hit) for hit in answer.hits],
        "suggested_sessions": [
            {"session": s.session_id, "title": s.title, "date": s.date} for s in answer.suggestions
        ],
        "coverage": coverage_record(answer.coverage),
    }


def coverage_record(coverage: Coverage | None) -> dict[str, Any] | None:
    """How an answer's coverage was decided: rule, best cosine, probability and the bar it had
    to reach (a probability for the model, a cosine for a fixed threshold), model inputs."""
    if coverage is None:
        return None
    return {
        "covered": coverage.covered,
        "rule": coverage.rule,
        "best_score": round(coverage.best_score, 4),
        "probability": None if coverage.probability is None else round(coverage.probability, 4),
        "bar": round(coverage.bar, 4),
        "reference_language": coverage.reference,
        "features": {  # the model's inputs; none for a fixed threshold
            name: round(value, 4) for name, value in zip(FEATURES, coverage.features, strict=False)
        },
    }


def document_record(document: DocumentInfo) -> dict[str, Any]:
    """One document in the `list --json` schema."""
    session = document.session
    return {
        "doc_id": document.doc_id,
        "source": document.source,
        "title": document.title,
        "doc_type": document.kind,
        "format": document.doc_format,
        "language": document.language,
        "session": session.session_id if session else None,
        "session_title": session.title if session else None,
        "session_date": session.date if session else None,
        "recording_url": document.recording_url,
        "pages": document.page_count if document.doc_format == "pdf" else None,
        "duration_seconds": document.duration_seconds,
        "passages": document.passages,
        "added_at": document.added_at,
        "sha256": document.sha256,
        "warnings": list(document.warnings),
    }


def file_report_record(report: FileReport) -> dict[str, Any]:
    """One file of an ingest report."""
    return {
        "source": report.path,
        "status": report.status,
        "doc_id": report.doc_id,
        "title": report.title,
        "passages": report.passages,
        "pages": report.pages,
        "cues": report.cues,
        "warnings": list(report.warnings),
        "notes": list(report.notes),
        "format": report.doc_format,
        "error": report.error,
    }
