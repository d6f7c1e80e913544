"""The Library tab (organisers): upload, documents table, remove, replace, rebuild."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from qa_assistant.answering import format_time
from qa_assistant.errors import PermissionDeniedError, QAError
from qa_assistant.feedback import QuestionSummary, judged_jsonl, questions_csv
from qa_assistant.ingest import SUPPORTED_SUFFIXES
from qa_assistant.types import DocumentInfo, IngestReport
from qa_assistant.ui.files import safe_filename
from qa_assistant.ui.organiser import Organiser, Progress, UploadForm
from qa_assistant.ui.render import source_kind

T = TypeVar("T")
logger = logging.getLogger(__name__)
ORGANISER_QUEUE = "organiser"  # one organiser action at a time; asks have their own queue
UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)
DOCUMENT_HEADERS = ["Title", "Session", "Type", "Lang.", "Length", "Passages", "Added", "Id"]
DOCUMENT_COLUMN_WIDTHS: list[str | int] = ["30%", "15%", "9%", "6%", "8%", "8%", "13%", "11%"]
REPORT_HEADERS = ["File", "Status", "Passages", "Pages / cues", "Notes and warnings", "Error"]
LANGUAGE_CHOICES = [
    ("detect", ""),
    ("English", "en"),
    ("Français", "fr"),
    ("Español", "es"),
    ("العربية", "ar"),
]


def document_rows(documents: list[DocumentInfo]) -> list[list[Any]]:
    """The documents table: one row per document, the id last (selecting a row reads it)."""
    rows = []
    for doc in documents:
        if doc.doc_format in ("pdf", "image") and doc.page_count:
            extent = f"{doc.page_count} pages"
        elif doc.doc_format == "pptx" and doc.page_count:
            extent = f"{doc.page_count} slides"
        elif doc.duration_seconds:
            extent = format_time(doc.duration_seconds)
        else:
            extent = ""
        session = doc.session.session_id if doc.session else ""
        added = doc.added_at.replace("T", " ")[:16]
        kind = source_kind(doc.doc_format, doc.kind)
        row = [doc.title, session, kind, doc.language, extent, doc.passages, added, doc.doc_id]
        rows.append(row)
    return rows


QUESTION_HEADERS = ["Question", "Asked", "Unanswered", "Helpful", "Not helpful", "Last asked",
                    "Sessions"]  # fmt: skip
QUESTION_COLUMN_WIDTHS: list[str | int] = ["38%", "7%", "10%", "8%", "9%", "13%", "15%"]


def question_rows(summaries: list[QuestionSummary]) -> list[list[Any]]:
    """The Questions view: one row per question, in the log's order."""
    return [
        [s.question, s.asked, s.unanswered, s.helpful, s.unhelpful, s.last_asked,
         " ".join(s.sessions)]
        for s in summaries
    ]  # fmt: skip


def document_choices(documents: list[DocumentInfo]) -> list[tuple[str, str]]:
    """Dropdown choices (label, doc id) for remove and replace."""
    return [(f"{doc.title} — {doc.source}", doc.doc_id) for doc in documents]


def report_rows(report: IngestReport) -> list[list[Any]]:
    """The per-file table shown after an upload."""
    rows = []
    for item in report.files:
        extent = item.pages if item.pages is not None else item.cues
        row = [
            item.path,
            item.status,
            item.passages,
            "" if extent is None else extent,
            "; ".join((*item.notes, *item.warnings)),
            item.error or "",
        ]
        rows.append(row)
    return rows


def report_summary(report: IngestReport) -> str:
    """One line: counts per status, passages and time."""
    counts = ", ".join(
        f"{report.count(status)} {status}"
        for status in ("indexed", "replaced", "unchanged", "skipped", "failed")
        if report.count(status)
    )
    return f"{counts or 'no files'}; {report.passages} passages in {report.seconds:.1f} s"


def _bar(progress: gr.Progress) -> Progress:
    def update(done: float, total: int, message: str) -> None:
        # A share, not (done, total): a recording reports its progress within one file.
        progress(done / total if total else None, desc=message)

    return update


@dataclass
class LibraryHandlers:
    """The tab's event handlers: an Organiser call each, QAError shown as a gr.Error."""

    organiser: Organiser

    def refresh(self) -> tuple[list[list[Any]], Any]:
        """Documents table and the document chooser."""
        documents = self._documents()
        return document_rows(documents), gr.update(choices=document_choices(documents))

    def add(
        self,
        password: str,
        files: list[str] | None,
        session_id: str,
        session_title: str,
        session_date: str,
        recording_url: str,
        language: str,
        title: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio injects it)
    ) -> tuple[list[list[Any]], str, list[list[Any]], Any, None]:
        """Upload → report table, summary, documents table, chooser, emptied file picker."""
        form = UploadForm(
            session_id or "",
            session_title or "",
            session_date or "",
            recording_url or "",
            language or "",
            title or "",
        )
        report = _run(lambda: self.organiser.add(password, files or [], form, _bar(progress)))
        return (report_rows(report), report_summary(report), *self.refresh(), None)

    def replace(
        self,
        password: str,
        doc_id: str | None,
        file: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio injects it)
    ) -> tuple[list[list[Any]], str, list[list[Any]], Any, None]:
        """New version → report table, summary, documents table, chooser, emptied picker."""
        report = _run(lambda: self.organiser.replace(password, doc_id, file, _bar(progress)))
        return (report_rows(report), report_summary(report), *self.refresh(), None)

    def remove(self, password: str, doc_id: str | None) -> tuple[str, list[list[Any]], Any]:
        """Remove a document → status line, documents table, chooser."""
        removed = _run(lambda: self.organiser.remove(password, doc_id))
        status = f"Removed **{removed.title}** ({removed.passages} passages)."
        return (status, *self.refresh())

    def rebuild(
        self,
        password: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio injects it)
    ) -> tuple[str, list[list[Any]], Any]:
        """Re-embed everything → status line, documents table, chooser."""
        report = _run(lambda: self.organiser.rebuild(password, _bar(progress)))
        status = (
            f"Rebuilt {report.documents} documents, {report.passages} passages with "
            f"{report.model} ({report.embedded} embedded, {report.reused} reused) "
            f"in {report.seconds:.1f} s."
        )
        return (status, *self.refresh())

    def questions(self, password: str, session: str | None) -> tuple[list[list[Any]], str, str]:
        """The Questions view (password): table rows, then the CSV and judged-questions files."""
        organiser = self.organiser
        _run(lambda: organiser.authorize(password))
        summaries = organiser.assistant.question_summaries(session or None)
        folder = Path(tempfile.mkdtemp(prefix="qa-questions-"))
        table = folder / "questions.csv"
        table.write_text(questions_csv(summaries), encoding="utf-8")
        judged = folder / "judged_questions.jsonl"
        judged.write_text(judged_jsonl(organiser.assistant.judged_questions()), encoding="utf-8")
        return question_rows(summaries), str(table), str(judged)

    def transcript(self, doc_id: str | None) -> Any:
        """The chosen document's transcript as a .vtt file to download."""
        if not doc_id:
            raise gr.Error("Choose a transcript or a recording in the table first.")
        info, text = _run(lambda: self.organiser.assistant.transcript_webvtt(doc_id))
        folder = Path(tempfile.mkdtemp(prefix="qa-vtt-"))
        target = folder / f"{Path(safe_filename(info.source)).stem or 'transcript'}.vtt"
        target.write_text(text, encoding="utf-8")
        return gr.update(value=str(target), visible=True)

    def _documents(self) -> list[DocumentInfo]:
        try:
            return self.organiser.documents()
        except QAError as exc:
            raise user_error(exc) from exc


def user_error(exc: QAError) -> gr.Error:
    """A QAError as the message box the user sees (an expected outcome: no traceback logged)."""
    if isinstance(exc, PermissionDeniedError):
        logger.warning("organiser action refused: %s", exc)
    message = str(exc)
    return gr.Error(message[:1].upper() + message[1:], print_exception=False)


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except QAError as exc:
        raise user_error(exc) from exc


def select_document(rows: Any, event: gr.SelectData) -> Any:
    """Clicking a row of the documents table chooses that document."""
    value = event.row_value
    return gr.update(value=value[-1]) if value else gr.update()


@dataclass(frozen=True)
class LibraryTab:
    """What the rest of the app wires to: the documents views and the events that change them."""

    table: gr.Dataframe
    chosen: gr.Dropdown
    changes: tuple[Any, ...]  # gradio Dependency objects; chain `.success(...)` on them


def build_library_tab(handlers: LibraryHandlers) -> LibraryTab:
    """Lay out the Library tab inside the current Blocks."""
    organiser = handlers.organiser
    locked = organiser.read_only
    documents = handlers.organiser.documents()
    if locked:
        notice = (
            "🔒 **Read-only.** This server was started without an organiser password, so "
            "documents can be listed but not added, replaced or removed. Set "
            "`QA_ADMIN_PASSWORD` and restart to enable these actions."
        )
    else:
        notice = (
            "Organisers: enter the password, then add, replace or remove documents. "
            "Participants can keep asking while the index is updated."
        )
    gr.Markdown(notice, elem_id="qa-notice")
    editable = not locked
    password = gr.Textbox(
        label="Organiser password",
        type="password",
        interactive=editable,
        placeholder="checked on every action" if editable else "not configured",
        max_lines=1,
    )
    with gr.Accordion("Add files", open=True):
        files = gr.File(
            label="Reports, slides, web pages, scans, captions or recordings",
            file_count="multiple",
            file_types=UPLOAD_TYPES,
            interactive=editable,
            height=140,
            elem_id="qa-upload",
        )
        with gr.Row():
            session_id = gr.Textbox(
                label="Session id", placeholder="2022-12-07-tunisia", interactive=editable
            )
            session_title = gr.Textbox(label="Session title", interactive=editable)
            session_date = gr.Textbox(label="Date", placeholder="YYYY-MM-DD", interactive=editable)
        with gr.Row():
            recording_url = gr.Textbox(
                label="Recording URL", placeholder="https://…", interactive=editable
            )
            language = gr.Dropdown(
                LANGUAGE_CHOICES,
                value="",
                label="Language",
                allow_custom_value=True,
                interactive=editable,
            )
            title = gr.Textbox(
                label="Document title", info="single file only", interactive=editable
            )
        add_button = gr.Button("Add to the library", variant="primary", interactive=editable)
        summary = gr.Markdown(elem_id="qa-upload-summary")
        report = gr.Dataframe(
            headers=REPORT_HEADERS,
            label="Upload report",
            interactive=False,
            elem_id="qa-report",
            wrap=True,
            max_height=260,
        )
    with gr.Accordion("Documents", open=True):
        table = gr.Dataframe(
            value=document_rows(documents),
            headers=DOCUMENT_HEADERS,
            label="Indexed documents (click a row to choose it)",
            interactive=False,
            wrap=True,
            max_height=420,
            column_widths=DOCUMENT_COLUMN_WIDTHS,
            elem_id="qa-documents",
        )
        with gr.Row(equal_height=True):
            chosen = gr.Dropdown(
                document_choices(documents),
                value=None,
                label="Chosen document",
                scale=4,
                min_width=240,
                interactive=True,
            )
            with gr.Column(scale=1, min_width=140):
                refresh_button = gr.Button("Refresh list", size="sm")
                remove_button = gr.Button(
                    "Remove from the index", variant="stop", size="sm", interactive=editable
                )
                vtt_button = gr.Button("Transcript as WebVTT", size="sm")
        status = gr.Markdown()
        vtt_file = gr.File(label="Transcript (WebVTT)", visible=False, interactive=False)
    with gr.Accordion("Replace the chosen document with a new version", open=False):
        new_version = gr.File(
            label="New version (same title and session)",
            file_types=UPLOAD_TYPES,
            interactive=editable,
            elem_id="qa-new-version",
        )
        replace_button = gr.Button("Replace", interactive=editable)
    with gr.Accordion("Questions participants asked", open=False, elem_id="qa-questions"):
        gr.Markdown(
            "Unanswered questions and passages marked *not helpful* (👎) first, then the most "
            "asked: what the materials do not cover yet. Logged anonymously "
            "(`QA_LOG_QUESTIONS=false` turns it off). Passages marked *helpful* (👍) export as "
            "a file for `qa-assistant eval questions`."
        )
        with gr.Row():
            question_session = gr.Dropdown(
                [
                    ("All sessions", ""),
                    *((s.title or s.session_id, s.session_id) for s in organiser.sessions()),
                ],
                value="",
                label="Session",
                scale=3,
            )
            questions_button = gr.Button("Show questions", scale=1, interactive=editable)
        questions_table = gr.Dataframe(
            headers=QUESTION_HEADERS,
            column_widths=QUESTION_COLUMN_WIDTHS,
            interactive=False,
            wrap=True,
            max_height=420,
            elem_id="qa-question-table",
        )
        with gr.Row():
            questions_csv_file = gr.File(label="Questions (CSV)", interactive=False)
            judged_file = gr.File(label="Judged questions (eval questions)", interactive=False)
    with gr.Accordion("Rebuild", open=False):
        gr.Markdown(
            "Re-reads and re-embeds every document with the current model and passage "
            "settings. Questions are answered from the current index until the new one is ready."
        )
        rebuild_button = gr.Button("Rebuild the index", interactive=editable)

    def organiser_event(name: str) -> dict[str, Any]:
        # Private: the public /add, /remove, /rebuild endpoints are defined in app.py.
        return {
            "api_name": f"library_{name}",
            "api_visibility": "private",
            "concurrency_id": ORGANISER_QUEUE,
            "concurrency_limit": 1,
        }

    upload_inputs = [
        password,
        files,
        session_id,
        session_title,
        session_date,
        recording_url,
        language,
        title,
    ]
    added = add_button.click(
        handlers.add,
        upload_inputs,
        [report, summary, table, chosen, files],
        **organiser_event("add"),
    )
    replaced = replace_button.click(
        handlers.replace,
        [password, chosen, new_version],
        [report, summary, table, chosen, new_version],
        **organiser_event("replace"),
    )
    removed = remove_button.click(
        handlers.remove, [password, chosen], [status, table, chosen], **organiser_event("remove")
    )
    rebuilt = rebuild_button.click(
        handlers.rebuild, [password], [status, table, chosen], **organiser_event("rebuild")
    )
    refresh_button.click(handlers.refresh, None, [table, chosen], api_visibility="private")
    questions_button.click(
        handlers.questions,
        [password, question_session],
        [questions_table, questions_csv_file, judged_file],
        **organiser_event("questions"),
    )
    vtt_button.click(handlers.transcript, [chosen], [vtt_file], api_visibility="private")
    table.select(select_document, [table], [chosen], api_visibility="private")
    return LibraryTab(table, chosen, (added, replaced, removed, rebuilt))
