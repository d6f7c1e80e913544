"""The two stores side by side: the index folder (SQLite + FAISS) and Milvus (milvus-lite,
the embedded engine), at 10k and 100k passages, in one run.

Passages of real text (SciFact sentences) with synthetic clustered vectors, as in perf.py (no
model could embed 100,000 passages twice here). Per store and size, each in its own process
(so that peak memory is the store's):

- ingest: passages written per second through `Store.write_document` (documents of 100
  passages; the embedding, the same for both, is perf.py's subject), then `flush`;
- dense search p50/p95 (`vector_search`, 50 candidates) and recall@10 against exact search;
- word search p50/p95 (`keyword_search`, 6 content words of a real sentence);
- the search pipeline p50/p95 (`search.Searcher`: dense + word search, fusion, neighbours,
  passages, documents, citations, abstention's evidence; question vectors given, second stage
  off: synthetic passages have no sentence vectors);
- peak resident memory of the process and disk.

    .venv/bin/python benchmarks/stores.py                 # both stores, 10k and 100k
    .venv/bin/python benchmarks/stores.py --sizes 10000
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from perf import DOC_PASSAGES, Synthetic, percentiles, timed
from support import DOCS_FILE, RESULTS_DIR, machine, replace_section

from qa_assistant.assistant import open_location
from qa_assistant.config import Settings
from qa_assistant.keyword_index import keyword_terms
from qa_assistant.search import Searcher, SearchOptions
from qa_assistant.store import Manifest, WordQuery
from qa_assistant.types import DocumentMeta, SearchFilters

logger = logging.getLogger("stores")
STORES = ("folder", "milvus-lite")
SIZES = (10_000, 100_000)
QUERIES = 100
DIM = 384


class GivenVectors:
    """An Embedder whose question vectors are given in advance (no model)."""

    name = "synthetic"
    dimension = DIM

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self.vectors.get(t, np.zeros(DIM, np.float32)) for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        out[:, 0] = 1.0
        return out


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(kind: str, size: int) -> dict[str, Any]:
    """One store at one size (run in a process of its own)."""
    data = Synthetic()
    with tempfile.TemporaryDirectory(prefix="qa-stores-") as tmp:
        root = Path(tmp)
        spec = f"milvus-lite://{root / 'milvus.db'}" if kind == "milvus-lite" else ""
        settings = Settings(store=spec, index_dir=root / "index", model="synthetic")
        location = open_location(settings)
        store = location.create(Manifest("synthetic", DIM, 700, 150))
        store.make_current()
        matrix, names = [], []
        started = time.perf_counter()
        while len(names) < size:
            rows = min(DOC_PASSAGES, size - len(names))
            doc, passages = data.document(rows, kind="transcript")
            vectors = data.vectors(rows)
            store.write_document(doc, DocumentMeta(), passages, vectors)
            matrix.append(vectors)
            names += [p.passage_id for p in passages]
        write_s = time.perf_counter() - started
        flush_ms, _ = timed(store.flush)
        store.refresh()
        ingest_s = write_s + flush_ms / 1000
        logger.info("%s %d: %.0f passages/s", kind, size, size / ingest_s)
        vectors = np.vstack(matrix)
        probe = data.rng.integers(0, size, QUERIES)
        queries = vectors[probe] + data.rng.normal(size=(QUERIES, DIM)).astype(np.float32) * 0.04
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        dense_ms, recall = [], []
        for query in queries:
            ms, hits = timed(lambda q=query: store.vector_search(q, 50, SearchFilters()))
            dense_ms.append(ms)
            found = store.passages([i for i, _ in hits[:10]])
            got = {found[i].passage_id for i, _ in hits[:10] if i in found}
            truth = {names[j] for j in np.argsort(-(vectors @ query))[:10]}
            recall.append(len(got & truth) / 10)
        questions = [data.question() for _ in range(QUERIES)]
        words_ms = []
        for question in questions:
            words = WordQuery(tuple(keyword_terms(question)))
            ms, _ = timed(lambda w=words: store.keyword_search(w, 50, SearchFilters()))
            words_ms.append(ms)
        embedder = GivenVectors()
        for question, query in zip(questions, queries, strict=True):
            embedder.vectors[question] = query
        searcher = Searcher(store, embedder, location.cache(), SearchOptions(highlight_sentences=0))
        pipeline_ms = []
        for question in questions:
            ms, _ = timed(lambda q=question: searcher.search(q, 5, SearchFilters()))
            pipeline_ms.append(ms)
        disk = folder_size(root)
    return {
        "store": kind,
        "passages": size,
        "ingest_passages_per_s": round(size / ingest_s, 1),
        "flush_s": round(flush_ms / 1000, 2),
        "dense_ms": percentiles(dense_ms),
        "dense_recall_at_10": round(float(np.mean(recall)), 4),
        "words_ms": percentiles(words_ms),
        "pipeline_ms": percentiles(pipeline_ms),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_bytes_per_passage": round(disk / size),
    }


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        f"### Stores side by side ({results['machine']['date']}, {results['machine']['cpu']}, "
        f"{results['machine']['cores']} cores)",
        "",
        "Real text, synthetic clustered vectors (384-d); each store and size in its own process."
        " Ratios: milvus-lite against the index folder at the same size.",
        "",
        "| store | passages | ingest (passages/s) | dense p50 / p95 | recall@10 | words p50 / p95 "
        "| pipeline p50 / p95 | peak RSS | disk / passage |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base = {r["passages"]: r for r in rows if r["store"] == "folder"}
    for r in rows:
        ref = base.get(r["passages"])

        def ratio(value: float, reference: float | None, kind: str = r["store"]) -> str:
            if kind == "folder" or not reference:
                return ""
            return f" ({value / reference:.1f}×)"

        ingest = r["ingest_passages_per_s"]
        pipeline = r["pipeline_ms"]["p95"]
        lines.append(
            f"| {r['store']} | {r['passages']:,} | {ingest:,.0f}"
            f"{ratio(ingest, ref['ingest_passages_per_s'] if ref else None)} "
            f"| {r['dense_ms']['p50']} / {r['dense_ms']['p95']} ms | {r['dense_recall_at_10']} "
            f"| {r['words_ms']['p50']} / {r['words_ms']['p95']} ms "
            f"| {r['pipeline_ms']['p50']} / {pipeline} ms"
            f"{ratio(pipeline, ref['pipeline_ms']['p95'] if ref else None)} "
            f"| {r['peak_rss_mb']:,.0f} MB | {r['disk_bytes_per_passage'] / 1024:.1f} KB |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--one", nargs=2, metavar=("STORE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return 0
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        for kind in args.stores.split(","):
            logger.info("%s at %d passages", kind, size)
            done = subprocess.run(
                [sys.executable, __file__, "--one", kind, str(size)],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            logger.info("%s", rows[-1])
    results = {"machine": machine(), "queries": QUERIES, "rows": rows}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "stores.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    replace_section(DOCS_FILE, "stores", markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
