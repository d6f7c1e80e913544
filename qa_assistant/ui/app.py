"""The Gradio app: an Ask tab for participants, a Library tab for organisers, and an API.

`build_app` only lays out components and wires them to `respond`, the Library handlers and
the API functions; every answer comes from `Assistant.ask` and is rendered by `render`.
"""

from __future__ import annotations

import logging
import socket
from html import escape
from typing import Any

import gradio as gr
from gradio.events import api as gradio_api

from qa_assistant.answering import DOCUMENT_ROUTE
from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.errors import QAError
from qa_assistant.ingest import MEDIA_SIZE_FACTOR
from qa_assistant.records import answer_record, document_record, file_report_record
from qa_assistant.types import Facets, SearchFilters, Series
from qa_assistant.ui.files import document_routes
from qa_assistant.ui.library import (
    LANGUAGE_CHOICES,
    ORGANISER_QUEUE,
    LibraryHandlers,
    build_library_tab,
    user_error,
)
from qa_assistant.ui.organiser import Organiser, UploadForm
from qa_assistant.ui.render import render_answer, render_error, render_question
from qa_assistant.ui.style import CSS, HEAD, SCROLL_TO_QUESTION

logger = logging.getLogger(__name__)

ASK_QUEUE = "ask"
ASK_CONCURRENCY = 4  # asks run beside each other and beside an organiser's add or rebuild
MAX_TOP_K = 10
DEFAULT_SERIES = Series(
    title="Session materials: questions and answers",
    description="Answers are **verbatim passages** from the session materials, each with a link"
    " to the page, the slide or the moment in the recording. Ask in the language you prefer.",
)
LANGUAGE_LABELS = {value: label for label, value in LANGUAGE_CHOICES if value}
KIND_LABELS = {"report": "Reports and notes", "transcript": "Transcripts"}

SYSTEM_FONTS = (
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Noto Sans",
    "Arial",
    "sans-serif",
)
Message = dict[str, Any]


def search_filters(
    session: str | None = None,
    speaker: str | None = None,
    language: str | None = None,
    doc_type: str | None = None,
) -> SearchFilters:
    """Filters from the Ask tab's dropdowns or the API's arguments ('' = any)."""

    def one(value: str | None) -> tuple[str, ...]:
        return (value.strip(),) if value and value.strip() else ()

    return SearchFilters(
        sessions=one(session), speakers=one(speaker), languages=one(language), kinds=one(doc_type)
    )


def _top_k(value: float | None, default: int) -> int:
    if value is None:
        return min(default, MAX_TOP_K)
    number = int(value)
    if not 1 <= number <= MAX_TOP_K:
        raise QAError(f"top_k must be between 1 and {MAX_TOP_K}, not {number}")
    return number


def respond(
    assistant: Assistant,
    message: str,
    history: list[Message] | None,
    top_k: float | None = None,
    session: str | None = None,
    speaker: str | None = None,
    language: str | None = None,
    doc_type: str | None = None,
) -> list[Message]:
    """The chat after one question: the question, then the answer cards (or why there are none)."""
    history = list(history or [])
    question = (message or "").strip()
    if not question:
        return history
    try:
        count = _top_k(top_k, assistant.settings.top_k)
        filters = search_filters(session, speaker, language, doc_type)
        answer = assistant.ask(question, count, filters)
        reply = render_answer(answer, assistant.min_score)
    except QAError as exc:
        reply = render_error(str(exc))
    # The question is escaped too: the chat renders Markdown with HTML.
    return [
        *history,
        {"role": "user", "content": render_question(question)},
        {"role": "assistant", "content": reply},
    ]


def _facets(assistant: Assistant) -> Facets:
    if not assistant.has_index():
        return Facets()
    try:
        return assistant.facets()
    except QAError as exc:
        logger.warning("cannot read the filter values: %s", exc)
        return Facets()


def filter_choices(facets: Facets) -> dict[str, list[tuple[str, str]]]:
    """Dropdown choices (label, value) for each filter; the first choice means 'any'."""
    sessions = []
    for item in facets.sessions:
        name = item.title or item.session_id
        sessions.append((f"{name} ({item.date})" if item.date else name, item.session_id))
    return {
        "session": [("All sessions", ""), *sessions],
        "speaker": [("All speakers", ""), *((name, name) for name in facets.speakers)],
        "language": [
            ("All languages", ""),
            *((LANGUAGE_LABELS.get(code, code), code) for code in facets.languages),
        ],
        "doc_type": [
            ("All types", ""),
            *((KIND_LABELS.get(kind, kind), kind) for kind in facets.kinds),
        ],
    }


def series_text(series: Series) -> Series:
    """The library's own title and description (sessions.toml's [series]), else defaults.

    Organisers write the title as plain text, so it is escaped; the description is Markdown.
    """
    title = escape(series.title) if series.title else DEFAULT_SERIES.title
    return Series(
        title=title,
        description=series.description or DEFAULT_SERIES.description,
        examples=series.examples,
        languages=series.languages,
    )


def build_app(assistant: Assistant, settings: Settings) -> gr.Blocks:
    """The whole UI around one Assistant (created once by the caller)."""
    organiser = Organiser(assistant, settings)
    handlers = LibraryHandlers(organiser)
    choices = filter_choices(_facets(assistant))
    default_top_k = min(settings.top_k, MAX_TOP_K)
    series = series_text(assistant.series())

    # delete_cache: gradio's temporary copies of uploads go after an hour (ours are in corpus/).
    demo = gr.Blocks(title=series.title, analytics_enabled=False, delete_cache=(3600, 3600))
    with demo:
        gr.Markdown(f"# {series.title}\n{series.description}", elem_id="qa-header")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
                with gr.Column(scale=4, min_width=320):
                    chat = gr.Chatbot(
                        label="Answers",
                        show_label=False,
                        autoscroll=False,  # SCROLL_TO_QUESTION shows the reply's start
                        height=560,
                        latex_delimiters=[],  # "$" in amounts is not LaTeX
                        feedback_options=None,
                        buttons=[],  # the Clear button below replaces the icon row
                        layout="panel",  # full-width replies: cards need the room on phones
                        placeholder="Ask a question about the sessions; the best passages "
                        "appear here with their sources.",
                        elem_id="qa-chat",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            show_label=False,
                            placeholder="Type a question…",
                            scale=5,
                            max_lines=4,
                            elem_id="qa-question",
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                    if series.examples:
                        gr.Examples(
                            [[text] for text in series.examples],
                            inputs=[question],
                            label="Example questions",
                            api_visibility="private",
                        )
                with gr.Column(scale=1, min_width=240):
                    session = gr.Dropdown(choices["session"], value="", label="Session")
                    speaker = gr.Dropdown(choices["speaker"], value="", label="Speaker")
                    language = gr.Dropdown(choices["language"], value="", label="Language")
                    doc_type = gr.Dropdown(choices["doc_type"], value="", label="Document type")
                    top_k = gr.Slider(1, MAX_TOP_K, value=default_top_k, step=1, label="Passages")
                    clear = gr.Button("Clear the chat", size="sm")
            with gr.Tab("Library", id="library"):
                library = build_library_tab(handlers)

        def chat_turn(message: str, history: list[Message], *options: Any) -> tuple[Any, str]:
            return respond(assistant, message, history, *options), ""

        ask_inputs = [question, chat, top_k, session, speaker, language, doc_type]
        ask_event: dict[str, Any] = {
            "concurrency_id": ASK_QUEUE,
            "concurrency_limit": ASK_CONCURRENCY,
            "api_visibility": "private",
            "show_progress": "minimal",
        }
        for trigger in (question.submit, send.click):
            trigger(chat_turn, ask_inputs, [chat, question], **ask_event).then(
                None, js=SCROLL_TO_QUESTION, api_visibility="private"
            )
        clear.click(lambda: [], None, [chat], api_visibility="private")

        filters = [session, speaker, language, doc_type]

        def refresh_filters() -> tuple[Any, ...]:
            fresh = filter_choices(_facets(assistant))
            return tuple(gr.update(choices=fresh[name]) for name in choices)

        for change in library.changes:
            change.success(refresh_filters, None, filters, api_visibility="private")
        demo.load(handlers.refresh, None, [library.table, library.chosen], api_visibility="private")
        demo.load(refresh_filters, None, filters, api_visibility="private")
        _add_api(assistant, organiser)
    return demo


def _add_api(assistant: Assistant, organiser: Organiser) -> None:
    """The public endpoints: /ask for everyone; /add, /remove, /rebuild need the password."""

    def ask(
        question: str,
        top_k: int = 5,
        session: str = "",
        speaker: str = "",
        language: str = "",
        doc_type: str = "",
    ) -> dict[str, Any]:
        """Answer a question: the JSON object of `qa-assistant ask --json`.

        Args:
            question: the question, in any language of the corpus.
            top_k: passages to return (1–10).
            session: only this session id ('' = all).
            speaker: only passages by this speaker.
            language: only passages in this language (en, fr, es, ar).
            doc_type: only 'report' or 'transcript'.
        """
        try:
            count = _top_k(top_k, assistant.settings.top_k)
            answer = assistant.ask(
                question, count, search_filters(session, speaker, language, doc_type)
            )
        except QAError as exc:
            raise user_error(exc) from exc
        return answer_record(answer)

    def remove(doc_id: str, password: str = "") -> dict[str, Any]:
        """Remove a document (by id or path) from the index; needs the organiser password."""
        try:
            return document_record(organiser.remove(password, doc_id))
        except QAError as exc:
            raise user_error(exc) from exc

    def rebuild(password: str = "") -> dict[str, Any]:
        """Re-embed every document; needs the organiser password."""
        try:
            report = organiser.rebuild(password)
        except QAError as exc:
            raise user_error(exc) from exc
        return {
            "documents": report.documents,
            "passages": report.passages,
            "embedded": report.embedded,
            "reused": report.reused,
            "seconds": report.seconds,
            "model": report.model,
        }

    def add(
        files: list[str] | None,
        password: str,
        session_id: str,
        session_title: str,
        session_date: str,
        recording_url: str,
        language: str,
        title: str,
    ) -> dict[str, Any]:
        form = UploadForm(
            session_id or "",
            session_title or "",
            session_date or "",
            recording_url or "",
            language or "",
            title or "",
        )
        try:
            report = organiser.add(password, files or [], form)
        except QAError as exc:
            raise user_error(exc) from exc
        return {
            "files": [file_report_record(item) for item in report.files],
            "passages": report.passages,
            "seconds": report.seconds,
        }

    gradio_api(ask, api_name="ask", concurrency_id=ASK_QUEUE, concurrency_limit=ASK_CONCURRENCY)
    gradio_api(remove, api_name="remove", concurrency_id=ORGANISER_QUEUE, concurrency_limit=1)
    gradio_api(rebuild, api_name="rebuild", concurrency_id=ORGANISER_QUEUE, concurrency_limit=1)
    # Files need real components: gradio then checks that each path is a file the caller
    # uploaded, which a plain gr.api argument would not.
    with gr.Column(visible=False):
        inputs = [
            gr.File(label="files", file_count="multiple"),
            gr.Textbox(label="password", value=""),
            gr.Textbox(label="session_id", value=""),
            gr.Textbox(label="session_title", value=""),
            gr.Textbox(label="session_date", value=""),
            gr.Textbox(label="recording_url", value=""),
            gr.Textbox(label="language", value=""),
            gr.Textbox(label="title", value=""),
        ]
        output = gr.JSON(label="report")
        trigger = gr.Button("add")
    trigger.click(
        add,
        inputs,
        output,
        api_name="add",
        api_description="Upload files into corpus/uploads/<session>/ and index them; "
        "needs the organiser password.",
        concurrency_id=ORGANISER_QUEUE,
        concurrency_limit=1,
    )


def launch(
    assistant: Assistant,
    settings: Settings,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> tuple[gr.Blocks, str]:
    """Build the app and serve it on settings.host:settings.port with the /corpus file route.

    Returns the Blocks (call `.close()` to stop) and the local URL.
    """
    if not port_is_free(settings.host, settings.port):
        raise QAError(
            f"port {settings.port} on {settings.host} is already in use (is the assistant"
            " already running?): stop that server, or choose another port with QA_PORT=7861"
        )
    if not settings.admin_password:
        logger.warning("QA_ADMIN_PASSWORD is not set: the Library tab is read-only")
    assistant.warm_up()
    demo = build_app(assistant, settings)
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        # Routes given to the FastAPI constructor come before gradio's own.
        app_kwargs={"routes": document_routes(assistant)},
        footer_links=["api"],
        # The largest file any format may be (recordings); each format's own limit is then
        # checked when the file is read, with a message naming the file.
        max_file_size=int(settings.max_file_mb * MEDIA_SIZE_FACTOR * 1_000_000),
        css=CSS,
        head=HEAD,
        theme=theme(),
    )
    return demo, url


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def theme() -> gr.themes.Base:
    """A calm theme on the system's fonts: no web fonts fetched from the internet."""
    return gr.themes.Soft(
        primary_hue="indigo",
        font=list(SYSTEM_FONTS),
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


def create_assistant(settings: Settings) -> Assistant:
    """The Assistant the UI serves: citation links point at the app's document routes."""
    return Assistant(settings, link_base_url=DOCUMENT_ROUTE)
