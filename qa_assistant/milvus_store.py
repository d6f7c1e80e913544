"""The index in Milvus: embedded (`milvus-lite`), a standalone server or a cluster.

`QA_STORE=milvus-lite:///path/index.db` runs the engine inside this process (one process per
file); `QA_STORE=http://host:19530` (token in `QA_MILVUS_TOKEN`) talks to a server that any
number of app replicas and ingest workers share. See docs/deploy.md.

A version of the index is a collection of passages and, beside it, `<collection>_meta`; the
alias `<name>` (default `qa_assistant`) names the active version, so a rebuild writes new
collections and switches the alias: queries never see half an index.

    <collection>        one row per passage: its text, words and Snowball stems (two BM25
                        fields Milvus derives from them), the e5 vector, filter fields
                        (document, language, speaker, session, kind), the passage record (JSON)
    <collection>_meta   document rows (listing and organiser's metadata), part rows (slices of
                        long values: a document's text and segments, the calibration) and state
                        rows (the generation counter, the manifest)
    <name>_cache_<model>  sentence and second-stage vectors by text hash, shared by versions

Word statistics (BM25) thus count passages only, as the embedded store's FTS5 does.

Word search reads what the embedded store's FTS5 reads: words folded to lower case without
accents, or their Snowball stems (`keyword_index.stemmed_text`), computed here, so that both
stores find the same passages for the same words in every language.

Row ids are hashes of what a row is (document id + passage id, ...), so writing the same
document twice writes the same rows (upsert): several ingest workers can feed one server.
Replacing a document writes its new rows before deleting the old ones: a reader may see both
for a moment, never neither.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa_assistant.errors import IndexMismatchError, IndexMissingError, QAError
from qa_assistant.keyword_index import keyword_text, stemmed_text
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

if TYPE_CHECKING:
    from numpy.typing import NDArray


logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_NAME = "qa_assistant"
TOKEN_ENV = "QA_MILVUS_TOKEN"
PART_CHARS = 12_000  # characters per part row (VARCHAR holds 65,535 bytes; 4 per character)
MAX_TEXT_BYTES = 65_535
QUERY_BATCH = 4_000  # rows per page when reading many rows
MAX_LIMIT = 16_384  # Milvus caps limit (+ offset) of one search or query
MEMO_LIMIT = 50_000  # memoised values (document frequencies, facets) kept per generation
DF_CAP = 1_000  # document frequencies (abstention's word evidence) are counted up to this
IN_BATCH = 1_000  # ids per `id in [...]` filter
EF = 256  # HNSW search breadth (≥ the candidates asked for)
ALIAS_CHECK_SECONDS = 1.0  # how often a reader asks whether a rebuild switched the alias
META_SUFFIX = "_meta"  # the version's documents, parts and state, beside its passages
GENERATION = "generation"
MANIFEST = "manifest"
CALIBRATION = "abstention"
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_ID_MASK = (1 << 63) - 1


def fold(text: str) -> str:
    """Tokens of `text` as FTS5's unicode61 tokenizer (remove_diacritics 2) compares them: lower
    case, without accents or other combining marks, space-separated."""
    tokens = []
    for token in _TOKEN.findall(text):
        decomposed = unicodedata.normalize("NFKD", token.lower())
        tokens.append("".join(c for c in decomposed if not unicodedata.combining(c)))
    return " ".join(t for t in tokens if t)


def row_id(*parts: str) -> int:
    """A stable positive 63-bit id for what a row is."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & _ID_MASK or 1


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _in(field: str, values: Iterable[object]) -> str:
    items = ", ".join(_quote(v) if isinstance(v, str) else str(int(v)) for v in values)  # type: ignore[call-overload]
    return f"{field} in [{items}]"


def _filter_expr(filters: SearchFilters) -> str:
    clauses = ['row_type == "passage"']
    for field, values in (
        ("session_id", filters.sessions),
        ("doc_id", filters.doc_ids),
        ("speaker", filters.speakers),
        ("language", filters.languages),
        ("kind", filters.kinds),
    ):
        if values:
            clauses.append(_in(field, values))
    return " and ".join(clauses)


def _truncate(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def _client(uri: str, token: str | None = None) -> Any:
    try:
        from pymilvus import MilvusClient  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise QAError("the Milvus store needs pymilvus: pip install pymilvus milvus-lite") from exc
    # pymilvus configures logging when imported: quieten it (and the embedded server) after.
    for noisy in ("grpc._server", "pymilvus", "pymilvus.decorators", "milvus_lite"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=uri, token=token or "")
    except Exception as exc:
        if uri.endswith(".db"):
            hint = (
                "milvus-lite serves a file to one process at a time: stop the other one, or"
                " share a Milvus server (docs/deploy.md)"
            )
        else:
            hint = f"is the Milvus server running there? (QA_STORE; token from {TOKEN_ENV})"
        raise QAError(f"cannot open Milvus at {uri} ({exc}); {hint}") from exc


class MilvusLocation:
    """A Milvus database and the alias naming the active version of the index in it."""

    def __init__(self, uri: str, spec: str, name: str = DEFAULT_NAME, token: str | None = None):
        self.uri = uri
        self.spec = spec
        self.name = name
        self._token = token
        self._client: Any = None
        self._cache: MilvusCache | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str) -> MilvusLocation:
        """`milvus-lite:///abs/path.db`, `milvus-lite://relative.db`, or `http(s)://host:port`;
        `#name` at the end names the alias (default qa_assistant)."""
        base, _, name = spec.partition("#")
        name = name or DEFAULT_NAME
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,150}", name):
            raise QAError(f"{name!r} is not a valid Milvus collection name (letters, digits, _)")
        if base.startswith("milvus-lite://"):
            path = Path(base.removeprefix("milvus-lite://")).expanduser()
            if not path.name.endswith(".db"):
                raise QAError(f"{spec}: a milvus-lite file must end in .db")
            path.parent.mkdir(parents=True, exist_ok=True)
            return cls(str(path.resolve()), spec, name)
        if base.startswith(("http://", "https://", "tcp://")):
            return cls(base, spec, name, os.environ.get(TOKEN_ENV))
        raise QAError(
            f"QA_STORE={spec!r} is not understood: leave it empty for the index folder, or use "
            "milvus-lite:///path/index.db or http://host:19530"
        )

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _client(self.uri, self._token)
            return self._client

    def describe(self) -> str:
        return self.spec

    def current_collection(self) -> str | None:
        """The collection the alias names (None before the first index)."""
        client = self.client  # a database that cannot be opened is an error, not "no index"
        try:
            found = client.describe_alias(alias=self.name)
        except Exception:  # pymilvus raises when the alias does not exist
            return None
        return str(found.get("collection_name") or "") or None

    def exists(self) -> bool:
        return self.current_collection() is not None

    def open_current(self, any_format: bool = False) -> MilvusStore:
        collection = self.current_collection()
        if collection is None:
            raise IndexMissingError(
                f"no index in {self.spec}: build one with "
                f"`qa-assistant --store {self.spec} add corpus/`"
            )
        store = MilvusStore(self, collection)
        if store.manifest.format_version != FORMAT_VERSION and not any_format:
            raise IndexMismatchError(
                f"index in {self.spec} has format {store.manifest.format_version}, this version "
                f"reads {FORMAT_VERSION}: run `qa-assistant rebuild`"
            )
        return store

    def create(self, manifest: Manifest) -> MilvusStore:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        collection = f"{self.name}_v{stamp}_{os.urandom(3).hex()}"
        manifest = Manifest(
            **{
                **asdict(manifest),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "format_version": FORMAT_VERSION,
            }
        )
        _create_collection(self.client, collection, manifest.dimension)
        _create_meta_collection(self.client, collection + META_SUFFIX)
        store = MilvusStore(self, collection, manifest)
        store._put_state(MANIFEST, json.dumps(asdict(manifest)))
        store._put_state(GENERATION, "0")
        return store

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Writers do not lock one another: every write is an idempotent upsert by content."""
        yield

    def cache(self) -> MilvusCache:
        with self._lock:
            if self._cache is None:
                self._cache = MilvusCache(self)
            return self._cache

    def switch(self, collection: str) -> None:
        """Point the alias at `collection`; drop versions older than the one it replaces."""
        client = self.client
        previous = self.current_collection()
        if previous is None:
            client.create_alias(collection_name=collection, alias=self.name)
        else:
            client.alter_alias(collection_name=collection, alias=self.name)
        prefix = f"{self.name}_v"
        keep = {collection, f"{collection}{META_SUFFIX}"}
        if previous:  # readers of the previous version keep it until the next switch
            keep |= {previous, f"{previous}{META_SUFFIX}"}
        for other in client.list_collections():
            if other.startswith(prefix) and other not in keep:
                client.drop_collection(other)


def _loaded(client: Any, collection: str) -> None:
    """Load a collection into memory (a reopened database starts with none loaded)."""
    state = str(client.get_load_state(collection).get("state", ""))
    if "NotLoad" in state:
        client.load_collection(collection)


def _schema(client: Any, *extra: tuple[str, int]) -> Any:
    """The fields both collections of a version have, then `extra` VARCHAR fields."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("position", DataType.INT64)
    schema.add_field("record", DataType.JSON)
    for field, length in (
        ("row_type", 16),
        ("doc_id", 512),
        ("key", 4096),
        ("sha256", 64),
        ("language", 16),
        ("session_id", 1024),
        ("kind", 32),
        ("text", MAX_TEXT_BYTES),
        *extra,
    ):
        schema.add_field(field, DataType.VARCHAR, max_length=length)
    return schema


def _create_meta_collection(client: Any, name: str) -> None:
    """Documents, long values in parts and state rows (a vector field is required: 2-d)."""
    from pymilvus import DataType

    schema = _schema(client)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def _create_collection(client: Any, name: str, dimension: int) -> None:
    """Passages: the meta fields, the speaker, words and stems with their BM25 fields, and the
    vector with an HNSW index."""
    from pymilvus import DataType, Function, FunctionType

    schema = _schema(client, ("speaker", 1024))
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    index = client.prepare_index_params()
    index.add_index(
        field_name="vector",
        index_type="HNSW",
        metric_type="COSINE",
        params={"M": 16, "efConstruction": 200},
    )
    for field in ("words", "stems"):
        schema.add_field(field, DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True)
        schema.add_field(f"{field}_bm25", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name=f"{field}_bm25_function",
                function_type=FunctionType.BM25,
                input_field_names=[field],
                output_field_names=[f"{field}_bm25"],
            )
        )
        index.add_index(
            field_name=f"{field}_bm25",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": 1.2, "bm25_b": 0.75},
        )
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


class MilvusStore:
    """One version of the index: one Milvus collection."""

    def __init__(self, location: MilvusLocation, collection: str, manifest: Manifest | None = None):
        self.location = location
        self.collection = collection
        self.meta = collection + META_SUFFIX
        self.name = f"{location.spec}#{collection}"
        self.client = location.client
        self._lock = threading.RLock()
        self._generation = 0
        self._checked_alias = 0.0
        self._memo: dict[str, tuple[int, Any]] = {}
        _loaded(self.client, collection)
        _loaded(self.client, self.meta)
        if manifest is None:
            text = self._get_state(MANIFEST)
            if text is None:
                raise QAError(f"{self.name} has no manifest; run `qa-assistant rebuild`")
            manifest = Manifest(**json.loads(text))
        self.manifest = manifest
        self.refresh()

    # ----- versions and generations --------------------------------------------------------
    def generation(self) -> int:
        return self._generation

    def refresh(self) -> None:
        value = self._get_state(GENERATION)
        generation = int(value) if value else 0
        with self._lock:
            if generation != self._generation or len(self._memo) > MEMO_LIMIT:
                self._memo.clear()
            self._generation = generation

    def is_current(self) -> bool:
        now = time.monotonic()
        if now - self._checked_alias < ALIAS_CHECK_SECONDS:
            return True
        self._checked_alias = now
        return self.location.current_collection() == self.collection

    def make_current(self) -> None:
        self.flush()
        self.location.switch(self.collection)

    def check_model(self, model: str) -> None:
        if self.manifest.model != model:
            raise IndexMismatchError(
                f"index built with model {self.manifest.model!r}, settings say {model!r}: "
                "run `qa-assistant rebuild` to re-embed with the configured model"
            )

    def flush(self) -> None:
        """Seal what was written, so that searches read indexed segments."""
        self.client.flush(self.collection)
        self.client.flush(self.meta)

    def close(self) -> None:
        """The client is the location's, shared by its versions."""

    # ----- state rows -----------------------------------------------------------------------
    def _put_state(self, key: str, value: str) -> None:
        self._put_blob(f"state:{key}", value)

    def _get_state(self, key: str) -> str | None:
        return self._get_blob(f"state:{key}")

    def _put_blob(self, key: str, value: str) -> None:
        """`value` in part rows of PART_CHARS characters under `key` (older extra parts go)."""
        pieces = [value[i : i + PART_CHARS] for i in range(0, len(value), PART_CHARS)] or [""]
        rows = [
            self._meta_row("part", key=key, position=n, text=piece, doc_id=key)
            | {"id": row_id("part", key, str(n))}
            for n, piece in enumerate(pieces)
        ]
        self.client.upsert(self.meta, rows)
        self.client.delete(
            self.meta,
            filter=f'row_type == "part" and doc_id == {_quote(key)} and position >= {len(pieces)}',
        )

    def _get_blob(self, key: str) -> str | None:
        rows = self.client.query(
            self.meta,
            filter=f'row_type == "part" and doc_id == {_quote(key)}',
            output_fields=["position", "text"],
            limit=MAX_LIMIT,
        )
        if not rows:
            return None
        pieces = sorted((int(r["position"]), str(r["text"])) for r in rows)
        return "".join(text for _, text in pieces)

    @staticmethod
    def _meta_row(row_type: str, **fields: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "row_type": row_type,
            "doc_id": "",
            "key": "",
            "sha256": "",
            "language": "",
            "session_id": "",
            "kind": "",
            "position": 0,
            "text": "",
            "record": {},
            "vector": [1.0, 0.0],
        }
        row.update(fields)
        return row

    def _bump_generation(self) -> int:
        with self._lock:
            value = self._get_state(GENERATION)
            generation = (int(value) if value else 0) + 1
            self._put_state(GENERATION, str(generation))
            self._generation = generation
            return generation

    # ----- writes ---------------------------------------------------------------------------
    def write_document(
        self,
        doc: Document,
        meta: DocumentMeta,
        passages: list[Passage],
        vectors: NDArray[np.float32],
        replace_doc_id: str | None = None,
    ) -> None:
        duration = max((s.end_seconds or 0.0 for s in doc.segments), default=0.0) or None
        session = doc.session
        info = {
            "source": doc.source,
            "title": doc.title,
            "doc_format": doc.doc_format,
            "language": doc.language,
            "session": asdict(session) if session else None,
            "recording_url": doc.recording_url,
            "page_count": doc.page_count,
            "duration": duration,
            "passages": len(passages),
            "added_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "warnings": list(doc.warnings),
            "meta": asdict(meta),
        }
        common = {
            "doc_id": doc.doc_id,
            "session_id": _truncate(session.session_id, 1024) if session else "",
            "kind": doc.kind,
        }
        document = self._meta_row(
            "document",
            id=row_id("document", doc.doc_id),
            key=_truncate(doc.source, 4096),
            sha256=doc.sha256,
            language=doc.language or "",
            record=info,
            **common,
        )
        rows = []
        for passage, vector in zip(passages, vectors, strict=True):
            keyword = keyword_text(passage)
            rows.append(
                dict(
                    row_type="passage",
                    id=row_id("passage", doc.doc_id, passage.passage_id),
                    key=passage.passage_id,
                    sha256=doc.sha256,
                    language=passage.language or "",
                    speaker=_truncate(passage.speaker or "", 1024),
                    position=passage.char_start,
                    text=_truncate(passage.text),
                    words=_truncate(fold(keyword)),
                    stems=_truncate(fold(stemmed_text(keyword, passage.language))),
                    record=_passage_record(passage),
                    vector=np.asarray(vector, dtype=np.float32).tolist(),
                    **common,
                )
            )
        body = json.dumps(
            {"text": doc.text, "segments": [asdict(s) for s in doc.segments]}, ensure_ascii=False
        )
        with self._lock:
            for start in range(0, len(rows), 500):
                self.client.upsert(self.collection, rows[start : start + 500])
            self._put_blob(f"body:{doc.doc_id}", body)
            # The document row last: a document is listed (and found by its hash, so that adding
            # it again is skipped) only once everything of it is written.
            self.client.upsert(self.meta, [document])
            if replace_doc_id and replace_doc_id != doc.doc_id:
                self._delete_rows(replace_doc_id)
            self._bump_generation()

    def delete_document(self, doc_id: str) -> int:
        with self._lock:
            removed = self._count(f'row_type == "passage" and doc_id == {_quote(doc_id)}')
            self._delete_rows(doc_id)
            self._bump_generation()
            return removed

    def _delete_rows(self, doc_id: str) -> None:
        self.client.delete(self.collection, filter=f"doc_id == {_quote(doc_id)}")
        self.client.delete(self.meta, filter=f"doc_id == {_quote(doc_id)}")
        self.client.delete(self.meta, filter=f"doc_id == {_quote('body:' + doc_id)}")

    def save_calibration(self, text: str) -> None:
        self._put_state(CALIBRATION, text)

    def calibration(self) -> str | None:
        return self._get_state(CALIBRATION)

    # ----- reading many rows ----------------------------------------------------------------
    def _count(self, expr: str, collection: str | None = None) -> int:
        rows = self.client.query(
            collection or self.collection, filter=expr, output_fields=["count(*)"]
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def _all(
        self, expr: str, fields: list[str], collection: str | None = None
    ) -> list[dict[str, Any]]:
        """Every row matching `expr` (paged past Milvus's limit of one query)."""
        out: list[dict[str, Any]] = []
        last = -1
        while True:
            page = self.client.query(
                collection or self.collection,
                filter=f"({expr}) and id > {last}",
                output_fields=["id", *fields],
                limit=QUERY_BATCH,
            )
            if not page:
                return out
            # pymilvus gives rows as views into columns: copy them before re-ordering.
            page = sorted((dict(r) for r in page), key=lambda r: r["id"])
            out.extend(page)
            if len(page) < QUERY_BATCH:
                return out
            last = int(page[-1]["id"])

    def _by_ids(self, ids: Sequence[int], fields: list[str], expr: str = "") -> list[dict]:  # type: ignore[type-arg]
        out = []
        for start in range(0, len(ids), IN_BATCH):
            chunk = [int(i) for i in ids[start : start + IN_BATCH]]
            where = _in("id", chunk) + (f" and ({expr})" if expr else "")
            found = self.client.query(
                self.collection, filter=where, output_fields=["id", *fields], limit=len(chunk)
            )
            out += [dict(r) for r in found]
        return out

    def _memoised(self, key: str, compute: Any) -> Any:
        with self._lock:
            found = self._memo.get(key)
            if found is not None and found[0] == self._generation:
                return found[1]
        value = compute()
        with self._lock:
            self._memo[key] = (self._generation, value)
        return value

    # ----- documents ------------------------------------------------------------------------
    def _documents(self, expr: str) -> list[DocumentInfo]:
        fields = ["doc_id", "key", "sha256", "kind", "language", "session_id", "record"]
        rows = self._all(f'row_type == "document" and ({expr})', fields, self.meta)
        return [_info(r) for r in rows]

    def find_document(self, key: str) -> DocumentInfo | None:
        clauses = [f"doc_id == {_quote(key)}", f"key == {_quote(key)}"]
        if len(key) >= 6 and re.fullmatch(r"[0-9a-zA-Z_-]+", key):
            clauses.append(f'doc_id like "{key}%"')
        found = self._documents(" or ".join(clauses))
        return found[0] if len(found) == 1 else None

    def find_by_sha(self, sha256: str) -> DocumentInfo | None:
        found = self._documents(f"sha256 == {_quote(sha256)}")
        return found[0] if found else None

    def stored_meta(self, doc_id: str) -> DocumentMeta | None:
        rows = self._all(
            f'row_type == "document" and doc_id == {_quote(doc_id)}', ["record"], self.meta
        )
        return DocumentMeta.from_dict(rows[0]["record"]["meta"]) if rows else None

    def list_documents(self) -> list[DocumentInfo]:
        documents = self._documents("id > 0")
        return sorted(
            documents,
            key=lambda d: (
                (d.session.date or "") if d.session else "",
                d.session.session_id if d.session else "",
                d.source,
            ),
        )

    def documents_by_id(self, doc_ids: set[str]) -> dict[str, DocumentInfo]:
        if not doc_ids:
            return {}
        return {d.doc_id: d for d in self._documents(_in("doc_id", sorted(doc_ids)))}

    def iter_documents(self, doc_id: str | None = None) -> Iterator[tuple[Document, DocumentMeta]]:
        infos = [self.documents_by_id({doc_id}).get(doc_id)] if doc_id else self.list_documents()
        for info in infos:
            if info is None:
                continue
            rows = self._all(
                f'row_type == "document" and doc_id == {_quote(info.doc_id)}',
                ["record"],
                self.meta,
            )
            body = json.loads(self._get_blob(f"body:{info.doc_id}") or '{"text": ""}')
            yield (
                Document(
                    doc_id=info.doc_id,
                    source=info.source,
                    sha256=info.sha256,
                    title=info.title,
                    kind=info.kind,
                    doc_format=info.doc_format,
                    language=info.language,
                    text=body["text"],
                    session=info.session,
                    recording_url=info.recording_url,
                    page_count=info.page_count,
                    segments=tuple(Segment(**s) for s in body.get("segments", [])),
                    warnings=info.warnings,
                ),
                DocumentMeta.from_dict(rows[0]["record"]["meta"]) if rows else DocumentMeta(),
            )

    def counts(self) -> tuple[int, int, int, int]:
        documents = self._count('row_type == "document"', self.meta)
        passages = self._count('row_type == "passage"')
        return documents, passages, passages, passages

    def facets(self) -> Facets:
        def compute() -> Facets:
            documents = self.list_documents()
            sessions = {d.session.session_id: d.session for d in documents if d.session}
            speakers = Counter(
                r["speaker"]
                for r in self._all('row_type == "passage" and speaker != ""', ["speaker"])
            )
            return Facets(
                sessions=tuple(
                    sorted(sessions.values(), key=lambda s: (s.date or "", s.session_id))
                ),
                speakers=tuple(s for s, _ in sorted(speakers.items(), key=lambda x: (-x[1], x[0]))),
                languages=self.languages(),
                kinds=tuple(sorted({d.kind for d in documents})),
                documents=tuple(
                    (d.doc_id, d.title) for d in sorted(documents, key=lambda d: d.title)
                ),
            )

        return self._memoised("facets", compute)  # type: ignore[no-any-return]

    def languages(self) -> tuple[str, ...]:
        def compute() -> tuple[str, ...]:
            found: set[str] = set()
            expr = 'row_type == "passage" and language != "" and language != "und"'
            while True:  # one query per language, not per passage
                seen = f" and not ({_in('language', sorted(found))})" if found else ""
                where = expr + seen
                rows = self.client.query(
                    self.collection, filter=where, output_fields=["language"], limit=1
                )
                if not rows:
                    return tuple(sorted(found))
                found.add(rows[0]["language"])

        return self._memoised("languages", compute)  # type: ignore[no-any-return]

    # ----- passages -------------------------------------------------------------------------
    def passages(self, row_ids: list[int]) -> dict[int, Passage]:
        rows = self._by_ids(row_ids, ["doc_id", "key", "text", "language", "record"])
        return {int(r["id"]): _passage(r) for r in rows}

    def document_passages(self, doc_id: str) -> list[Passage]:
        rows = self._all(
            f'row_type == "passage" and doc_id == {_quote(doc_id)}',
            ["doc_id", "key", "text", "language", "record", "position"],
        )
        rows.sort(key=lambda r: (r["position"], r["id"]))
        return [_passage(r) for r in rows]

    def passage_count(self) -> int:
        return self._memoised(  # type: ignore[no-any-return]
            "passage_count", lambda: self._count('row_type == "passage"')
        )

    def stored_vectors(self, row_ids: list[int]) -> NDArray[np.float32]:
        out = np.zeros((len(row_ids), self.manifest.dimension), dtype=np.float32)
        if not row_ids:
            return out
        found = {int(r["id"]): r["vector"] for r in self._by_ids(row_ids, ["vector"])}
        for n, i in enumerate(row_ids):
            out[n] = np.asarray(found[i], dtype=np.float32)
        return out

    def adjacent(
        self, row_ids: Iterable[int], radius: int, kinds: Collection[str] | None = None
    ) -> dict[int, tuple[int | None, ...]]:
        wanted = sorted(set(row_ids))
        if not wanted:
            return {}
        owners = self._by_ids(wanted, ["doc_id", "kind"])
        # A passage of a document of another kind stands alone.
        position: dict[int, tuple[str, list[int], int]] = {
            int(r["id"]): (r["kind"], [int(r["id"])], 0)
            for r in owners
            if kinds is not None and r["kind"] not in kinds
        }
        doc_ids = sorted({r["doc_id"] for r in owners if kinds is None or r["kind"] in kinds})
        for start in range(0, len(doc_ids), IN_BATCH):
            rows = self._all(
                'row_type == "passage" and ' + _in("doc_id", doc_ids[start : start + IN_BATCH]),
                ["doc_id", "kind", "position"],
            )
            by_doc: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                by_doc.setdefault(r["doc_id"], []).append(r)
            for group in by_doc.values():
                group.sort(key=lambda r: (r["position"], r["id"]))
                ids = [int(r["id"]) for r in group]
                kind = group[0]["kind"]
                position.update((i, (kind, ids, n)) for n, i in enumerate(ids))
        result: dict[int, tuple[int | None, ...]] = {}
        for i in wanted:
            if i not in position:
                continue
            _, ids, at = position[i]
            result[i] = tuple(
                ids[j] if 0 <= j < len(ids) else None for j in range(at - radius, at + radius + 1)
            )
        return result

    def passing(self, row_ids: Sequence[int], filters: SearchFilters) -> set[int]:
        return {int(r["id"]) for r in self._by_ids(row_ids, [], _filter_expr(filters))}

    # ----- search ---------------------------------------------------------------------------
    def vector_search(
        self, query: NDArray[np.float32], top_k: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        hits = self.client.search(
            self.collection,
            data=[np.asarray(query, dtype=np.float32).reshape(-1).tolist()],
            anns_field="vector",
            filter=_filter_expr(filters),
            limit=min(top_k, MAX_LIMIT),
            search_params={"metric_type": "COSINE", "params": {"ef": max(EF, top_k)}},
        )[0]
        return sorted(
            ((int(h["id"]), float(h["distance"])) for h in hits), key=lambda x: (-x[1], x[0])
        )

    def _bm25(self, words: WordQuery, limit: int, expr: str) -> list[tuple[int, float]]:
        text = fold(" ".join(words.terms))
        if not text or limit <= 0:
            return []
        field = "stems_bm25" if words.stems else "words_bm25"
        hits = self.client.search(
            self.collection,
            data=[text],
            anns_field=field,
            filter=expr,
            limit=min(limit, MAX_LIMIT),
            search_params={"metric_type": "BM25"},
        )[0]
        # milvus-lite returns BM25 as a distance (negative); a server as a score (positive).
        scored = [(int(h["id"]), abs(float(h["distance"]))) for h in hits]
        return sorted(scored, key=lambda x: (-x[1], x[0]))

    def keyword_search(
        self, words: WordQuery, top_k: int, filters: SearchFilters
    ) -> list[tuple[int, float]]:
        return self._bm25(words, top_k, _filter_expr(filters))

    def keyword_scores(
        self, words: WordQuery, row_ids: list[int], filters: SearchFilters
    ) -> dict[int, float]:
        scores: dict[int, float] = {}
        for start in range(0, len(row_ids), IN_BATCH):
            chunk = row_ids[start : start + IN_BATCH]
            expr = _filter_expr(filters) + " and " + _in("id", chunk)
            scores.update(self._bm25(words, len(chunk), expr))
        return scores

    def _document_frequency(self, term: WordQuery, field: str, folded: str) -> int:
        """Passages holding `term`, counted up to DF_CAP (memoised per generation): BM25 search
        for the term, the fastest count milvus-lite has (TEXT_MATCH scans every row)."""
        key = f"df:{field}:{folded}"
        return self._memoised(  # type: ignore[no-any-return]
            key, lambda: len(self._bm25(term, DF_CAP, 'row_type == "passage"')) if folded else 0
        )

    def term_counts(
        self, terms: Sequence[WordQuery], row_ids: Sequence[int]
    ) -> list[tuple[int, int]]:
        rows = self._by_ids(list(row_ids), ["words", "stems"]) if row_ids else []
        counts = []
        for term in terms:
            folded = fold(" ".join(term.terms))
            field = "stems" if term.stems else "words"
            within = sum(1 for r in rows if _has_phrase(r[field], folded))
            total = self._document_frequency(term, field, folded)
            counts.append((total, within))
        return counts


class MilvusCache:
    """Vectors by (model, text sha256), one collection per model, shared by every version and
    every replica (the Cache protocol)."""

    def __init__(self, location: MilvusLocation):
        self.location = location
        self._ready: dict[str, str] = {}
        self._lock = threading.Lock()

    def _collection(self, model: str, dimension: int | None) -> str | None:
        slug = re.sub(r"[^A-Za-z0-9_]", "_", model)[:80]
        name = f"{self.location.name}_cache_{slug}"
        with self._lock:
            if model in self._ready:
                return self._ready[model]
            client = self.location.client
            if not client.has_collection(name):
                if dimension is None:
                    return None
                from pymilvus import DataType

                schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field("id", DataType.INT64, is_primary=True)
                schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
                index = client.prepare_index_params()
                index.add_index(field_name="vector", index_type="HNSW", metric_type="COSINE")
                client.create_collection(
                    name, schema=schema, index_params=index, consistency_level="Strong"
                )
            else:
                _loaded(client, name)
            self._ready[model] = name
            return name

    def get_many(self, model: str, shas: list[str]) -> dict[str, NDArray[np.float32]]:
        collection = self._collection(model, None)
        if collection is None or not shas:
            return {}
        by_id = {row_id(model, sha): sha for sha in shas}
        found: dict[str, NDArray[np.float32]] = {}
        ids = list(by_id)
        for start in range(0, len(ids), IN_BATCH):
            chunk = ids[start : start + IN_BATCH]
            for r in self.location.client.get(collection, ids=chunk, output_fields=["vector"]):
                found[by_id[int(r["id"])]] = np.asarray(r["vector"], dtype=np.float32)
        return found

    def put_many(self, model: str, items: dict[str, NDArray[np.float32]]) -> None:
        if not items:
            return
        first = next(iter(items.values()))
        collection = self._collection(model, int(np.asarray(first).shape[-1]))
        rows = [
            {"id": row_id(model, sha), "vector": np.asarray(v, dtype=np.float32).tolist()}
            for sha, v in items.items()
        ]
        for start in range(0, len(rows), 1000):
            self.location.client.upsert(collection, rows[start : start + 1000])


# ----- records ----------------------------------------------------------------------------------


def _has_phrase(folded_text: str, folded_phrase: str) -> bool:
    if not folded_phrase:
        return False
    return f" {folded_phrase} " in f" {folded_text} "


def _passage_record(p: Passage) -> dict[str, Any]:
    return {
        "char_start": p.char_start,
        "char_end": p.char_end,
        "pages": list(p.pages) if p.pages else None,
        "page_labels": list(p.page_labels) if p.page_labels else None,
        "start_seconds": p.start_seconds,
        "end_seconds": p.end_seconds,
        "speaker": p.speaker,
        "section": p.section,
        "ocr": p.ocr,
    }


def _passage(row: dict[str, Any]) -> Passage:
    record = row["record"]
    return Passage(
        passage_id=row["key"],
        doc_id=row["doc_id"],
        text=row["text"],
        char_start=record["char_start"],
        char_end=record["char_end"],
        pages=tuple(record["pages"]) if record.get("pages") else None,
        page_labels=tuple(record["page_labels"]) if record.get("page_labels") else None,
        start_seconds=record.get("start_seconds"),
        end_seconds=record.get("end_seconds"),
        speaker=record.get("speaker"),
        section=record.get("section"),
        language=row["language"] or None,
        ocr=bool(record.get("ocr")),
    )


def _info(row: dict[str, Any]) -> DocumentInfo:
    record = row["record"]
    session = Session(**record["session"]) if record.get("session") else None
    return DocumentInfo(
        doc_id=row["doc_id"],
        source=record["source"],
        sha256=row["sha256"],
        title=record["title"],
        kind=row["kind"],
        doc_format=record["doc_format"],
        language=record.get("language"),
        session=session,
        recording_url=record.get("recording_url"),
        page_count=record.get("page_count"),
        duration_seconds=record.get("duration"),
        passages=int(record.get("passages", 0)),
        added_at=record.get("added_at", ""),
        warnings=tuple(record.get("warnings", [])),
    )
