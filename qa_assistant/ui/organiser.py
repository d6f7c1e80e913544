"""Organiser actions of the Library tab and API: password check, then one Assistant call.

No gradio here: every action raises QAError with a message for the organiser, and the tab
and the API endpoints turn that into a `gr.Error`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.errors import DocumentNotFoundError, QAError
from qa_assistant.ingest import SUPPORTED_SUFFIXES
from qa_assistant.types import DocumentInfo, DocumentMeta, IngestReport, RebuildReport, Session
from qa_assistant.ui.files import FailureThrottle, replace_file, safe_filename, store_upload
from qa_assistant.ui.render import safe_url

Progress = Callable[[float, int, str], None]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def _no_progress(done: float, total: int, message: str) -> None:
    return None


@dataclass(frozen=True)
class UploadForm:
    """What the organiser typed next to the files (every field optional)."""

    session_id: str = ""
    session_title: str = ""
    session_date: str = ""
    recording_url: str = ""
    language: str = ""
    title: str = ""


class Organiser:
    """Add, replace, remove and rebuild, each behind the organiser password."""

    def __init__(self, assistant: Assistant, settings: Settings):
        self.assistant = assistant
        self.settings = settings
        self._throttle = FailureThrottle()

    @property
    def read_only(self) -> bool:
        """True when no organiser password is configured: nobody may change the index."""
        return not self.settings.admin_password

    def authorize(self, password: str | None) -> None:
        """Raise PermissionDeniedError unless `password` is the organiser password."""
        self._throttle.check(self.settings.admin_password, password)

    def documents(self) -> list[DocumentInfo]:
        """Indexed documents ([] before the first index exists)."""
        if not self.assistant.has_index():
            return []
        return self.assistant.list_documents()

    def add(
        self,
        password: str | None,
        files: Sequence[str | Path],
        form: UploadForm,
        progress: Progress = _no_progress,
    ) -> IngestReport:
        """Copy uploaded files into `corpus/uploads/<session>/` and index them."""
        self.authorize(password)
        if not files:
            raise QAError("no file chosen: pick one or more PDF, VTT, SRT, TXT or MD files")
        meta = self._meta(form, single_file=len(files) == 1)
        session_id = meta.session.session_id if meta.session else None
        stored = [
            store_upload(Path(file), self.settings.corpus_dir, session_id, Path(file).name)
            for file in files
        ]
        return self.assistant.add(stored, meta, progress=progress)

    def replace(
        self,
        password: str | None,
        doc_id: str | None,
        file: str | Path | None,
        progress: Progress = _no_progress,
    ) -> IngestReport:
        """Index a new version of a document in its place, keeping its title and session.

        A corpus file of the same type is overwritten, so the document keeps its path; any
        other file is added under uploads/ and the old document removed once the new one is in.
        Questions keep being answered from the old version until the new one is written.
        """
        self.authorize(password)
        old = self._document(doc_id)
        if file is None:
            raise QAError("no file chosen: pick the new version of the document")
        upload = Path(file)
        suffix = safe_filename(upload.name).rpartition(".")[2]
        if f".{suffix}" not in SUPPORTED_SUFFIXES:
            raise QAError(f"unsupported file type .{suffix}: use {', '.join(SUPPORTED_SUFFIXES)}")
        meta = DocumentMeta(
            title=old.title,
            session=old.session,
            language=old.language if old.language != "und" else None,
            recording_url=old.recording_url,
        )
        in_corpus = not Path(old.source).is_absolute()
        if in_corpus and old.source.lower().endswith(f".{suffix}"):
            target = self.settings.corpus_dir / old.source
            replace_file(upload, target)
            return self.assistant.add([target], meta, progress=progress)
        session_id = old.session.session_id if old.session else None
        target = store_upload(upload, self.settings.corpus_dir, session_id, upload.name)
        report = self.assistant.add([target], meta, progress=progress)
        added = [r for r in report.files if r.status in ("indexed", "replaced", "unchanged")]
        if added and all(r.doc_id != old.doc_id for r in added):
            self.assistant.remove(old.doc_id)
        return report

    def remove(self, password: str | None, doc_id: str | None) -> DocumentInfo:
        """Remove a document from the index (its file stays in the corpus folder)."""
        self.authorize(password)
        return self.assistant.remove(self._document(doc_id).doc_id)

    def rebuild(self, password: str | None, progress: Progress = _no_progress) -> RebuildReport:
        """Re-embed every document; the old index answers until the new one is ready."""
        self.authorize(password)
        if not self.assistant.has_index():
            raise QAError("nothing to rebuild yet: add documents first")
        return self.assistant.rebuild(progress)

    def _document(self, doc_id: str | None) -> DocumentInfo:
        key = (doc_id or "").strip()
        if not key:
            raise QAError("no document chosen: pick one in the list")
        for document in self.documents():
            if key in (document.doc_id, document.source):
                return document
        raise DocumentNotFoundError(f"no document {key!r} in the index; refresh the list")

    def _meta(self, form: UploadForm, single_file: bool) -> DocumentMeta:
        session_id = form.session_id.strip()
        url = form.recording_url.strip()
        date = form.session_date.strip()
        language = form.language.strip().lower()
        if url and safe_url(url) is None:
            raise QAError(f"recording URL {url!r} is not an http(s) address")
        if date and not _DATE.match(date):
            raise QAError(f"session date {date!r} is not YYYY-MM-DD")
        if language and not _LANGUAGE.match(language):
            raise QAError(f"language {language!r} is not a code such as en, fr, es or ar")
        session = None
        if session_id:
            known = {s.session_id: s for s in self._sessions()}.get(session_id, Session(session_id))
            session = Session(
                session_id,
                form.session_title.strip() or known.title,
                date or known.date,
                url or known.recording_url,
            )
        return DocumentMeta(
            # One title for several files would make them indistinguishable.
            title=(form.title.strip() or None) if single_file else None,
            session=session,
            language=language or None,
            recording_url=url or None,
        )

    def sessions(self) -> tuple[Session, ...]:
        """Sessions present in the index (for the Library's choosers)."""
        return self._sessions()

    def _sessions(self) -> tuple[Session, ...]:
        if not self.assistant.has_index():
            return ()
        return self.assistant.facets().sessions
