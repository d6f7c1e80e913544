"""Transcripts of recordings kept by content, so the same recording is transcribed once.

`rebuild` reads stored documents and never re-reads files; this cache covers the other
cases: a recording removed and added again, the same file under another name or session, a
second index (`make clean && make run`). Entries are keyed by the file's SHA-256, the model's
weights and the language setting, and written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from qa_assistant.ingest.base import ReadOptions, ReadResult
from qa_assistant.types import Segment

logger = logging.getLogger(__name__)

FOLDER = "transcripts"
CACHE_FORMAT = 1
REUSED_NOTE = "transcript reused: this recording was transcribed before"


def cache_key(sha256: str, model: str, options: ReadOptions) -> str:
    """File name of an entry: content hash, model and language setting."""
    language = options.language or "auto-" + "-".join(sorted(options.languages))
    return f"{sha256[:32]}.{model[:24]}.{language}.json"


def load_transcript(cache_dir: Path, key: str) -> ReadResult | None:
    """The cached transcript, or None when absent or unreadable (it is then made again)."""
    path = cache_dir / FOLDER / key
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != CACHE_FORMAT:
            return None
        result = data["result"]
        return ReadResult(
            text=result["text"],
            segments=tuple(Segment(**s) for s in result["segments"]),
            kind=result["kind"],
            doc_format=result["doc_format"],
            title=result.get("title"),
            page_count=result.get("page_count"),
            cue_count=result.get("cue_count"),
            warnings=tuple(result.get("warnings", ())),
            notes=tuple(result.get("notes", ())),
            url=result.get("url"),
            language=result.get("language"),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring an unreadable cached transcript %s: %s", path, exc)
        return None


def save_transcript(cache_dir: Path, key: str, result: ReadResult) -> None:
    """Store a transcript; a failure to write only loses the cache entry."""
    folder = cache_dir / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".entry-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"format": CACHE_FORMAT, "result": asdict(result)}, out, ensure_ascii=False)
        os.replace(temporary, folder / key)
    except OSError as exc:
        logger.warning("could not cache the transcript in %s: %s", folder, exc)


def reused(result: ReadResult) -> ReadResult:
    """A cached transcript, with a note saying so instead of the original speed note."""
    notes = tuple(n for n in result.notes if not n.startswith("transcribed "))
    return replace(result, notes=(*notes, REUSED_NOTE))
