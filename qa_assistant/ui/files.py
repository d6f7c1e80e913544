"""The UI's file edges: the organiser check, safe upload names, and the `/documents/…` routes.

No gradio here: the route is a plain Starlette route handed to the FastAPI app at launch.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from qa_assistant.answering import DOCUMENT_ROUTE
from qa_assistant.errors import PermissionDeniedError, QAError
from qa_assistant.types import Document, DocumentInfo

if TYPE_CHECKING:
    from qa_assistant.assistant import Assistant

logger = logging.getLogger(__name__)

FEEDBACK_ROUTE = "/feedback"  # POST {"ask_id", "rank", "helpful"}: a participant's 👍/👎
MAX_ASK_ID_CHARS = 64
UPLOADS_FOLDER = "uploads"  # inside the corpus folder; one subfolder per session
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 240  # below the 255-byte limit of common file systems
MAX_SUFFIX_CHARS = 16
_UNSAFE_NAME_CHARS = re.compile(r"[^\w.\-]+")  # \w is Unicode-aware: accents and Arabic stay
# Served with their own type (PDFs open at a page, media play from a second); the rest of
# the formats are served as a download (office files) or as plain text, never as HTML.
_MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".aiff": "audio/aiff",
    ".aif": "audio/aiff",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
}
_DOWNLOAD_TYPES = {
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def check_password(expected: str | None, given: str | None) -> None:
    """Raise PermissionDeniedError unless `given` is the organiser password.

    Runs on every organiser action, in the API as in the UI: hiding buttons is not a control.
    """
    if not expected:
        raise PermissionDeniedError(
            "the Library is read-only: the server was started without an organiser password "
            "(set QA_ADMIN_PASSWORD and restart)"
        )
    # compare_digest: the time taken does not reveal how much of the password matched.
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise PermissionDeniedError("wrong or missing organiser password")


class FailureThrottle:
    """Slows down repeated wrong passwords: after FREE_FAILURES failures within WINDOW_S
    seconds, each further failure waits twice as long as the one before (up to MAX_DELAY_S)
    before it is answered. Organiser actions run one at a time, so a guesser gets at most one
    try per MAX_DELAY_S instead of hundreds a second, while an organiser's typo costs nothing."""

    WINDOW_S = 300.0
    FREE_FAILURES = 5
    BASE_DELAY_S = 0.25
    MAX_DELAY_S = 2.0

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._clock = clock
        self._sleep = sleep
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    def failed(self) -> float:
        """Record a failure; wait the delay it earns; return that delay in seconds."""
        now = self._clock()
        with self._lock:
            while self._failures and now - self._failures[0] > self.WINDOW_S:
                self._failures.popleft()
            self._failures.append(now)
            excess = len(self._failures) - self.FREE_FAILURES
        delay = 0.0 if excess <= 0 else min(self.MAX_DELAY_S, self.BASE_DELAY_S * 2 ** (excess - 1))
        if delay:
            logger.warning("organiser password refused %d times in a row", len(self._failures))
            self._sleep(delay)
        return delay

    def check(self, expected: str | None, given: str | None) -> None:
        """check_password, with the slow-down after repeated wrong passwords."""
        try:
            check_password(expected, given)
        except PermissionDeniedError:
            if expected:  # a read-only server refuses everyone at once: nothing to guess
                self.failed()
            raise


def safe_filename(name: str) -> str:
    """A plain file name from whatever a browser or client sent: no folders, no `..`,
    no control or shell characters, a lower-case suffix, at most MAX_NAME_CHARS."""
    name = unicodedata.normalize("NFC", name)
    base = re.split(r"[\\/]", name)[-1]  # Windows clients send backslashes
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot or len(suffix) > MAX_SUFFIX_CHARS:  # "a.bbbb…": a long tail is not a suffix
        stem, suffix = base, ""
    stem = stem.strip("._-") or "upload"
    suffix = f".{suffix.lower()}" if suffix else ""
    stem = stem[: MAX_NAME_CHARS - len(suffix)]
    # File systems limit names in bytes (255): 120 Arabic or CJK characters can exceed it.
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.strip("._-") or "upload") + suffix


def safe_folder_name(name: str | None) -> str:
    """A session id usable as one folder name ('unsorted' when empty)."""
    folder = safe_filename(name or "").replace(".", "_")
    return "unsorted" if folder == "upload" else folder


def store_upload(source: Path, corpus_dir: Path, session_id: str | None, name: str) -> Path:
    """Copy an uploaded file to `corpus_dir/uploads/<session>/<safe name>`; return the copy.

    A file of the same name in the same session is overwritten (a new version of it), via a
    temporary file and a rename so the file route never serves half a file.
    """
    folder = corpus_dir / UPLOADS_FOLDER / safe_folder_name(session_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / safe_filename(name)
    replace_file(source, target)
    return target


def replace_file(source: Path, target: Path) -> None:
    """Copy `source` over `target` atomically."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def document_routes(assistant: Assistant) -> list[Route]:
    """GET /documents/<id>/file/<name> and /documents/<id>/text: indexed documents only;
    POST /feedback: a participant's vote on a card.

    Documents are found by id in the index, wherever they were added from (the corpus
    folder or elsewhere): no path from the request reaches the file system, and no server
    path appears in a response. PDFs and media keep their type (`#page=N`, `#t=S` work);
    office files download; every other format is sent as plain text, never as HTML.
    """

    def lookup(request: Request) -> tuple[DocumentInfo, Path] | Response:
        try:
            return assistant.document_file(str(request.path_params["doc_id"]))
        except QAError as exc:
            return PlainTextResponse(str(exc), status_code=404)

    async def serve_file(request: Request) -> Response:
        found = await run_in_threadpool(lookup, request)
        if isinstance(found, Response):
            return found
        info, path = found
        suffix = path.suffix.lower()
        download = suffix in _DOWNLOAD_TYPES
        media_type = _MEDIA_TYPES.get(suffix) or _DOWNLOAD_TYPES.get(
            suffix, "text/plain; charset=utf-8"
        )
        headers = {"X-Content-Type-Options": "nosniff"}
        if media_type != "application/pdf":
            headers["Content-Security-Policy"] = "sandbox"
        # FileResponse answers Range requests, so a player can start at the cited second.
        return FileResponse(
            path,
            media_type=media_type,
            headers=headers,
            content_disposition_type="attachment" if download else "inline",
            filename=safe_filename(Path(info.source).name),
        )

    async def serve_text(request: Request) -> Response:
        document = await run_in_threadpool(
            assistant.stored_document, str(request.path_params["doc_id"])
        )
        if document is None:
            return PlainTextResponse("no such document", status_code=404)
        start = _int_param(request, "from")
        end = _int_param(request, "to")
        return HTMLResponse(
            text_view(document, start, end),
            headers={
                "X-Content-Type-Options": "nosniff",
                # The page is the document's text, escaped: no script may run in it.
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            },
        )

    async def receive_vote(request: Request) -> Response:
        try:
            body = await request.json()
            ask_id, rank, helpful = body["ask_id"], body["rank"], body["helpful"]
            valid = (
                isinstance(ask_id, str)
                and 0 < len(ask_id) <= MAX_ASK_ID_CHARS
                and isinstance(rank, int)
                and isinstance(helpful, bool)
            )
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            return PlainTextResponse(
                'send {"ask_id": "…", "rank": 1, "helpful": true}', status_code=400
            )
        try:
            await run_in_threadpool(assistant.vote, ask_id, rank, helpful)
        except QAError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        return Response(status_code=204)

    prefix = DOCUMENT_ROUTE
    return [
        Route(FEEDBACK_ROUTE, receive_vote, methods=["POST"]),
        Route(f"{prefix}/{{doc_id}}/file/{{name}}", serve_file, methods=["GET", "HEAD"]),
        Route(f"{prefix}/{{doc_id}}/text", serve_text, methods=["GET"]),
    ]


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    return int(value) if value.isdigit() else None


def text_view(document: Document, start: int | None, end: int | None) -> str:
    """The document's text as a page, escaped, with [start, end) marked and scrolled to."""
    text = document.text
    direction = "rtl" if document.language in ("ar", "fa", "he", "ur") else "auto"
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body = (
            f'{escape(text[:start])}<mark id="passage">{escape(text[start:end])}</mark>'
            f"{escape(text[end:])}"
        )
    else:
        body = escape(text)
    title = escape(document.title)
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{TEXT_VIEW_CSS}</style></head>"
        f'<body><h1>{title}</h1><pre lang="{escape(document.language)}" dir="{direction}">'
        f"{body}</pre></body></html>"
    )


TEXT_VIEW_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.55;color:#1f2328}h1{font-size:1.3rem}pre{white-space:pre-wrap;"
    "font-family:inherit;overflow-wrap:anywhere}mark{background:#fff3b0;padding:0 .1em;"
    "scroll-margin-top:30vh}"
)
