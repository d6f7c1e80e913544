"""Session metadata from `sessions.toml` beside the corpus files (format in the README)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from qa_assistant.errors import QAError
from qa_assistant.types import DocumentMeta, Series, Session

MANIFEST_NAME = "sessions.toml"


@dataclass(frozen=True)
class CorpusManifest:
    """Sessions and per-document metadata, keyed by path relative to the manifest's folder."""

    root: Path
    sessions: dict[str, Session] = field(default_factory=dict)
    documents: dict[str, DocumentMeta] = field(default_factory=dict)
    series: Series = field(default_factory=Series)

    def meta_for(self, path: Path) -> DocumentMeta | None:
        """Metadata the manifest gives for `path`, if it lies under the manifest's folder."""
        try:
            relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None
        return self.documents.get(relative)


def load_manifest(path: Path) -> CorpusManifest:
    """Parse a sessions.toml; raise QAError with the file and the problem when malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise QAError(f"{path}: cannot read session metadata ({exc}); fix the file") from exc
    sessions: dict[str, Session] = {}
    for session_id, fields in (data.get("sessions") or {}).items():
        if not isinstance(fields, dict):
            raise QAError(f"{path}: [sessions.{session_id}] must be a table")
        sessions[session_id] = Session(
            session_id=session_id,
            title=str(fields.get("title", "")),
            date=str(fields.get("date", "")),
            recording_url=fields.get("recording_url") or None,
        )
    documents: dict[str, DocumentMeta] = {}
    for relative, fields in (data.get("documents") or {}).items():
        if not isinstance(fields, dict):
            raise QAError(f'{path}: [documents."{relative}"] must be a table')
        session_id = fields.get("session") or ""
        if session_id and session_id not in sessions:
            raise QAError(
                f'{path}: [documents."{relative}"] names session {session_id!r}, '
                f"which has no [sessions.{session_id}] table"
            )
        documents[relative] = DocumentMeta(
            title=fields.get("title") or None,
            session=sessions.get(session_id),
            language=fields.get("language") or None,
            recording_url=fields.get("recording_url") or None,
        )
    return CorpusManifest(
        root=path.parent,
        sessions=sessions,
        documents=documents,
        series=_series(path, data.get("series") or {}),
    )


def _series(path: Path, fields: object) -> Series:
    """The `[series]` table: title, description, example questions, languages."""
    if not isinstance(fields, dict):
        raise QAError(f"{path}: [series] must be a table")
    examples = fields.get("examples") or []
    languages = fields.get("languages") or []
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise QAError(f"{path}: [series] examples must be a list of questions in quotes")
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise QAError(f'{path}: [series] languages must be a list of codes, e.g. ["en", "fr"]')
    return Series(
        title=str(fields.get("title", "")).strip(),
        description=str(fields.get("description", "")).strip(),
        examples=tuple(e.strip() for e in examples if e.strip()),
        languages=tuple(x.strip().lower() for x in languages if x.strip()),
    )


def corpus_series(corpus_dir: Path) -> Series:
    """The `[series]` table of `corpus_dir/sessions.toml`, or an empty Series."""
    path = corpus_dir / MANIFEST_NAME
    return load_manifest(path).series if path.is_file() else Series()


def find_manifest(path: Path) -> Path | None:
    """The nearest sessions.toml in `path`'s folder or one of its parents."""
    folder = path if path.is_dir() else path.parent
    for candidate in (folder, *folder.resolve().parents):
        manifest = candidate / MANIFEST_NAME
        if manifest.is_file():
            return manifest
    return None
