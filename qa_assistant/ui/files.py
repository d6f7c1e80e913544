"""The UI's file edges: the organiser check, safe upload names, and the `/corpus/…` route.

No gradio here: the route is a plain Starlette route handed to the FastAPI app at launch.
"""

from __future__ import annotations

import hmac
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from qa_assistant.errors import PermissionDeniedError
from qa_assistant.ingest import SUPPORTED_SUFFIXES

CORPUS_ROUTE = "/corpus"  # citation links to files inside the corpus folder start with this
UPLOADS_FOLDER = "uploads"  # inside the corpus folder; one subfolder per session
MAX_NAME_CHARS = 120
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


def safe_filename(name: str) -> str:
    """A plain file name from whatever a browser or client sent: no folders, no `..`,
    no control or shell characters, a lower-case suffix, at most MAX_NAME_CHARS."""
    name = unicodedata.normalize("NFC", name)
    base = re.split(r"[\\/]", name)[-1]  # Windows clients send backslashes
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip("._-") or "upload"
    suffix = f".{suffix.lower()}" if suffix else ""
    return stem[: MAX_NAME_CHARS - len(suffix)] + suffix


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


def corpus_file(corpus_dir: Path, relative: str) -> Path | None:
    """The file `relative` names inside the corpus folder, or None when it is missing, outside
    the folder (`..`, absolute paths, symlinks leading out), hidden or not a document."""
    if not relative or "\x00" in relative or relative.startswith(("/", "\\")):
        return None
    parts = Path(relative).parts
    if any(part.startswith(".") for part in parts):
        return None  # also rules out `..`
    root = corpus_dir.resolve()
    try:
        path = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return None
    return path


def corpus_route(corpus_dir: Path) -> Route:
    """GET /corpus/<relative path>: a document of the corpus folder, shown inline.

    PDFs keep their type so `#page=N` opens the page; everything else is plain UTF-8 text
    (never HTML), and `nosniff` stops the browser from guessing otherwise.
    """

    async def serve(request: Request) -> Response:
        path = corpus_file(corpus_dir, request.path_params["path"])
        if path is None:
            return PlainTextResponse("not found", status_code=404)
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
            filename=path.name,
        )

    return Route(f"{CORPUS_ROUTE}/{{path:path}}", serve, methods=["GET", "HEAD"])
