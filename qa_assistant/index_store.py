"""The index folder: versions, SQLite tables, FTS5 keyword index and the FAISS vectors.

Layout of `index_dir`:

    CURRENT                   name of the active version folder (swapped atomically)
    embeddings.sqlite         embedding cache keyed by (model, sha256 of passage text)
    v-<time>-<rand>/
        manifest.json         model, dimension, chunk settings, format version
        store.sqlite          documents, passages (+ vectors), passages_fts, state
        vectors.<gen>.faiss   FAISS IndexIDMap2 for SQLite generation <gen>

SQLite transactions make every change to documents, passages and keyword entries atomic. The
FAISS file is derived data: it is written after the commit under a name carrying the SQLite
generation, so a crash between the two leaves an old-generation file that `open` detects and
rebuilds from the vectors stored in SQLite.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa_assistant.chunking import Layout
from qa_assistant.errors import IndexMismatchError, IndexMissingError, QAError
from qa_assistant.keyword_index import FTS_TOKENIZER, stemmed_text
from qa_assistant.types import (
    Document,
    DocumentInfo,
    DocumentMeta,
    Facets,
    Passage,
    SearchFilters,
    Segment,
    Session,
)
from qa_assistant.vector_index import VectorIndex

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 2: the keyword index has a column of Snowball stems; 3: transcript sizes;
# 4: passages say whether their text was read by OCR
CURRENT_FILE = "CURRENT"
CACHE_FILE = "embeddings.sqlite"
STORE_FILE = "store.sqlite"
MANIFEST_FILE = "manifest.json"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    doc_format TEXT NOT NULL,
    language TEXT NOT NULL,
    session_id TEXT,
    session_title TEXT,
    session_date TEXT,
    session_recording_url TEXT,
    recording_url TEXT,
    page_count INTEGER,
    duration REAL,
    text TEXT NOT NULL,
    segments TEXT NOT NULL,
    warnings TEXT NOT NULL,
    meta TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    passage_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    text TEXT NOT NULL,
    page_start INTEGER, page_end INTEGER,
    label_start TEXT, label_end TEXT,
    time_start REAL, time_end REAL,
    speaker TEXT, section TEXT, language TEXT,
    vector BLOB NOT NULL,
    ocr INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, stems, tokenize='{FTS_TOKENIZER}'
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Manifest:
    """What an index version was built with; opening with other settings is refused."""

    model: str
    dimension: int
    chunk_chars: int
    chunk_overlap: int
    transcript_chunk_chars: int = 0
    transcript_chunk_overlap: int = 0
    format_version: int = FORMAT_VERSION
    package_version: str = ""
    created_at: str = ""

    @property
    def layout(self) -> Layout:
        """The passage sizes the index was built with."""
        return Layout(
            self.chunk_chars,
            self.chunk_overlap,
            self.transcript_chunk_chars,
            self.transcript_chunk_overlap,
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")  # readers in other processes keep working
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def read_current(root: Path) -> Path | None:
    """The active version folder of an index, or None when there is none."""
    try:
        name = (root / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    folder = root / name
    return folder if name and (folder / STORE_FILE).is_file() else None


class EmbeddingCache:
    """Vectors already computed, keyed by (model, sha256 of text), shared by all versions."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self._db = _connect(root / CACHE_FILE)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cache (model TEXT, text_sha TEXT, vector BLOB,"
            " PRIMARY KEY (model, text_sha))"
        )
        self._lock = threading.Lock()

    def get_many(self, model: str, shas: list[str]) -> dict[str, NDArray[np.float32]]:
        """Cached vectors among `shas`."""
        found: dict[str, NDArray[np.float32]] = {}
        with self._lock:
            for start in range(0, len(shas), 500):
                chunk = shas[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT text_sha, vector FROM cache WHERE model=? AND text_sha IN ({marks})",
                    [model, *chunk],
                )
                for sha, blob in rows:
                    found[sha] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, NDArray[np.float32]]) -> None:
        """Store vectors (one transaction)."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO cache VALUES (?, ?, ?)",
                [(model, sha, np.asarray(v, np.float32).tobytes()) for sha, v in items.items()],
            )
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Release the database."""
        self._db.close()


@dataclass(frozen=True)
class StoredPassage:
    """A passage row: FAISS id, the passage and its document id."""

    row_id: int
    passage: Passage


class IndexStore:
    """One index version: SQLite tables plus its FAISS vectors, safe for threads."""

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = folder
        self.manifest = manifest
        self._db = _connect(folder / STORE_FILE)
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._vectors = VectorIndex(manifest.dimension)
        self._vectors_generation = -1
        self._languages: tuple[int, tuple[str, ...]] | None = None
        self._order: tuple[int, dict[int, tuple[str, list[int], int]]] | None = None
        self._load_vectors()

    # ----- versions -------------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, manifest: Manifest) -> IndexStore:
        """A new, empty version folder under `root` (not active until `make_current`)."""
        root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        folder = root / f"v-{stamp}-{secrets.token_hex(3)}"
        folder.mkdir()
        manifest = Manifest(**{**asdict(manifest), "created_at": _now()})
        tmp = folder / (MANIFEST_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST_FILE)
        return cls(folder, manifest)

    @classmethod
    def open_current(cls, root: Path, any_format: bool = False) -> IndexStore:
        """Open the active version; raise IndexMissingError when there is none.

        `any_format` opens an index of an older format too, to read its documents for a
        rebuild (the documents table has not changed between formats).
        """
        folder = read_current(root)
        if folder is None:
            raise IndexMissingError(
                f"no index in {root}: build one with `qa-assistant add corpus/` "
                "(or `make run`, which builds it from corpus/)"
            )
        try:
            data = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
            manifest = Manifest(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise QAError(
                f"{folder / MANIFEST_FILE} is unreadable ({exc}); run `qa-assistant rebuild`"
            ) from exc
        if manifest.format_version != FORMAT_VERSION and not any_format:
            raise IndexMismatchError(
                f"index in {root} has format {manifest.format_version}, this version reads "
                f"{FORMAT_VERSION}: run `qa-assistant rebuild`"
            )
        return cls(folder, manifest)

    def make_current(self) -> None:
        """Atomically make this version the active one; older versions are deleted."""
        root = self.folder.parent
        tmp = root / f"{CURRENT_FILE}.tmp-{os.getpid()}"
        tmp.write_text(self.folder.name + "\n", encoding="utf-8")
        os.replace(tmp, root / CURRENT_FILE)
        for other in root.glob("v-*"):
            if other.is_dir() and other != self.folder:
                # Processes that still serve the old version keep their open files (POSIX).
                shutil.rmtree(other, ignore_errors=True)

    def is_current(self) -> bool:
        """False once another process has swapped in a new version."""
        return read_current(self.folder.parent) == self.folder

    def check_model(self, model: str) -> None:
        """Refuse to serve an index built with another model than the configured one."""
        if self.manifest.model != model:
            raise IndexMismatchError(
                f"index built with model {self.manifest.model!r}, settings say {model!r}: "
                "run `qa-assistant rebuild` to re-embed with the configured model"
            )

    def close(self) -> None:
        """Release the database."""
        self._db.close()

    # ----- generation and vectors ------------------------------------------------------------
    def generation(self) -> int:
        """Counter bumped by every committed change."""
        row = self._db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def _vector_file(self, generation: int) -> Path:
        return self.folder / f"vectors.{generation}.faiss"

    def _load_vectors(self) -> None:
        with self._lock:
            generation = self.generation()
            path = self._vector_file(generation)
            if path.is_file():
                try:
                    self._vectors = VectorIndex.load(path, self.manifest.dimension)
                    self._vectors_generation = generation
                    return
                except (RuntimeError, ValueError) as exc:
                    logger.warning("%s unreadable (%s); rebuilding from stored vectors", path, exc)
            self._vectors = VectorIndex(self.manifest.dimension)
            ids: list[int] = []
            rows: list[NDArray[np.float32]] = []
            for row_id, blob in self._db.execute("SELECT id, vector FROM passages ORDER BY id"):
                ids.append(row_id)
                rows.append(np.frombuffer(blob, dtype=np.float32))
            if ids:
                self._vectors.add(np.array(ids, dtype=np.int64), np.vstack(rows))
            self._vectors_generation = generation
            if ids:
                self._save_vectors()

    def _save_vectors(self) -> None:
        generation = self._vectors_generation
        self._vectors.save(self._vector_file(generation))
        for old in self.folder.glob("vectors.*.faiss"):
            if old != self._vector_file(generation):
                old.unlink(missing_ok=True)

    def refresh(self) -> None:
        """Pick up changes committed by another process (cheap when there are none)."""
        with self._lock:
            if self.generation() != self._vectors_generation:
                self._load_vectors()

    # ----- writes ---------------------------------------------------------------------------
    def write_document(
        self,
        doc: Document,
        meta: DocumentMeta,
        passages: list[Passage],
        vectors: NDArray[np.float32],
        replace_doc_id: str | None = None,
    ) -> None:
        """Insert a document with its passages and vectors; replace `replace_doc_id` if given.

        One SQLite transaction: readers see the old document or the new one, never a mix.
        """
        duration = max((s.end_seconds or 0.0 for s in doc.segments), default=0.0) or None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = self._delete_rows(replace_doc_id) if replace_doc_id else []
                self._db.execute(
                    "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        doc.doc_id,
                        doc.source,
                        doc.sha256,
                        doc.title,
                        doc.kind,
                        doc.doc_format,
                        doc.language,
                        doc.session.session_id if doc.session else None,
                        doc.session.title if doc.session else None,
                        doc.session.date if doc.session else None,
                        doc.session.recording_url if doc.session else None,
                        doc.recording_url,
                        doc.page_count,
                        duration,
                        doc.text,
                        json.dumps([asdict(s) for s in doc.segments]),
                        json.dumps(list(doc.warnings)),
                        json.dumps(asdict(meta)),
                        _now(),
                    ),
                )
                new_ids: list[int] = []
                for passage, vector in zip(passages, vectors, strict=True):
                    cursor = self._db.execute(
                        "INSERT INTO passages (passage_id, doc_id, char_start, char_end, text,"
                        " page_start, page_end, label_start, label_end, time_start, time_end,"
                        " speaker, section, language, vector, ocr)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (
                            passage.passage_id,
                            passage.doc_id,
                            passage.char_start,
                            passage.char_end,
                            passage.text,
                            passage.pages[0] if passage.pages else None,
                            passage.pages[1] if passage.pages else None,
                            passage.page_labels[0] if passage.page_labels else None,
                            passage.page_labels[1] if passage.page_labels else None,
                            passage.start_seconds,
                            passage.end_seconds,
                            passage.speaker,
                            passage.section,
                            passage.language,
                            np.asarray(vector, dtype=np.float32).tobytes(),
                            int(passage.ocr),
                        ),
                    )
                    row_id = int(cursor.lastrowid or 0)
                    new_ids.append(row_id)
                    keyword = _keyword_text(passage)
                    self._db.execute(
                        "INSERT INTO passages_fts (rowid, text, stems) VALUES (?, ?, ?)",
                        (row_id, keyword, stemmed_text(keyword, passage.language)),
                    )
                self._bump_generation()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._vectors.remove(np.array(removed, dtype=np.int64))
            self._vectors.add(np.array(new_ids, dtype=np.int64), np.asarray(vectors, np.float32))
            self._vectors_generation = self.generation()

    def delete_document(self, doc_id: str) -> int:
        """Remove a document, its passages, keyword entries and vectors; return passages removed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = self._delete_rows(doc_id)
                self._bump_generation()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._vectors.remove(np.array(removed, dtype=np.int64))
            self._vectors_generation = self.generation()
            return len(removed)

    def flush(self) -> None:
        """Write the FAISS file for the current generation (after a batch of writes)."""
        with self._lock:
            if self._vectors_generation == self.generation():
                self._save_vectors()

    def _delete_rows(self, doc_id: str) -> list[int]:
        ids = [r[0] for r in self._db.execute("SELECT id FROM passages WHERE doc_id=?", (doc_id,))]
        self._db.executemany("DELETE FROM passages_fts WHERE rowid=?", [(i,) for i in ids])
        self._db.execute("DELETE FROM passages WHERE doc_id=?", (doc_id,))
        self._db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
        return ids

    def _bump_generation(self) -> None:
        self._db.execute(
            "INSERT INTO state VALUES ('generation', '1') ON CONFLICT(key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # ----- reads ----------------------------------------------------------------------------
    def find_document(self, key: str) -> DocumentInfo | None:
        """A document by id, id prefix (≥ 6 chars) or source path."""
        with self._lock:
            row = self._db.execute(
                f"{_INFO_SELECT} WHERE d.doc_id = ? OR d.source = ?"
                " OR (length(?) >= 6 AND d.doc_id LIKE ? || '%') GROUP BY d.doc_id LIMIT 2",
                (key, key, key, key),
            ).fetchall()
        return _info(row[0]) if len(row) == 1 else None

    def find_by_sha(self, sha256: str) -> DocumentInfo | None:
        """A document with exactly these contents."""
        with self._lock:
            row = self._db.execute(
                f"{_INFO_SELECT} WHERE d.sha256 = ? GROUP BY d.doc_id", (sha256,)
            ).fetchone()
        return _info(row) if row else None

    def stored_meta(self, doc_id: str) -> DocumentMeta | None:
        """The organiser's metadata a document was added with."""
        with self._lock:
            row = self._db.execute(
                "SELECT meta FROM documents WHERE doc_id=?", (doc_id,)
            ).fetchone()
        return _meta_from_json(row[0]) if row else None

    def list_documents(self) -> list[DocumentInfo]:
        """All documents, by session then source."""
        with self._lock:
            rows = self._db.execute(
                f"{_INFO_SELECT} GROUP BY d.doc_id ORDER BY d.session_date, d.session_id, d.source"
            ).fetchall()
        return [_info(r) for r in rows]

    def documents_by_id(self, doc_ids: set[str]) -> dict[str, DocumentInfo]:
        """Listing of the given documents."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            rows = self._db.execute(
                f"{_INFO_SELECT} WHERE d.doc_id IN ({marks}) GROUP BY d.doc_id", list(doc_ids)
            ).fetchall()
        return {r[0]: _info(r) for r in rows}

    def passages(self, row_ids: list[int]) -> dict[int, Passage]:
        """Passages by FAISS/row id."""
        if not row_ids:
            return {}
        marks = ",".join("?" * len(row_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", row_ids
            ).fetchall()
        return {r[0]: _passage(r) for r in rows}

    def document_passages(self, doc_id: str) -> list[Passage]:
        """All passages of one document, in text order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE doc_id=? ORDER BY char_start",
                (doc_id,),
            ).fetchall()
        return [_passage(r) for r in rows]

    def counts(self) -> tuple[int, int, int, int]:
        """(documents, passages, keyword rows, vectors): equal passage counts mean consistent."""
        with self._lock:
            documents = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
            passages = self._db.execute("SELECT count(*) FROM passages").fetchone()[0]
            keyword = self._db.execute("SELECT count(*) FROM passages_fts").fetchone()[0]
            return int(documents), int(passages), int(keyword), len(self._vectors)

    def iter_documents(self, doc_id: str | None = None) -> Iterator[tuple[Document, DocumentMeta]]:
        """Every stored document (or the one `doc_id`) with its text and segments."""
        where, params = ("WHERE doc_id=?", [doc_id]) if doc_id is not None else ("", [])
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, source, sha256, title, kind, doc_format, language, session_id,"
                " session_title, session_date, session_recording_url, recording_url, page_count,"
                f" text, segments, warnings, meta FROM documents {where} ORDER BY source",
                params,
            ).fetchall()
        for row in rows:
            session = Session(row[7], row[8] or "", row[9] or "", row[10]) if row[7] else None
            yield (
                Document(
                    doc_id=row[0],
                    source=row[1],
                    sha256=row[2],
                    title=row[3],
                    kind=row[4],
                    doc_format=row[5],
                    language=row[6],
                    session=session,
                    recording_url=row[11],
                    page_count=row[12],
                    text=row[13],
                    segments=tuple(Segment(**s) for s in json.loads(row[14])),
                    warnings=tuple(json.loads(row[15])),
                ),
                _meta_from_json(row[16]),
            )

    def allowed_ids(self, filters: SearchFilters) -> NDArray[np.int64] | None:
        """Row ids passing the filters, or None when there are no filters."""
        where, params = _filter_sql(filters)
        if not where:
            return None
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id FROM passages p JOIN documents d ON d.doc_id = p.doc_id"
                f" WHERE {where}",
                params,
            ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def stored_vectors(self, row_ids: list[int]) -> NDArray[np.float32]:
        """The vectors of the given passages, in order."""
        with self._lock:
            return self._vectors.reconstruct(row_ids)

    def vector_search(
        self, query: NDArray[np.float32], top_k: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        """(row id, cosine) of the nearest passages passing the filters."""
        allowed = self.allowed_ids(filters)
        with self._lock:
            return self._vectors.search(query, top_k, allowed)

    def keyword_search(
        self, match: str, top_k: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        """(row id, BM25 score, higher is better) from FTS5 for a MATCH expression."""
        where, params = _filter_sql(filters)
        sql = (
            "SELECT f.rowid, -bm25(passages_fts) AS score FROM passages_fts f"
            " JOIN passages p ON p.id = f.rowid JOIN documents d ON d.doc_id = p.doc_id"
            f" WHERE passages_fts MATCH ? {'AND ' + where if where else ''}"
            " ORDER BY score DESC, f.rowid LIMIT ?"
        )
        with self._lock:
            try:
                rows = self._db.execute(sql, [match, *params, top_k]).fetchall()
            except sqlite3.OperationalError as exc:
                logger.warning("keyword query %r failed: %s", match, exc)
                return []
        return [(int(r[0]), float(r[1])) for r in rows]

    def keyword_scores(
        self, match: str, row_ids: list[int], filters: SearchFilters
    ) -> dict[int, float]:
        """BM25 scores (higher is better) of the given passages that match; others are absent."""
        if not row_ids:
            return {}
        where, params = _filter_sql(filters)
        marks = ",".join("?" * len(row_ids))
        sql = (
            "SELECT f.rowid, -bm25(passages_fts) FROM passages_fts f"
            " JOIN passages p ON p.id = f.rowid JOIN documents d ON d.doc_id = p.doc_id"
            f" WHERE passages_fts MATCH ? AND f.rowid IN ({marks})"
            f" {'AND ' + where if where else ''}"
        )
        with self._lock:
            try:
                rows = self._db.execute(sql, [match, *row_ids, *params]).fetchall()
            except sqlite3.OperationalError as exc:
                logger.warning("keyword query %r failed: %s", match, exc)
                return {}
        return {int(r[0]): float(r[1]) for r in rows}

    def adjacent(
        self, row_ids: Iterable[int], radius: int, kinds: Collection[str] | None = None
    ) -> dict[int, tuple[int | None, ...]]:
        """For each passage, the passages at offsets -radius..radius in its document's text
        order (itself in the middle; None past either end). In documents of a kind not in
        `kinds` (when given) a passage has no neighbours."""
        with self._lock:
            generation = self.generation()
            if self._order is None or self._order[0] != generation:
                position: dict[int, tuple[str, list[int], int]] = {}
                rows = self._db.execute(
                    "SELECT p.id, p.doc_id, d.kind FROM passages p"
                    " JOIN documents d ON d.doc_id = p.doc_id"
                    " ORDER BY p.doc_id, p.char_start, p.id"
                ).fetchall()
                for (_, kind), group in itertools.groupby(rows, key=lambda r: (r[1], r[2])):
                    ids = [r[0] for r in group]
                    position.update((row_id, (kind, ids, i)) for i, row_id in enumerate(ids))
                self._order = (generation, position)
            position = self._order[1]
        result: dict[int, tuple[int | None, ...]] = {}
        for row_id in row_ids:
            if row_id not in position:
                continue
            kind, ids, at = position[row_id]
            if kinds is not None and kind not in kinds:
                ids, at = [row_id], 0
            result[row_id] = tuple(
                ids[i] if 0 <= i < len(ids) else None for i in range(at - radius, at + radius + 1)
            )
        return result

    def languages(self) -> tuple[str, ...]:
        """Languages the passages are written in (memoised per generation)."""
        with self._lock:
            generation = self.generation()
            if self._languages is None or self._languages[0] != generation:
                found = tuple(
                    r[0]
                    for r in self._db.execute(
                        "SELECT DISTINCT language FROM passages WHERE language IS NOT NULL"
                        " AND language != 'und' ORDER BY language"
                    )
                )
                self._languages = (generation, found)
            return self._languages[1]

    def facets(self) -> Facets:
        """Distinct sessions, speakers, languages, kinds and documents in the index."""
        with self._lock:
            sessions = [
                Session(r[0], r[1] or "", r[2] or "", r[3])
                for r in self._db.execute(
                    "SELECT DISTINCT session_id, session_title, session_date,"
                    " session_recording_url FROM documents WHERE session_id IS NOT NULL"
                    " ORDER BY session_date, session_id"
                )
            ]
            speakers = [
                r[0]
                for r in self._db.execute(
                    "SELECT speaker FROM passages WHERE speaker IS NOT NULL GROUP BY speaker"
                    " ORDER BY count(*) DESC, speaker"
                )
            ]
            kinds = [r[0] for r in self._db.execute("SELECT DISTINCT kind FROM documents")]
            documents = [
                (r[0], r[1])
                for r in self._db.execute("SELECT doc_id, title FROM documents ORDER BY title")
            ]
        return Facets(
            sessions=tuple(sessions),
            speakers=tuple(speakers),
            languages=self.languages(),
            kinds=tuple(sorted(kinds)),
            documents=tuple(documents),
        )


def _keyword_text(passage: Passage) -> str:
    # Speaker and section names are searchable too ("what did Brau say about …").
    extra = " ".join(x for x in (passage.speaker, passage.section) if x)
    return f"{extra}\n{passage.text}" if extra else passage.text


def _filter_sql(filters: SearchFilters) -> tuple[str, list[str]]:
    clauses: list[str] = []
    params: list[str] = []
    for column, values in (
        ("d.session_id", filters.sessions),
        ("d.doc_id", filters.doc_ids),
        ("p.speaker", filters.speakers),
        ("p.language", filters.languages),
        ("d.kind", filters.kinds),
    ):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    return " AND ".join(clauses), params


_PASSAGE_COLUMNS = (
    "id, passage_id, doc_id, text, char_start, char_end, page_start, page_end, label_start,"
    " label_end, time_start, time_end, speaker, section, language, ocr"
)

_INFO_SELECT = (
    "SELECT d.doc_id, d.source, d.sha256, d.title, d.kind, d.doc_format, d.language,"
    " d.session_id, d.session_title, d.session_date, d.session_recording_url, d.recording_url,"
    " d.page_count, d.duration, count(p.id), d.added_at, d.warnings"
    " FROM documents d LEFT JOIN passages p ON p.doc_id = d.doc_id"
)


def _passage(row: tuple) -> Passage:  # type: ignore[type-arg]
    return Passage(
        passage_id=row[1],
        doc_id=row[2],
        text=row[3],
        char_start=row[4],
        char_end=row[5],
        pages=(row[6], row[7]) if row[6] is not None else None,
        page_labels=(row[8], row[9]) if row[8] is not None else None,
        start_seconds=row[10],
        end_seconds=row[11],
        speaker=row[12],
        section=row[13],
        language=row[14],
        ocr=bool(row[15]),
    )


def _info(row: tuple) -> DocumentInfo:  # type: ignore[type-arg]
    session = Session(row[7], row[8] or "", row[9] or "", row[10]) if row[7] else None
    return DocumentInfo(
        doc_id=row[0],
        source=row[1],
        sha256=row[2],
        title=row[3],
        kind=row[4],
        doc_format=row[5],
        language=row[6],
        session=session,
        recording_url=row[11],
        page_count=row[12],
        duration_seconds=row[13],
        passages=row[14],
        added_at=row[15],
        warnings=tuple(json.loads(row[16])),
    )


def _meta_from_json(text: str) -> DocumentMeta:
    data = json.loads(text)
    session = Session(**data["session"]) if data.get("session") else None
    return DocumentMeta(
        title=data.get("title"),
        session=session,
        language=data.get("language"),
        recording_url=data.get("recording_url"),
    )
