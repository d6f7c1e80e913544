"""Assistant: the one API both front ends call (wiring only; the work is in the stages)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa_assistant import __version__
from qa_assistant.abstention import Calibration, judge, judge_fixed, model_for
from qa_assistant.answering import DOCUMENT_ROUTE, sentence_texts
from qa_assistant.calibration import Calibrator
from qa_assistant.chunking import Layout, embedding_text, split_document
from qa_assistant.embedding import embed_with_cache, embedder_name, make_embedder, text_sha
from qa_assistant.errors import (
    DocumentNotFoundError,
    IndexMismatchError,
    IngestError,
    QAError,
)
from qa_assistant.export import to_webvtt
from qa_assistant.feedback import LOG_FILE, QuestionLog, QuestionSummary
from qa_assistant.ingest import (
    display_name,
    file_sha256,
    is_supported,
    read_document,
    unsupported_reason,
)
from qa_assistant.ingest.base import ReadOptions, ReadProgress, no_read_progress
from qa_assistant.ingest.manifest import (
    CorpusManifest,
    corpus_series,
    find_manifest,
    load_manifest,
)
from qa_assistant.search import Searcher, SearchOptions, SearchResult
from qa_assistant.store import Cache, Location, Manifest, Store
from qa_assistant.types import (
    Answer,
    Coverage,
    Document,
    DocumentInfo,
    DocumentMeta,
    Facets,
    FileReport,
    FileStatus,
    Hit,
    IngestReport,
    Passage,
    RebuildReport,
    SearchFilters,
    Series,
    Session,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from qa_assistant.config import Settings
    from qa_assistant.embedding import Embedder
    from qa_assistant.rerank import Reranker

logger = logging.getLogger(__name__)

# (files done, with a share of the current one; files in all; what is happening)
Progress = Callable[[float, int, str], None]
SUGGESTED_SESSIONS = 3
PAGED_FORMATS = ("pdf", "pptx", "image")  # formats whose segments are pages or slides
ADD_DOCUMENTS_BATCH = 64  # documents embedded per model round in add_documents


def _no_progress(done: float, total: int, message: str) -> None:
    return None


def open_location(settings: Settings) -> Location:
    """Where `settings.store` says the index lives: empty for the index folder
    (`settings.index_dir`, SQLite + FAISS); `milvus-lite:///path/index.db` or
    `http(s)://host:19530` for Milvus."""
    spec = settings.store.strip()
    if not spec:
        from qa_assistant.index_store import FolderLocation

        return FolderLocation(settings.index_dir, settings.approximate_from)
    from qa_assistant.milvus_store import MilvusLocation

    return MilvusLocation.from_spec(spec)


class Assistant:
    """Index materials and answer questions about them."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        link_base_url: str | None = None,
        second_stage_encoder: Embedder | None = None,
    ):
        """Args:
        embedder: use this instead of loading `settings.model` (tests pass a fake one).
        link_base_url: URL prefix under which a server serves documents by id (the UI's
            DOCUMENT_ROUTE); default: QA_PUBLIC_URL's, else links are local file:// URLs.
        second_stage_encoder: use this instead of loading USE-m3 when `settings.rerank`.
        """
        self.settings = settings
        self._embedder = embedder
        if link_base_url is None and settings.public_url:
            link_base_url = settings.public_url.rstrip("/") + DOCUMENT_ROUTE
        self._link_base_url = link_base_url
        self._store: Store | None = None
        self.location: Location = open_location(settings)
        self._embedder_lock = threading.Lock()
        self._reranker: Reranker | None = None
        self._second_stage_encoder = second_stage_encoder
        self._write_lock = threading.Lock()  # one add/remove/rebuild at a time per process
        self._question_log: QuestionLog | None = None
        self._calibrator = Calibrator()

    # ----- wiring ---------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use and kept."""
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def cache(self) -> Cache:
        """Embedding cache shared by all index versions."""
        return self.location.cache()

    def _current_store(self) -> Store:
        """The active index version, reopened when another process swapped it."""
        store = self._store
        if store is None or not store.is_current():
            store = self.location.open_current()
            store.check_model(self.model_name)
            self._store = store
        else:
            store.refresh()
        return store

    @property
    def model_name(self) -> str:
        """Name of the configured embedding model."""
        return self._embedder.name if self._embedder is not None else embedder_name(self.settings)

    def warm_up(self) -> None:
        """Load the model and open the index now, so that the first question is not slow."""
        if self.has_index():
            self._current_store()
        self.embedder.embed_queries(["warm-up"])

    def has_index(self) -> bool:
        """True when an index exists at the configured location."""
        return self.location.exists()

    def _new_manifest(self) -> Manifest:
        return Manifest(
            model=self.embedder.name,
            dimension=self.embedder.dimension,
            chunk_chars=self.settings.chunk_chars,
            chunk_overlap=self.settings.chunk_overlap,
            transcript_chunk_chars=self.settings.transcript_chunk_chars,
            transcript_chunk_overlap=self.settings.transcript_chunk_overlap,
            package_version=__version__,
        )

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Be the index's only writer in this process, then as its Location serialises
        processes (the index folder's write lock; Milvus: idempotent writes instead)."""
        with self._write_lock, self.location.writing():
            yield

    def _writable_store(self) -> Store:
        if not self.has_index():
            store = self.location.create(self._new_manifest())
            store.make_current()
            self._store = store
            return store
        store = self._current_store()
        built = store.manifest.layout
        if built != self.settings.layout:
            raise IndexMismatchError(
                f"index built with passages of {_sizes(built)}, settings say "
                f"{_sizes(self.settings.layout)}: run `qa-assistant rebuild` first"
            )
        return store

    def _searcher(self, store: Store) -> Searcher:
        """The search pipeline (search.py) over `store`, tuned by Settings."""
        return Searcher(store, self.embedder, self.cache, self._search_options(), self.reranker)

    def _meter(self, store: Store) -> Searcher:
        """The pipeline as abstention's calibration uses it: its measure stage only, with the
        model loaded only if a sentence vector is missing from the embedding cache."""
        lazy = _LazyEmbedder(self, store.manifest.dimension)
        return Searcher(store, lazy, self.cache, self._search_options())

    def _search_options(self) -> SearchOptions:
        settings = self.settings
        return SearchOptions(
            candidates=settings.candidates,
            rrf_k=settings.rrf_k,
            word_weight=settings.word_weight,
            fusion=settings.fusion,
            convex_weight=settings.convex_weight,
            stem_languages=settings.stem_languages,
            feedback_weight=settings.feedback_weight,
            feedback_depth=settings.feedback_depth,
            neighbour_weight=settings.neighbour_weight,
            neighbour_kinds=settings.neighbour_kinds,
            document_weight=settings.document_weight,
            document_depth=settings.document_depth,
            document_kinds=settings.document_kinds,
            highlight_sentences=settings.highlight_sentences,
            link_base_url=self._link_base_url,
            corpus_dir=str(settings.corpus_dir.resolve()),
        )

    @property
    def reranker(self) -> Reranker | None:
        """The optional second stage (Settings.rerank), loaded on first use."""
        if not self.settings.rerank:
            return None
        embedder = self.embedder  # loads under the same lock
        with self._embedder_lock:
            if self._reranker is None:
                from qa_assistant.rerank import Reranker, StageWeights, UseEncoder

                self._reranker = Reranker(
                    self._second_stage_encoder or UseEncoder(),
                    embedder,
                    self.cache,
                    candidates=self.settings.rerank_candidates,
                    weights=StageWeights(
                        position=self.settings.rerank_position_weight,
                        sentence=self.settings.rerank_sentence_weight,
                        second=self.settings.rerank_weight,
                    ),
                )
            return self._reranker

    # ----- organisers -----------------------------------------------------------------------
    def add(
        self,
        paths: Iterable[Path],
        meta: DocumentMeta | None = None,
        progress: Progress = _no_progress,
    ) -> IngestReport:
        """Index files and folders (recursively); one report per file, never aborting the batch.

        Args:
            meta: metadata given by the organiser; its set fields override sessions.toml.
        """
        started = time.perf_counter()
        files, reports = self._expand(paths)
        manifests: dict[Path, CorpusManifest] = {}
        with self._writing():
            store = self._writable_store()
            for number, path in enumerate(files, start=1):
                progress(number - 1, len(files), f"reading {display_name(path.name)}")

                def file_progress(share: float, message: str, first: int = number - 1) -> None:
                    progress(first + min(max(share, 0.0), 1.0), len(files), message)

                try:
                    reports.append(self._add_file(store, path, meta, manifests, file_progress))
                except IngestError as exc:
                    reports.append(FileReport(self._source(path), "failed", error=exc.reason))
                    logger.info("%s", exc)
            store.flush()
            self._calibrate(store)
        progress(len(files), len(files), "done")
        return IngestReport(files=tuple(reports), seconds=time.perf_counter() - started)

    def add_documents(
        self, documents: Iterable[Document], progress: Progress = _no_progress
    ) -> IngestReport:
        """Index Documents built in memory (evaluation corpora); a document's source is its key.

        Passages are embedded in batches across documents, which is much faster than `add`
        for many small documents.
        """
        started = time.perf_counter()
        pending = list(documents)
        reports: list[FileReport] = []
        with self._writing():
            store = self._writable_store()
            existing = {info.source: info.doc_id for info in store.list_documents()}
            for first in range(0, len(pending), ADD_DOCUMENTS_BATCH):
                progress(first, len(pending), "embedding passages")
                batch = pending[first : first + ADD_DOCUMENTS_BATCH]
                split = [split_document(doc, self.settings.layout) for doc in batch]
                texts = [
                    self._embedding_text(doc, p)
                    for doc, passages in zip(batch, split, strict=True)
                    for p in passages
                ]
                vectors = embed_with_cache(self.embedder, self.cache, texts)
                offset = 0
                for doc, passages in zip(batch, split, strict=True):
                    meta = DocumentMeta(title=doc.title, session=doc.session, language=doc.language)
                    replaced = existing.get(doc.source)
                    store.write_document(
                        doc,
                        meta,
                        passages,
                        vectors[offset : offset + len(passages)],
                        replace_doc_id=replaced,
                    )
                    offset += len(passages)
                    self._prime(passages)
                    existing[doc.source] = doc.doc_id
                    status: FileStatus = "replaced" if replaced else "indexed"
                    reports.append(
                        FileReport(doc.source, status, doc.doc_id, doc.title, len(passages))
                    )
            store.flush()
            self._calibrate(store)
        progress(len(pending), len(pending), "done")
        return IngestReport(files=tuple(reports), seconds=time.perf_counter() - started)

    def _expand(self, paths: Iterable[Path]) -> tuple[list[Path], list[FileReport]]:
        files: list[Path] = []
        reports: list[FileReport] = []
        for path in paths:
            if path.is_dir():
                for child in sorted(path.rglob("*")):
                    relative = child.relative_to(path).parts
                    if child.is_dir() or any(part.startswith(".") for part in relative):
                        continue
                    if child.name == "sessions.toml":
                        continue
                    if is_supported(child):
                        files.append(child)
                    else:
                        reports.append(
                            FileReport(
                                self._source(child),
                                "skipped",
                                error=unsupported_reason(child.suffix.lower()),
                            )
                        )
            elif path.is_file():
                files.append(path)
            else:
                reports.append(
                    FileReport(display_name(path), "failed", error="no such file or folder")
                )
        return files, reports

    def _source(self, path: Path) -> str:
        """How a file is named in the index: relative to the corpus folder when inside it."""
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.settings.corpus_dir.resolve()).as_posix()
        except ValueError:
            return str(resolved)

    def _meta_for(
        self, path: Path, given: DocumentMeta | None, manifests: dict[Path, CorpusManifest]
    ) -> DocumentMeta:
        found = find_manifest(path)
        base = DocumentMeta()
        if found is not None:
            if found not in manifests:
                manifests[found] = load_manifest(found)
            base = manifests[found].meta_for(path) or DocumentMeta()
        if given is None:
            return base
        return DocumentMeta(
            title=given.title or base.title,
            session=given.session or base.session,
            language=given.language or base.language,
            recording_url=given.recording_url or base.recording_url,
        )

    def _add_file(
        self,
        store: Store,
        path: Path,
        given: DocumentMeta | None,
        manifests: dict[Path, CorpusManifest],
        progress: ReadProgress = no_read_progress,
    ) -> FileReport:
        source = self._source(path)
        try:
            meta = self._meta_for(path, given, manifests)
        except QAError as exc:
            raise IngestError(f"{display_name(source)}: {exc}") from exc
        existing = store.find_document(source)
        sha = file_sha256(path)
        if (
            existing is not None
            and existing.sha256 == sha
            and store.stored_meta(existing.doc_id) == meta
        ):
            return FileReport(
                source, "unchanged", existing.doc_id, existing.title, existing.passages
            )
        twin = store.find_by_sha(sha) if sha else None
        if twin is not None and twin.source != source:
            return FileReport(
                source,
                "skipped",
                twin.doc_id,
                twin.title,
                error=f"same content as {display_name(twin.source)}, already indexed",
            )
        doc = read_document(
            path,
            meta,
            source,
            int(self.settings.max_file_mb * 1_000_000),
            self.read_options(manifests.get(find_manifest(path) or path)),
            progress,
            sha256=sha or None,
        )
        passages = split_document(doc, self.settings.layout)
        vectors = embed_with_cache(
            self.embedder, self.cache, [self._embedding_text(doc, p) for p in passages]
        )
        store.write_document(
            doc, meta, passages, vectors, replace_doc_id=existing.doc_id if existing else None
        )
        self._prime(passages)
        logger.info("indexed %s: %d passages", display_name(source), len(passages))
        return FileReport(
            path=source,
            status="replaced" if existing else "indexed",
            doc_id=doc.doc_id,
            title=doc.title,
            passages=len(passages),
            pages=doc.page_count if doc.doc_format in PAGED_FORMATS else None,
            cues=doc.page_count if doc.kind == "transcript" else None,
            warnings=doc.warnings,
            notes=doc.notes,
            doc_format=doc.doc_format,
        )

    def read_options(self, manifest: CorpusManifest | None = None) -> ReadOptions:
        """What readers are told: the library's languages (sessions.toml's [series] wins over
        QA_LANGUAGES), OCR on or off, the time limit per file, the model cache."""
        languages = self.settings.languages
        if manifest is not None and manifest.series.languages:
            languages = manifest.series.languages
        return ReadOptions(
            languages=tuple(languages),
            cache_dir=self.settings.cache_dir,
            threads=self.settings.threads,
            ocr=self.settings.ocr,
            timeout_seconds=self.settings.read_timeout_s,
        )

    def _prime(self, passages: list[Passage]) -> None:
        """Embed what questions will read, now (into the cache), so answers need not do it.

        Highlighting and the second stage score every sentence of their passages against the
        question (e5; embedded once for both), and the second stage reads each passage's USE-m3
        vector. Doing that at question time dominated `ask` latency (docs/benchmarks.md).
        """
        reranker = self.reranker
        if self.settings.highlight_sentences > 0 or (reranker and reranker.reads_sentences):
            embed_with_cache(self.embedder, self.cache, sentence_texts(passages))
        if reranker is not None:
            reranker.prepare(passages)

    def _embedding_text(self, doc: Document, passage: Passage) -> str:
        if not self.settings.embed_context:
            return passage.text
        return embedding_text(doc.title, passage)

    def remove(self, key: str) -> DocumentInfo:
        """Remove a document (by id, id prefix or path) from every index."""
        with self._writing():
            store = self._current_store()
            document = self._find(store, key)
            store.delete_document(document.doc_id)
            store.flush()
            self._calibrate(store)
            return document

    def _find(self, store: Store, key: str) -> DocumentInfo:
        """The document a user names by id, id prefix or path."""
        document = store.find_document(key) or store.find_document(self._source(Path(key)))
        if document is None:
            raise DocumentNotFoundError(
                f"no document {display_name(key)!r} in the index; "
                "`qa-assistant list` shows ids and paths"
            )
        return document

    def list_documents(self) -> list[DocumentInfo]:
        """Every indexed document."""
        return self._current_store().list_documents()

    def rebuild(self, progress: Progress = _no_progress) -> RebuildReport:
        """Re-chunk and re-embed every stored document with the current settings.

        The new version is built beside the old one, which keeps answering until the swap.
        """
        started = time.perf_counter()
        with self._writing():
            old = self.location.open_current(any_format=True)
            documents = list(old.iter_documents())
            new = self.location.create(self._new_manifest())
            embedded = reused = total_passages = 0
            for number, (doc, meta) in enumerate(documents, start=1):
                progress(number - 1, len(documents), f"embedding {display_name(doc.source)}")
                passages = split_document(doc, self.settings.layout)
                texts = [self._embedding_text(doc, p) for p in passages]
                before = len(self.cache.get_many(self.embedder.name, [text_sha(t) for t in texts]))
                vectors = embed_with_cache(self.embedder, self.cache, texts)
                reused += before
                embedded += len(set(texts)) - before
                total_passages += len(passages)
                new.write_document(doc, meta, passages, vectors)
                self._prime(passages)
            new.flush()
            self._calibrate(new)
            new.make_current()
            self._store = new
            old.close()
        progress(len(documents), len(documents), "done")
        return RebuildReport(
            documents=len(documents),
            passages=total_passages,
            embedded=embedded,
            reused=reused,
            seconds=time.perf_counter() - started,
            model=self.embedder.name,
        )

    # ----- participants ---------------------------------------------------------------------
    def search(
        self, question: str, top_k: int | None = None, filters: SearchFilters | None = None
    ) -> list[Hit]:
        """The best passages for a question, ranked, with citations and highlights."""
        store = self._current_store()
        result = self._searcher(store).search(
            question, top_k or self.settings.top_k, filters or SearchFilters()
        )
        return list(result.hits)

    def ask(
        self, question: str, top_k: int | None = None, filters: SearchFilters | None = None
    ) -> Answer:
        """Answer with passages, or say that the materials do not cover the question."""
        question = question.strip()
        if not question:
            raise QAError("the question is empty: type a question")
        store = self._current_store()
        result = self._searcher(store).search(
            question, top_k or self.settings.top_k, filters or SearchFilters()
        )
        coverage = self._coverage(store, result)
        if coverage.covered:
            answer = Answer(question, True, result.hits, result.query_language, coverage=coverage)
        else:
            answer = Answer(
                question,
                False,
                (),
                result.query_language,
                suggestions=_sessions_of(result.hits),
                coverage=coverage,
            )
        if self.settings.log_questions:
            answer = replace(
                answer, ask_id=self.question_log.record(answer, filters or SearchFilters())
            )
        return answer

    @property
    def question_log(self) -> QuestionLog:
        """The organisers' log of questions and votes, beside the index (opened on first use)."""
        with self._embedder_lock:
            if self._question_log is None:
                self._question_log = QuestionLog(self.settings.index_dir / LOG_FILE)
            return self._question_log

    def vote(self, ask_id: str, rank: int, helpful: bool) -> None:
        """A participant's 👍 (helpful) or 👎 on the hit at `rank` of a logged answer."""
        self.question_log.vote(ask_id, rank, helpful)

    def question_summaries(self, session: str | None = None) -> list[QuestionSummary]:
        """What participants asked: unanswered and 👎 questions first, then the most asked."""
        return self.question_log.questions(session)

    def judged_questions(self) -> list[dict[str, Any]]:
        """Participants' 👍 votes as rows of a `qa-assistant eval questions` file."""
        return self.question_log.judged_rows()

    def _coverage(self, store: Store, result: SearchResult) -> Coverage:
        """Whether the library covers a question (`qa_assistant.abstention`): by the coverage
        model over the library's calibration, or by a fixed threshold when QA_MIN_SCORE is set
        or the embedding model has no coverage model."""
        model = model_for(self.model_name)
        has_hits = bool(result.hits)
        if self.settings.min_score is not None or model is None:
            return judge_fixed(result.best_score, has_hits, self.min_score)
        calibration = self._calibrator.current(
            store, self.model_name, lambda: self._meter(store), lambda: self.embedder, self.cache
        )
        return judge(result.evidence, has_hits, result.query_language, calibration, model)

    def _calibrate(self, store: Store) -> None:
        """Store the abstention calibration of the version just written (writers only).

        A failure is logged, not raised: the change is committed, and searchers compute the
        calibration themselves when none is stored.
        """
        if model_for(self.model_name) is None:
            return
        try:
            self._calibrator.refresh(
                store,
                self.model_name,
                lambda: self._meter(store),
                lambda: self.embedder,
                self.cache,
            )
        except QAError as exc:
            logger.warning("abstention calibration not stored (%s); searchers will compute it", exc)

    def calibration(self) -> Calibration | None:
        """The active index's abstention calibration (None: the model keeps a fixed threshold)."""
        if model_for(self.model_name) is None:
            return None
        store = self._current_store()
        return self._calibrator.current(
            store, self.model_name, lambda: self._meter(store), lambda: self.embedder, self.cache
        )

    @property
    def min_score(self) -> float:
        """The fixed best-cosine threshold: QA_MIN_SCORE, else the model's reference value.

        Abstention uses it when QA_MIN_SCORE is set or the embedding model has no coverage
        model (`abstention.COVERAGE_MODELS`); so does the UI's relevance scale then.
        """
        if self.settings.min_score is not None:
            return self.settings.min_score
        from qa_assistant.embedding import default_min_score

        return default_min_score(self.model_name)

    def series(self) -> Series:
        """What the corpus's sessions.toml says about the library (`[series]`)."""
        return corpus_series(self.settings.corpus_dir)

    def facets(self) -> Facets:
        """Filter values present in the index."""
        return self._current_store().facets()

    def document_passages(self, doc_id: str) -> list[Passage]:
        """All passages of a document (for display)."""
        return self._current_store().document_passages(doc_id)

    def consistency(self) -> tuple[int, int, int, int]:
        """(documents, passages, keyword rows, vectors) of the active index."""
        return self._current_store().counts()

    def document_file(self, doc_id: str) -> tuple[DocumentInfo, Path]:
        """An indexed document's original file, by exact id (what the UI serves).

        Raises:
            DocumentNotFoundError: no such document, or its file is gone from where it was added.
        """
        store = self._current_store()
        info = store.documents_by_id({doc_id}).get(doc_id)
        if info is None:
            raise DocumentNotFoundError(f"no document with id {display_name(doc_id)!r}")
        source = Path(info.source)
        path = source if source.is_absolute() else self.settings.corpus_dir / source
        if not path.is_file():
            raise DocumentNotFoundError(
                f"{display_name(info.source)} is indexed but no longer where it was added from; "
                "add it again or remove it"
            )
        return info, path

    def transcript_webvtt(self, key: str) -> tuple[DocumentInfo, str]:
        """A timed transcript (a transcribed recording or a caption file) as WebVTT.

        Args:
            key: document id, id prefix or path, as for `remove`.
        """
        info = self._find(self._current_store(), key)
        document = self.stored_document(info.doc_id)
        try:
            return info, to_webvtt(document) if document else ""
        except ValueError:
            raise QAError(
                f"{display_name(info.source)} has no times (a {info.doc_format} document): "
                "only recordings and caption files have a WebVTT transcript"
            ) from None

    def stored_document(self, doc_id: str) -> Document | None:
        """A stored document with its text and segments (for display), by exact id."""
        for doc, _ in self._current_store().iter_documents(doc_id):
            return doc
        return None


class _LazyEmbedder:
    """An Assistant's embedding model, loaded only when it must embed (a cache miss)."""

    def __init__(self, assistant: Assistant, dimension: int):
        self.name = assistant.model_name
        self.dimension = dimension
        self._assistant = assistant

    def embed_passages(self, texts: list[str]) -> NDArray[np.float32]:
        return self._assistant.embedder.embed_passages(texts)

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        return self._assistant.embedder.embed_queries(texts)


def _sessions_of(hits: Iterable[Hit]) -> tuple[Session, ...]:
    seen: dict[str, Session] = {}
    for hit in hits:
        session = hit.document.session
        if session is not None:
            seen.setdefault(session.session_id, session)
    return tuple(list(seen.values())[:SUGGESTED_SESSIONS])


def _sizes(layout: Layout) -> str:
    return (
        f"{layout.chars} chars (overlap {layout.overlap}), transcripts "
        f"{layout.transcript_chars} ({layout.transcript_overlap})"
    )
