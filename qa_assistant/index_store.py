"""The index folder: versions, SQLite tables, FTS5 keyword index and the FAISS vectors.

The default implementation of `store.Store` (`IndexStore`) and `store.Location`
(`FolderLocation`); `milvus_store` is the other.

Layout of `index_dir`:

    CURRENT                   name of the active version folder (swapped atomically)
    embeddings.sqlite         embedding cache keyed by (model, sha256 of passage text)
    v-<time>-<rand>/
        manifest.json         model, dimension, chunk settings, format version
        store.sqlite          documents, passages (+ their vectors), passages_fts, state (the
                              generation; the abstention calibration of a generation),
                              vector_log (the rows each generation added or removed)
        vectors.<gen>.faiss   large indexes only: the approximate FAISS index (8-bit codes)
                              as of SQLite generation <gen>
    write.lock                held by the one process writing (qa_assistant.locking)

SQLite transactions make every change to documents, passages, keyword entries and the vector
log atomic. Each vector is stored once, in its passage row. The FAISS index in memory is
derived from it: opening reads every vector (below `vector_index.APPROXIMATE_FROM` passages) or
the last approximate snapshot, then applies the vector log since its generation; a process
that sees a newer generation applies only the log entries since its own. So a change costs
work in proportion to the document changed, in the writer and in every reader. The writer
writes a new snapshot (and trims the log) only when the log has grown by a tenth of the index.
A crash at any moment leaves a consistent index: a snapshot is written under a temporary name
and renamed, and the log in SQLite brings any snapshot up to date.

Readers never lock: each thread reads through its own read snapshot (qa_assistant.snapshots),
begun by `refresh`, so the several reads of one search see one generation. Writers hold the
write lock; only they create version folders and delete what killed writers left
(`remove_leftovers`).
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
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa_assistant.errors import IndexMismatchError, IndexMissingError, QAError
from qa_assistant.keyword_index import (
    FTS_TOKENIZER,
    STEMS_COLUMN,
    TEXT_COLUMN,
    fts_query,
    keyword_text,
    stemmed_text,
)
from qa_assistant.locking import write_lock
from qa_assistant.snapshots import ThreadSnapshots
from qa_assistant.store import Manifest, WordQuery
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
from qa_assistant.vector_index import APPROXIMATE_FROM, VectorIndex

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

FORMAT_VERSION = 4  # 2: the keyword index has a column of Snowball stems; 3: transcript sizes;
# 4: passages say whether their text was read by OCR
CURRENT_FILE = "CURRENT"
CACHE_FILE = "embeddings.sqlite"
STORE_FILE = "store.sqlite"
MANIFEST_FILE = "manifest.json"
SQL_BATCH = 500  # ids per IN (...) list, below SQLite's default limit of bound parameters
OPEN_ATTEMPTS = 3  # tries to open the current version while rebuilds swap it
# A temporary file is a leftover when its process is gone and it is older than this: a pid
# from another PID namespace (a container sharing the index) may look gone while it writes.
TMP_GRACE_SECONDS = 60.0
COMPACT_MIN = 10_000  # vector log rows below which the log is never trimmed
REFINE = 4  # the approximate index returns this many times the candidates asked for
PRUNE_FROM = 50_000  # passages from which word search leaves out its most common terms
COMMON_MATCHES = 5_000  # ... those matching more passages than this
TERM_COUNT_CAP = 20_000  # document frequencies are counted up to this (abstention's evidence)
CALIBRATION_KEY = "abstention"  # state row holding the abstention calibration (JSON)

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
CREATE TABLE IF NOT EXISTS vector_log (
    generation INTEGER NOT NULL, row_id INTEGER NOT NULL, added INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS vector_log_generation ON vector_log(generation);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _connect(path: Path, create: bool = True) -> sqlite3.Connection:
    """A connection in WAL mode; with `create` False, a missing database is an error (a version
    deleted by a rebuild must not come back as an empty file)."""
    target: str | Path = path if create else f"{path.resolve().as_uri()}?mode=rw"
    connection = sqlite3.connect(
        target, check_same_thread=False, isolation_level=None, timeout=30, uri=not create
    )
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


def _generation_of(connection: sqlite3.Connection) -> int:
    return _state_int(connection, "generation")


def _state_int(connection: sqlite3.Connection, key: str) -> int:
    row = connection.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
    return int(row[0]) if row else 0


def _vector_file_generation(path: Path) -> int | None:
    """5 for `vectors.5.faiss`; None for other names."""
    parts = path.name.split(".")
    if len(parts) == 3 and parts[0] == "vectors" and parts[2] == "faiss" and parts[1].isdigit():
        return int(parts[1])
    return None


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _is_orphan_tmp(path: Path) -> bool:
    """A `NAME.tmp-PID` file whose writer no longer runs (killed between write and rename)."""
    _, sep, pid = path.name.rpartition(".tmp-")
    if not (sep and pid.isdigit()) or _pid_alive(int(pid)):
        return False
    try:
        return time.time() - path.stat().st_mtime > TMP_GRACE_SECONDS
    except OSError:
        return False


def remove_leftovers(root: Path) -> list[Path]:
    """Delete what killed writers left in an index folder; return what was deleted.

    That is every version folder but the current one (a rebuild killed before its swap, or
    after the swap but before deleting the old version) and temporary files whose process no
    longer runs. Call only while holding the write lock: a version folder that is not current
    may be a rebuild in progress, and only lock holders create them.
    """
    current = read_current(root)
    if current is None:
        return []  # nothing is known to be in use; keep everything for a human to look at
    removed: list[Path] = []
    for path in sorted(root.glob("v-*")):
        if path.is_dir() and path != current:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for path in [*root.glob("*.tmp-*"), *current.glob("*.tmp-*")]:
        if path.is_file() and _is_orphan_tmp(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        logger.info("removed leftovers of interrupted writes: %s", [p.name for p in removed])
    return removed


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


@dataclass(frozen=True)
class IntegrityReport:
    """Ids that break the one-to-one match of passages, keyword rows and vectors.

    Every field is empty (or 0) when the index is sound; counts alone cannot show an id missing
    on one side and a stray one on the other.
    """

    generation: int
    passages: int
    passages_without_document: tuple[int, ...] = ()
    passages_without_keywords: tuple[int, ...] = ()
    keywords_without_passage: tuple[int, ...] = ()
    passages_without_vector: tuple[int, ...] = ()
    vectors_unlike_stored: tuple[int, ...] = ()  # FAISS holds another vector than SQLite
    stray_vectors: int = 0  # FAISS entries beyond those of the passages

    @property
    def sound(self) -> bool:
        """True when every passage has exactly one document, keyword row and vector."""
        return not (
            self.passages_without_document
            or self.passages_without_keywords
            or self.keywords_without_passage
            or self.passages_without_vector
            or self.vectors_unlike_stored
            or self.stray_vectors
        )


class FolderLocation:
    """The index folder (`Settings.index_dir`): version folders, and CURRENT naming the
    active one."""

    def __init__(self, root: Path, approximate_from: int = APPROXIMATE_FROM):
        self.root = root
        self.approximate_from = approximate_from
        self._cache: EmbeddingCache | None = None

    def describe(self) -> str:
        return str(self.root)

    def exists(self) -> bool:
        return read_current(self.root) is not None

    def open_current(self, any_format: bool = False) -> IndexStore:
        store = IndexStore.open_current(self.root, any_format)
        store.approximate_from = self.approximate_from
        return store

    def create(self, manifest: Manifest) -> IndexStore:
        store = IndexStore.create(self.root, manifest)
        store.approximate_from = self.approximate_from
        return store

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Be the only writing process (INDEX_DIR/write.lock, waiting with a message while
        another writes); holding it, clear what killed writers left (a rebuild's unfinished
        version folder, temporary files): nobody else can be writing them."""
        with write_lock(self.root):
            remove_leftovers(self.root)
            yield

    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            self._cache = EmbeddingCache(self.root)
        return self._cache


class IndexStore:
    """One index version: SQLite tables plus its FAISS vectors, safe for threads."""

    def __init__(self, folder: Path, manifest: Manifest, new: bool = False):
        """Args:
        new: create the database (`create`); otherwise it must exist.
        """
        self.folder = folder
        self.name = str(folder)
        self.manifest = manifest
        self._db = _connect(folder / STORE_FILE, create=new)  # writes, and reads off snapshots
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._snapshots = ThreadSnapshots(
            lambda: _connect(folder / STORE_FILE, create=False), _generation_of
        )
        self._vectors = VectorIndex(manifest.dimension)
        self._vectors_generation = -1
        self._languages: tuple[int, tuple[str, ...]] | None = None
        self._passage_count: tuple[int, int] | None = None
        # Passages from which the writer keeps an approximate index (Settings.approximate_from).
        self.approximate_from = APPROXIMATE_FROM
        self.refresh()  # the opening thread's first search reads a snapshot too

    # ----- versions -------------------------------------------------------------------------
    @classmethod
    def create(cls, root: Path, manifest: Manifest) -> IndexStore:
        """A new, empty version folder under `root` (not active until `make_current`)."""
        root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        folder = root / f"v-{stamp}-{secrets.token_hex(3)}"
        folder.mkdir()
        manifest = Manifest(
            **{**asdict(manifest), "created_at": _now(), "format_version": FORMAT_VERSION}
        )
        tmp = folder / (MANIFEST_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST_FILE)
        return cls(folder, manifest, new=True)

    @classmethod
    def open_current(cls, root: Path, any_format: bool = False) -> IndexStore:
        """Open the active version; raise IndexMissingError when there is none.

        `any_format` opens an index of an older format too, to read its documents for a
        rebuild (the documents table has not changed between formats).
        """
        for _ in range(OPEN_ATTEMPTS):
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
                if read_current(root) != folder:
                    continue  # a rebuild swapped versions and deleted this one meanwhile
                raise QAError(
                    f"{folder / MANIFEST_FILE} is unreadable ({exc}); run `qa-assistant rebuild`"
                ) from exc
            if manifest.format_version != FORMAT_VERSION and not any_format:
                raise IndexMismatchError(
                    f"index in {root} has format {manifest.format_version}, this version reads "
                    f"{FORMAT_VERSION}: run `qa-assistant rebuild`"
                )
            try:
                return cls(folder, manifest)
            except sqlite3.Error:
                if read_current(root) == folder:
                    raise
        raise QAError(f"the index in {root} keeps changing while opening it; try again")

    def make_current(self) -> None:
        """Atomically make this version the active one; older versions are deleted."""
        root = self.folder.parent
        tmp = root / f"{CURRENT_FILE}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(self.folder.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())  # the new name survives a power cut, not only a kill
        os.replace(tmp, root / CURRENT_FILE)
        _fsync_folder(root)
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
        with self._lock:
            self._snapshots.close()
            self._db.close()

    # ----- generation, vectors and snapshots ---------------------------------------------------
    def generation(self) -> int:
        """Counter bumped by every committed change (the one this thread's snapshot sees)."""
        with self._lock:
            snapshot = self._snapshots.current()
            if snapshot is not None and snapshot.generation is not None:
                return snapshot.generation
            return _generation_of(self._db)

    def _view(self) -> sqlite3.Connection:
        """The connection this thread reads with: its snapshot's, else the latest state."""
        snapshot = self._snapshots.current()
        return snapshot.connection if snapshot is not None else self._db

    def _read(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run a query on this thread's view (the caller holds the lock)."""
        return self._view().execute(sql, params)

    def _read_in(
        self, sql: str, keys: Sequence[object], params: Sequence[object] = ()
    ) -> list[tuple]:  # type: ignore[type-arg]
        """Rows of `sql` for `keys`, read SQL_BATCH keys at a time: `{marks}` in `sql` stands
        for the placeholders of one batch, bound before `params` (the caller holds the lock)."""
        rows: list[tuple] = []  # type: ignore[type-arg]
        for start in range(0, len(keys), SQL_BATCH):
            chunk = list(keys[start : start + SQL_BATCH])
            marks = ",".join("?" * len(chunk))
            rows += self._read(sql.format(marks=marks), [*chunk, *params]).fetchall()
        return rows

    def _vector_file(self, generation: int) -> Path:
        return self.folder / f"vectors.{generation}.faiss"

    def _load_vectors(self, connection: sqlite3.Connection) -> None:
        """The vectors of the generation `connection` sees (it is inside a read transaction):
        the newest snapshot the vector log can bring up to date, else every stored vector."""
        with self._lock:
            generation = _generation_of(connection)
            floor = _state_int(connection, "log_floor")
            for path in self._snapshot_files():
                taken = _vector_file_generation(path)
                if taken is None or not floor <= taken <= generation:
                    continue
                try:
                    self._vectors = VectorIndex.load(path, self.manifest.dimension)
                except (RuntimeError, ValueError) as exc:
                    logger.warning("%s unreadable (%s); reading the stored vectors", path, exc)
                    continue
                self._vectors_generation = taken
                self._apply_log(connection, generation)
                return
            self._vectors = VectorIndex(self.manifest.dimension)
            ids, vectors = self._stored_matrix(connection)
            self._vectors.add(ids, vectors)
            self._vectors_generation = generation

    def _snapshot_files(self) -> list[Path]:
        """Snapshot files of this version, newest generation first."""
        found = [(_vector_file_generation(p), p) for p in self.folder.glob("vectors.*.faiss")]
        return [p for g, p in sorted(found, key=lambda x: -(x[0] or -1)) if g is not None]

    def _apply_log(self, connection: sqlite3.Connection, generation: int) -> None:
        """Bring the vectors from `_vectors_generation` to `generation` with the vector log:
        work in proportion to what changed (the caller holds the lock)."""
        rows = connection.execute(
            "SELECT l.row_id, l.added, p.vector FROM vector_log l"
            " LEFT JOIN passages p ON p.id = l.row_id AND l.added = 1"
            " WHERE l.generation > ? AND l.generation <= ? ORDER BY l.rowid",
            (self._vectors_generation, generation),
        ).fetchall()
        for added, group in itertools.groupby(rows, key=lambda r: r[1]):
            batch = list(group)
            if not added:
                self._vectors.remove(np.array([r[0] for r in batch], dtype=np.int64))
                continue
            # A row id is added only when absent (a reused id was removed first, in order); a
            # row added and removed again later in the range has no vector any more.
            kept = [(r[0], r[2]) for r in batch if r[2] is not None]
            if kept:
                self._vectors.add(
                    np.array([i for i, _ in kept], dtype=np.int64),
                    np.vstack([np.frombuffer(blob, dtype=np.float32) for _, blob in kept]),
                )
        self._vectors_generation = generation

    def _write_snapshot(self) -> None:
        """Save the approximate index for the current generation, delete older snapshots and
        trim the vector log up to it (the writer, after a commit, holding the lock)."""
        generation = self._vectors_generation
        self._vectors.save(self._vector_file(generation))
        self._trim_log(generation)
        for old in self._snapshot_files():
            # Only older ones: never a file a newer writer may have saved meanwhile.
            if (_vector_file_generation(old) or 0) < generation:
                old.unlink(missing_ok=True)

    def _trim_log(self, generation: int) -> None:
        """Drop the vector log up to `generation`: a process behind it reloads in full."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM vector_log WHERE generation <= ?", (generation,))
            self._db.execute(
                "INSERT INTO state VALUES ('log_floor', ?) ON CONFLICT(key)"
                " DO UPDATE SET value = excluded.value",
                (str(generation),),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def refresh(self) -> None:
        """Begin this thread's read snapshot and pick up changes committed by other processes.

        Until the thread's next refresh (or its next write), its reads see this one committed
        generation, whatever other threads and processes commit meanwhile, so a search made of
        several reads never mixes two versions of a document. Cheap when nothing changed, and
        in proportion to the change otherwise (the vector log).
        """
        with self._lock:
            snapshot = self._snapshots.begin()
            connection = snapshot.connection if snapshot is not None else self._db
            generation = _generation_of(connection)
            if generation != self._vectors_generation:
                self._catch_up(connection, generation)

    def _catch_up(self, connection: sqlite3.Connection, generation: int) -> None:
        """The vectors of `generation`: through the vector log when it still reaches back to
        the in-memory generation, else loaded in full (the caller holds the lock)."""
        if _state_int(connection, "log_floor") <= self._vectors_generation < generation:
            self._apply_log(connection, generation)
        else:
            self._load_vectors(connection)

    def _vectors_match_view(self) -> bool:
        """True when FAISS holds exactly the passages this thread reads (caller holds the lock).

        It may not: another thread of this process wrote, or refreshed to a newer generation,
        after this thread's snapshot began.
        """
        snapshot = self._snapshots.current()
        seen = snapshot.generation if snapshot is not None else _generation_of(self._db)
        return seen == self._vectors_generation

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
            self._snapshots.end_own()  # this thread reads its own writes from now on
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
                    keyword = keyword_text(passage)
                    self._db.execute(
                        "INSERT INTO passages_fts (rowid, text, stems) VALUES (?, ?, ?)",
                        (row_id, keyword, stemmed_text(keyword, passage.language)),
                    )
                generation = self._bump_generation()
                self._log_vectors(generation, removed, new_ids)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._advance(generation, removed, new_ids, np.asarray(vectors, np.float32))

    def delete_document(self, doc_id: str) -> int:
        """Remove a document, its passages, keyword entries and vectors; return passages removed."""
        with self._lock:
            self._snapshots.end_own()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = self._delete_rows(doc_id)
                generation = self._bump_generation()
                self._log_vectors(generation, removed, [])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            nothing = np.zeros((0, self.manifest.dimension), dtype=np.float32)
            self._advance(generation, removed, [], nothing)
            return len(removed)

    def _log_vectors(self, generation: int, removed: list[int], added: list[int]) -> None:
        """Record in the vector log which rows `generation` removed, then added (inside the
        writer's transaction)."""
        self._db.executemany(
            "INSERT INTO vector_log (generation, row_id, added) VALUES (?, ?, ?)",
            [(generation, i, 0) for i in removed] + [(generation, i, 1) for i in added],
        )

    def _advance(
        self, generation: int, removed: list[int], added: list[int], vectors: NDArray[np.float32]
    ) -> None:
        """The in-memory vectors after this process committed `generation` (lock held)."""
        if self._vectors_generation == generation - 1:
            self._vectors.remove(np.array(removed, dtype=np.int64))
            self._vectors.add(np.array(added, dtype=np.int64), vectors)
            self._vectors_generation = generation
        else:  # another process wrote since this one last read: catch up through the log
            self._snapshots.end_own()
            self._catch_up(self._db, generation)

    def flush(self) -> None:
        """After a batch of writes: keep the index type its size calls for, and compact.

        Below `approximate_from` passages the vectors live only in SQLite (the log is trimmed
        when it outgrows the index by a tenth). From it on, the approximate index is trained
        when first needed, and a snapshot is written when the log since the last one holds a
        tenth of the index: so a write costs work in proportion to the document, plus, now and
        then, one snapshot.
        """
        with self._lock:
            generation = _generation_of(self._db)
            if self._vectors_generation != generation:
                return
            size = len(self._vectors)
            pending = self._db.execute(
                "SELECT count(*) FROM vector_log WHERE generation > ?",
                (_state_int(self._db, "log_floor"),),
            ).fetchone()[0]
            compact = pending > max(COMPACT_MIN, size // 10)
            if size >= self.approximate_from:
                if self._vectors.exact:
                    self._vectors = self._approximate_from_stored()
                    compact = True
                if compact or not self._snapshot_files():
                    self._write_snapshot()
                return
            if not self._vectors.exact and size < self.approximate_from // 2:
                self._load_exact()
            for old in self._snapshot_files():  # vectors are stored once: in SQLite
                old.unlink(missing_ok=True)
            if compact:
                self._trim_log(generation)

    def _approximate_from_stored(self) -> VectorIndex:
        """An approximate index trained on, and holding, every stored vector (lock held)."""
        ids, vectors = self._stored_matrix()
        return VectorIndex.approximate(self.manifest.dimension, ids, vectors)

    def _load_exact(self) -> None:
        ids, vectors = self._stored_matrix()
        self._vectors = VectorIndex(self.manifest.dimension)
        self._vectors.add(ids, vectors)

    def _stored_matrix(
        self, connection: sqlite3.Connection | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Every stored vector and its row id, read into one preallocated matrix."""
        view = connection or self._db
        size = int(view.execute("SELECT count(*) FROM passages").fetchone()[0])
        ids = np.zeros(size, dtype=np.int64)
        vectors = np.zeros((size, self.manifest.dimension), dtype=np.float32)
        rows = view.execute("SELECT id, vector FROM passages ORDER BY id")
        for number, (row_id, blob) in enumerate(rows):
            ids[number] = row_id
            vectors[number] = np.frombuffer(blob, dtype=np.float32)
        return ids, vectors

    def save_calibration(self, text: str) -> None:
        """Store the abstention calibration (JSON, `qa_assistant.abstention`) of this version.

        One statement, so atomic; it does not bump the generation: the calibration names the
        generation it describes, and readers ignore one that describes another.
        """
        with self._lock:
            self._snapshots.end_own()
            self._db.execute(
                "INSERT INTO state VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (CALIBRATION_KEY, text),
            )

    def calibration(self) -> str | None:
        """The stored abstention calibration (JSON) as this thread's snapshot sees it, if any."""
        with self._lock:
            row = self._read("SELECT value FROM state WHERE key=?", (CALIBRATION_KEY,)).fetchone()
        return str(row[0]) if row else None

    def _delete_rows(self, doc_id: str) -> list[int]:
        ids = [r[0] for r in self._db.execute("SELECT id FROM passages WHERE doc_id=?", (doc_id,))]
        self._db.executemany("DELETE FROM passages_fts WHERE rowid=?", [(i,) for i in ids])
        self._db.execute("DELETE FROM passages WHERE doc_id=?", (doc_id,))
        self._db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
        return ids

    def _bump_generation(self) -> int:
        self._db.execute(
            "INSERT INTO state VALUES ('generation', '1') ON CONFLICT(key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        return _generation_of(self._db)

    # ----- reads ----------------------------------------------------------------------------
    def find_document(self, key: str) -> DocumentInfo | None:
        """A document by id, id prefix (≥ 6 chars) or source path."""
        with self._lock:
            row = self._read(
                f"{_INFO_SELECT} WHERE d.doc_id = ? OR d.source = ?"
                " OR (length(?) >= 6 AND d.doc_id LIKE ? || '%') GROUP BY d.doc_id LIMIT 2",
                (key, key, key, key),
            ).fetchall()
        return _info(row[0]) if len(row) == 1 else None

    def find_by_sha(self, sha256: str) -> DocumentInfo | None:
        """A document with exactly these contents."""
        with self._lock:
            row = self._read(
                f"{_INFO_SELECT} WHERE d.sha256 = ? GROUP BY d.doc_id", (sha256,)
            ).fetchone()
        return _info(row) if row else None

    def stored_meta(self, doc_id: str) -> DocumentMeta | None:
        """The organiser's metadata a document was added with."""
        with self._lock:
            row = self._read("SELECT meta FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        return DocumentMeta.from_dict(json.loads(row[0])) if row else None

    def list_documents(self) -> list[DocumentInfo]:
        """All documents, by session then source."""
        with self._lock:
            rows = self._read(
                f"{_INFO_SELECT} GROUP BY d.doc_id ORDER BY d.session_date, d.session_id, d.source"
            ).fetchall()
        return [_info(r) for r in rows]

    def documents_by_id(self, doc_ids: set[str]) -> dict[str, DocumentInfo]:
        """Listing of the given documents."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            rows = self._read(
                f"{_INFO_SELECT} WHERE d.doc_id IN ({marks}) GROUP BY d.doc_id", list(doc_ids)
            ).fetchall()
        return {r[0]: _info(r) for r in rows}

    def passages(self, row_ids: list[int]) -> dict[int, Passage]:
        """Passages by FAISS/row id."""
        if not row_ids:
            return {}
        marks = ",".join("?" * len(row_ids))
        with self._lock:
            rows = self._read(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})", row_ids
            ).fetchall()
        return {r[0]: _passage(r) for r in rows}

    def document_passages(self, doc_id: str) -> list[Passage]:
        """All passages of one document, in text order."""
        with self._lock:
            rows = self._read(
                f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE doc_id=? ORDER BY char_start",
                (doc_id,),
            ).fetchall()
        return [_passage(r) for r in rows]

    def counts(self) -> tuple[int, int, int, int]:
        """(documents, passages, keyword rows, vectors). Equal counts are necessary, not
        sufficient: `check_integrity` compares the ids."""
        with self._lock:
            view = self._view()
            documents = view.execute("SELECT count(*) FROM documents").fetchone()[0]
            passages = view.execute("SELECT count(*) FROM passages").fetchone()[0]
            keyword = view.execute("SELECT count(*) FROM passages_fts").fetchone()[0]
            return int(documents), int(passages), int(keyword), len(self._vectors)

    def check_integrity(self) -> IntegrityReport:
        """Compare passages, keyword rows, documents and FAISS vectors id by id (one snapshot)."""
        with self._lock:
            self.refresh()  # this thread's snapshot, and FAISS for its generation
            view = self._view()
            stored = dict(view.execute("SELECT id, vector FROM passages").fetchall())
            orphans = view.execute(
                "SELECT p.id FROM passages p LEFT JOIN documents d ON d.doc_id = p.doc_id"
                " WHERE d.doc_id IS NULL"
            ).fetchall()
            keyword = {r[0] for r in view.execute("SELECT rowid FROM passages_fts")}
            held = set(self._vectors.ids().tolist())
            missing = [row_id for row_id in sorted(stored) if row_id not in held]
            unlike: list[int] = []
            if self._vectors.exact:  # approximate codes cannot be compared with the vectors
                for row_id, blob in sorted(stored.items()):
                    if row_id in held and not np.array_equal(
                        self._vectors.reconstruct([row_id])[0],
                        np.frombuffer(blob, dtype=np.float32),
                    ):
                        unlike.append(row_id)
            return IntegrityReport(
                generation=self.generation(),
                passages=len(stored),
                passages_without_document=tuple(sorted(r[0] for r in orphans)),
                passages_without_keywords=tuple(sorted(set(stored) - keyword)),
                keywords_without_passage=tuple(sorted(keyword - set(stored))),
                passages_without_vector=tuple(missing),
                vectors_unlike_stored=tuple(unlike),
                stray_vectors=len(self._vectors) - (len(stored) - len(missing)),
            )

    def iter_documents(self, doc_id: str | None = None) -> Iterator[tuple[Document, DocumentMeta]]:
        """Every stored document (or the one `doc_id`) with its text and segments."""
        where, params = ("WHERE doc_id=?", [doc_id]) if doc_id is not None else ("", [])
        with self._lock:
            rows = self._read(
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
                DocumentMeta.from_dict(json.loads(row[16])),
            )

    def passing(self, row_ids: Sequence[int], filters: SearchFilters) -> set[int]:
        """Those of `row_ids` that pass `filters` (work in proportion to `row_ids`)."""
        where, params = _filter_sql(filters)
        if not where:
            return set(row_ids)
        sql = (
            "SELECT p.id FROM passages p JOIN documents d ON d.doc_id = p.doc_id"
            " WHERE p.id IN ({marks}) AND " + where
        )
        with self._lock:
            return {int(r[0]) for r in self._read_in(sql, list(row_ids), params)}

    def allowed_ids(self, filters: SearchFilters) -> NDArray[np.int64] | None:
        """Row ids passing the filters, or None when there are no filters."""
        where, params = _filter_sql(filters)
        if not where:
            return None
        with self._lock:
            rows = self._read(
                "SELECT p.id FROM passages p JOIN documents d ON d.doc_id = p.doc_id"
                f" WHERE {where}",
                params,
            ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def stored_vectors(self, row_ids: list[int]) -> NDArray[np.float32]:
        """The vectors of the given passages, in order (as this thread's snapshot has them)."""
        out = np.zeros((len(row_ids), self.manifest.dimension), dtype=np.float32)
        if not row_ids:
            return out
        with self._lock:
            if self._vectors.exact and self._vectors_match_view():
                return self._vectors.reconstruct(row_ids)
            found = dict(self._read_in(_VECTORS_SQL, row_ids))
        for row, row_id in enumerate(row_ids):
            out[row] = np.frombuffer(found[row_id], dtype=np.float32)
        return out

    def vector_search(
        self, query: NDArray[np.float32], top_k: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        """(row id, cosine) of the nearest passages passing the filters.

        The approximate index (large libraries) proposes `REFINE` times the candidates and
        their stored vectors decide, so the cosines returned are exact.
        """
        allowed = self.allowed_ids(filters)
        with self._lock:
            exact = self._vectors.exact
            asked = top_k if exact else top_k * REFINE
            hits = self._vectors.search(query, asked, allowed)
            if not hits or (exact and self._vectors_match_view()):
                return hits
            # Re-score with the stored vectors as this thread's snapshot has them: approximate
            # scores, or FAISS moved past the snapshot (a replaced document's new passages may
            # reuse the row ids of its old ones).
            rows = self._read_in(_VECTORS_SQL, [i for i, _ in hits])
        flat = np.asarray(query, dtype=np.float32).reshape(-1)
        scored = [(int(i), float(np.frombuffer(blob, dtype=np.float32) @ flat)) for i, blob in rows]
        return sorted(scored, key=lambda hit: (-hit[1], hit[0]))[:top_k]

    def keyword_search(
        self, words: WordQuery, top_k: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        """(row id, BM25 score, higher is better) from FTS5.

        FTS5 scores every passage that matches any term, so in a large library (from
        `PRUNE_FROM` passages) the terms of an `a OR b OR …` expression that match more than
        `COMMON_MATCHES` passages are left out (when all are common, passages must hold them
        all): they weigh little in BM25 and cost the most.
        """
        match = _fts(words)
        if match is None:
            return []
        if self.passage_count() >= PRUNE_FROM:
            match = self._without_common_terms(match)
        where, params = _filter_sql(filters)
        sql = (
            "SELECT f.rowid, -bm25(passages_fts) AS score FROM passages_fts f"
            " JOIN passages p ON p.id = f.rowid JOIN documents d ON d.doc_id = p.doc_id"
            f" WHERE passages_fts MATCH ? {'AND ' + where if where else ''}"
            " ORDER BY score DESC, f.rowid LIMIT ?"
        )
        with self._lock:
            try:
                rows = self._read(sql, [match, *params, top_k]).fetchall()
            except sqlite3.OperationalError as exc:
                logger.warning("keyword query %r failed: %s", match, exc)
                return []
        return [(int(r[0]), float(r[1])) for r in rows]

    def passage_count(self) -> int:
        """Passages in this thread's view (memoised per generation)."""
        with self._lock:
            generation = self.generation()
            if self._passage_count is None or self._passage_count[0] != generation:
                total = self._read("SELECT count(*) FROM passages").fetchone()[0]
                self._passage_count = (generation, int(total))
            return self._passage_count[1]

    def _without_common_terms(self, match: str) -> str:
        """`match` (terms joined by OR) without the terms matching over COMMON_MATCHES passages;
        counting stops at that bound, so each term costs at most that many rows."""
        terms = match.split(" OR ")
        if len(terms) < 2:
            return match
        counted = []
        with self._lock:
            for term in terms:
                try:
                    found = self._read(
                        "SELECT count(*) FROM (SELECT rowid FROM passages_fts"
                        " WHERE passages_fts MATCH ? LIMIT ?)",
                        (term, COMMON_MATCHES + 1),
                    ).fetchone()[0]
                except sqlite3.OperationalError:
                    found = COMMON_MATCHES + 1
                counted.append((int(found), term))
        kept = [term for found, term in counted if found <= COMMON_MATCHES]
        if kept:
            return " OR ".join(kept)
        # Every term is common: the passages holding all of them (few, and cheap to score).
        return " AND ".join(f"({term})" for term in terms)

    def keyword_scores(
        self, words: WordQuery, row_ids: list[int], filters: SearchFilters
    ) -> dict[int, float]:
        """BM25 scores (higher is better) of the given passages that match; others are absent."""
        match = _fts(words)
        if not row_ids or match is None:
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
                rows = self._read(sql, [match, *row_ids, *params]).fetchall()
            except sqlite3.OperationalError as exc:
                logger.warning("keyword query %r failed: %s", match, exc)
                return {}
        return {int(r[0]): float(r[1]) for r in rows}

    def term_counts(
        self, terms: Sequence[WordQuery], row_ids: Sequence[int]
    ) -> list[tuple[int, int]]:
        """Per one-term query: how many passages match it (counted up to `TERM_COUNT_CAP`, so a
        common term costs a bounded scan), and how many of `row_ids` do (document frequencies,
        for abstention's word evidence)."""
        matches = [_phrase(term) for term in terms]
        among = ",".join(str(int(i)) for i in row_ids) or "NULL"
        total_sql = (
            "SELECT count(*) FROM (SELECT rowid FROM passages_fts"
            " WHERE passages_fts MATCH ? LIMIT ?)"
        )
        within_sql = (
            f"SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ? AND rowid IN ({among})"
        )
        counts = []
        with self._lock:
            for match in matches:
                try:
                    found = self._read(total_sql, [match, TERM_COUNT_CAP]).fetchone()[0]
                    within = self._read(within_sql, [match]).fetchone()[0]
                except sqlite3.OperationalError as exc:
                    logger.warning("keyword query %r failed: %s", match, exc)
                    found, within = 0, 0
                counts.append((int(found), int(within)))
        return counts

    def adjacent(
        self, row_ids: Iterable[int], radius: int, kinds: Collection[str] | None = None
    ) -> dict[int, tuple[int | None, ...]]:
        """For each passage, the passages at offsets -radius..radius in its document's text
        order (itself in the middle; None past either end). In documents of a kind not in
        `kinds` (when given) a passage has no neighbours."""
        wanted = sorted(set(row_ids))
        position: dict[int, tuple[str, list[int], int]] = {}
        select = (
            "SELECT p.id, p.doc_id, d.kind FROM passages p JOIN documents d ON d.doc_id = p.doc_id"
        )
        with self._lock:
            owners = self._read_in(select + " WHERE p.id IN ({marks})", wanted)
            read = sorted({doc for _, doc, kind in owners if kinds is None or kind in kinds})
            # A passage of a document of another kind stands alone.
            position.update(
                (row_id, (kind, [row_id], 0))
                for row_id, _, kind in owners
                if kinds is not None and kind not in kinds
            )
            # The passages of the documents these rows belong to, in text order: work in
            # proportion to those documents, not to the index (a batch holds whole documents).
            rows = self._read_in(
                select + " WHERE p.doc_id IN ({marks}) ORDER BY p.doc_id, p.char_start, p.id", read
            )
            for (_, kind), group in itertools.groupby(rows, key=lambda r: (r[1], r[2])):
                ids = [r[0] for r in group]
                position.update((row_id, (kind, ids, i)) for i, row_id in enumerate(ids))
        result: dict[int, tuple[int | None, ...]] = {}
        for row_id in wanted:
            if row_id not in position:
                continue
            _, ids, at = position[row_id]
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
                    for r in self._read(
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
                for r in self._read(
                    "SELECT DISTINCT session_id, session_title, session_date,"
                    " session_recording_url FROM documents WHERE session_id IS NOT NULL"
                    " ORDER BY session_date, session_id"
                )
            ]
            speakers = [
                r[0]
                for r in self._read(
                    "SELECT speaker FROM passages WHERE speaker IS NOT NULL GROUP BY speaker"
                    " ORDER BY count(*) DESC, speaker"
                )
            ]
            kinds = [r[0] for r in self._read("SELECT DISTINCT kind FROM documents")]
            documents = [
                (r[0], r[1])
                for r in self._read("SELECT doc_id, title FROM documents ORDER BY title")
            ]
        return Facets(
            sessions=tuple(sessions),
            speakers=tuple(speakers),
            languages=self.languages(),
            kinds=tuple(sorted(kinds)),
            documents=tuple(documents),
        )


def _fts(words: WordQuery) -> str | None:
    """The FTS5 MATCH expression of a word query."""
    if words.stems:
        return fts_query(list(words.terms), STEMS_COLUMN)
    return fts_query(list(words.terms), TEXT_COLUMN)


def _phrase(words: WordQuery) -> str:
    """FTS5 MATCH expression of a one-term query, as a phrase."""
    column = STEMS_COLUMN if words.stems else TEXT_COLUMN
    return f'{column} : "' + words.terms[0].replace('"', '""') + '"'


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


_VECTORS_SQL = "SELECT id, vector FROM passages WHERE id IN ({marks})"

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
