"""Performance at scale, in one run: updates, search and memory at 10k, 100k and 1M passages,
and ingest throughput against a peer's baseline.

Scale part (`IndexStore` directly, the product's storage and search): passages of real text
(sentences of SciFact abstracts, joined into ~700-character passages) with SYNTHETIC vectors
(384-d, drawn around 2,000 random centres so that they cluster like embeddings; no model could
embed a million passages on these 2 cores in a session). At each size it measures:

- adding one 20-page report (60 passages) and removing it: the writer's time (SQLite
  transaction, vector log, in-memory index) and a reader's catch-up to the new generation;
  against the previous design, measured in the same run: every batch rewrote the whole FAISS
  file and every reader read it back (`faiss.write_index` + `faiss.read_index` of a flat index
  of that size);
- dense search (`vector_search`: exact below 100,000 passages, IVF with 8-bit codes re-scored
  by the stored vectors above) and word search (`keyword_search`, FTS5 BM25) p50/p95/p99 over
  200 questions; recall@10 of dense search against exact search;
- opening a reader (time, resident memory added per passage) and disk per passage.

Ingest part (real model): the product's `add_documents` on a mix of reports (20 reports of
10 SciFact abstracts) and transcripts (2 QMSum meetings), cold embedding
cache, per embedding backend; the peer baseline is `SentenceTransformer.encode` over every
passage plus a new `IndexFlatIP` after each document.

    .venv/bin/python benchmarks/perf.py                  # everything (about 30 min)
    .venv/bin/python benchmarks/perf.py --sizes 10000    # a quick look
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from support import DOCS_FILE, EVAL_DIR, RESULTS_DIR, SEED, machine, replace_section

from qa_assistant.index_store import IndexStore
from qa_assistant.keyword_index import keyword_terms
from qa_assistant.store import Manifest, WordQuery
from qa_assistant.types import Document, DocumentMeta, Passage, SearchFilters, Segment

logger = logging.getLogger("perf")

DIM = 384
SIZES = (10_000, 100_000, 1_000_000)
DOC_PASSAGES = 100  # passages per synthetic document while filling
REPORT_PASSAGES = 60  # a 20-page report: about three 700-character passages a page
QUERIES = 200
CENTRES = 2_000


# ----- data -------------------------------------------------------------------------------------
def sentences() -> list[str]:
    """Sentences of the SciFact abstracts: the real text the synthetic passages are made of."""
    found: list[str] = []
    with open(EVAL_DIR / "scifact" / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            found += [s for s in re.split(r"(?<=[.!?])\s+", text) if 40 < len(s) < 400]
    return found


class Synthetic:
    """Passages of real sentences with clustered synthetic vectors, reproducible."""

    def __init__(self, seed: int = SEED):
        self.rng = np.random.default_rng(seed)
        self.pool = sentences()
        centres = self.rng.normal(size=(CENTRES, DIM)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.count = 0

    def vectors(self, rows: int) -> np.ndarray:
        picked = self.centres[self.rng.integers(0, CENTRES, rows)]
        noise = self.rng.normal(size=(rows, DIM)).astype(np.float32) * 0.045
        out = picked + noise
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def text(self) -> str:
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < 650:
            parts.append(self.pool[int(self.rng.integers(0, len(self.pool)))])
        return " ".join(parts)

    def document(self, passages: int, kind: str = "report") -> tuple[Document, list[Passage]]:
        self.count += 1
        doc_id = f"synthetic-{self.count:07d}"
        texts = [self.text() for _ in range(passages)]
        body = "\n\n".join(texts)
        document = Document(
            doc_id=doc_id,
            source=f"{doc_id}.txt",
            sha256=f"{self.count:064d}",
            title=doc_id,
            kind=kind,  # type: ignore[arg-type]
            doc_format="txt",
            language="en",
            text=body,
            segments=(),
        )
        out, offset = [], 0
        for number, text in enumerate(texts):
            out.append(
                Passage(
                    passage_id=f"{doc_id}-{number}",
                    doc_id=doc_id,
                    text=text,
                    char_start=offset,
                    char_end=offset + len(text),
                    language="en",
                )
            )
            offset += len(text) + 2
        return document, out

    def question(self) -> str:
        words = keyword_terms(self.pool[int(self.rng.integers(0, len(self.pool)))])
        picked = self.rng.choice(len(words), size=min(len(words), 6), replace=False)
        return " ".join(words[i] for i in sorted(picked))


# ----- measuring --------------------------------------------------------------------------------
def percentiles(milliseconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(milliseconds)
    return {
        "p50": round(float(np.percentile(values, 50)), 2),
        "p95": round(float(np.percentile(values, 95)), 2),
        "p99": round(float(np.percentile(values, 99)), 2),
        "n": len(values),
    }


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def fill(store: IndexStore, data: Synthetic, target: int, matrix: list[np.ndarray]) -> None:
    """Add synthetic documents until the store holds `target` passages."""
    have = sum(len(m) for m in matrix)
    started, last = time.perf_counter(), time.perf_counter()
    while have < target:
        rows = min(DOC_PASSAGES, target - have)
        doc, passages = data.document(rows)
        vectors = data.vectors(rows)
        store.write_document(doc, DocumentMeta(), passages, vectors)
        matrix.append(vectors)
        have += rows
        if time.perf_counter() - last > 30:
            last = time.perf_counter()
            rate = have / (last - started)
            logger.info("  %d / %d passages (%.0f/s)", have, target, rate)
    store.flush()


OPEN_SCRIPT = """
import json, sys, time
import numpy as np
from qa_assistant.index_store import IndexStore
from qa_assistant.types import SearchFilters
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = rss()
started = time.perf_counter()
store = IndexStore.open_current(__import__("pathlib").Path(sys.argv[1]))
store.vector_search(np.ones(store.manifest.dimension, np.float32) / 20, 10, SearchFilters())
ms = (time.perf_counter() - started) * 1000
print(json.dumps({"open_ms": round(ms, 1), "rss_mb": round(rss() - before, 1)}))
"""


def open_in_new_process(root: Path) -> dict[str, float]:
    """A fresh process opens the index and answers one dense search: its time and the resident
    memory it added (so that no memory freed by earlier steps of this run is reused)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", OPEN_SCRIPT, str(root)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def add_and_flush(
    store: IndexStore, doc: Document, passages: list[Passage], vectors: np.ndarray
) -> None:
    store.write_document(doc, DocumentMeta(), passages, vectors)
    store.flush()


def report_cycles(
    store: IndexStore, reader: IndexStore | None, data: Synthetic, cycles: int = 5
) -> tuple[float, float, float, float]:
    """Median ms of: adding a 20-page report, removing it, and a reader catching up to each."""
    timings: list[list[float]] = [[], [], [], []]
    for _ in range(cycles):
        doc, passages = data.document(REPORT_PASSAGES)
        vectors = data.vectors(REPORT_PASSAGES)
        adding = (doc, passages, vectors)
        timings[0].append(timed(lambda a=adding: add_and_flush(store, *a))[0])  # type: ignore[misc]
        timings[2].append(timed(reader.refresh)[0] if reader else 0.0)
        timings[1].append(timed(lambda d=doc.doc_id: remove_and_flush(store, d))[0])  # type: ignore[misc]
        timings[3].append(timed(reader.refresh)[0] if reader else 0.0)
    add, remove, caught_add, caught_remove = (float(np.median(t)) for t in timings)
    return add, remove, caught_add, caught_remove


def remove_and_flush(store: IndexStore, doc_id: str) -> None:
    store.delete_document(doc_id)
    store.flush()


def previous_design_ms(vectors: np.ndarray, folder: Path) -> dict[str, float]:
    """What one change cost before: rewrite the whole flat FAISS file, and read it back."""
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    path = folder / "previous.faiss"
    write_ms, _ = timed(lambda: faiss.write_index(index, str(path)))
    read_ms, _ = timed(lambda: faiss.read_index(str(path)))
    path.unlink()
    return {"write_ms": round(write_ms, 1), "read_ms": round(read_ms, 1)}


def measure_size(
    root: Path, store: IndexStore, data: Synthetic, matrix: np.ndarray
) -> dict[str, Any]:
    size = len(matrix)
    folder = store.folder
    opened = open_in_new_process(root)
    reader = IndexStore.open_current(root)
    # A 20-page report added, then removed (writer), and a reader's catch-up: median of 5.
    add_ms, remove_ms, catch_up_add_ms, catch_up_remove_ms = report_cycles(store, reader, data)
    # Dense search: latency, and recall@10 against exact search over the same vectors.
    probe = data.rng.integers(0, size, QUERIES)
    queries = matrix[probe] + data.rng.normal(size=(QUERIES, DIM)).astype(np.float32) * 0.04
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ids_in_order = np.arange(1, size + 1, dtype=np.int64)  # row ids are insertion order
    dense_ms, recall = [], []
    for query in queries:
        ms, hits = timed(lambda q=query: reader.vector_search(q, 50, SearchFilters()))
        dense_ms.append(ms)
        truth = np.argsort(-(matrix @ query))[:10]
        recall.append(len({int(ids_in_order[i]) for i in truth} & {i for i, _ in hits[:10]}) / 10)
    words_ms = []
    for _ in range(QUERIES):
        terms = keyword_terms(data.question())
        if terms:
            words = WordQuery(tuple(terms))
            ms, _ = timed(lambda w=words: reader.keyword_search(w, 50, SearchFilters()))
            words_ms.append(ms)
    disk = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    result = {
        "passages": size,
        "index": "exact (flat)" if reader._vectors.exact else "IVF, 8-bit codes, re-scored",
        "add_report_ms": round(add_ms, 1),
        "remove_report_ms": round(remove_ms, 1),
        "reader_catch_up_add_ms": round(catch_up_add_ms, 1),
        "reader_catch_up_remove_ms": round(catch_up_remove_ms, 1),
        "previous_design": previous_design_ms(matrix, root),
        "dense_ms": percentiles(dense_ms),
        "dense_recall_at_10": round(float(np.mean(recall)), 4),
        "words_ms": percentiles(words_ms),
        "reader_open_ms": opened["open_ms"],
        "reader_rss_bytes_per_passage": round(opened["rss_mb"] * 1024 * 1024 / size, 1),
        "disk_bytes_per_passage": round(disk / size, 1),
    }
    reader.close()
    logger.info("%s", json.dumps(result))
    return result


def run_scale(sizes: Sequence[int]) -> list[dict[str, Any]]:
    data = Synthetic()
    results = []
    with tempfile.TemporaryDirectory(prefix="qa-perf-", dir=os.environ.get("QA_PERF_TMP")) as tmp:
        root = Path(tmp) / "index"
        store = IndexStore.create(root, Manifest("synthetic-384", DIM, 700, 150, 1200, 0))
        store.make_current()
        matrix: list[np.ndarray] = []
        ms, removed, _, _ = report_cycles(store, None, data)
        results.append(
            {"passages": 0, "add_report_ms": round(ms, 1), "remove_report_ms": round(removed, 1)}
        )
        for size in sorted(sizes):
            logger.info("filling to %d passages", size)
            started = time.perf_counter()
            fill(store, data, size, matrix)
            logger.info("  filled in %.0f s", time.perf_counter() - started)
            stacked = np.vstack(matrix)
            results.append(measure_size(root, store, data, stacked))
        store.close()
    return results


# ----- ingest -----------------------------------------------------------------------------------
def ingest_documents() -> list[Document]:
    """20 reports of 10 SciFact abstracts each and 2 QMSum meetings (real text)."""
    from qa_assistant.eval_data import load_beir
    from qa_assistant.eval_runner import beir_document

    folder = EVAL_DIR / "scifact"
    data = load_beir(folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv", "en")
    abstracts = [beir_document(d, "en") for d in data.documents][:200]
    reports = []
    for number in range(20):
        group = abstracts[number * 10 : number * 10 + 10]
        text, segments = "", []
        for page, abstract in enumerate(group, start=1):  # one abstract per page
            start = len(text) + (2 if text else 0)
            text = f"{text}\n\n{abstract.text}" if text else abstract.text
            segments.append(Segment(char_start=start, char_end=len(text), page=page))
        reports.append(
            Document(
                doc_id=f"report-{number}",
                source=f"report-{number}.txt",
                sha256=f"{number:064d}",
                title=f"Report {number}",
                kind="report",
                doc_format="txt",
                language="en",
                text=text,
                segments=tuple(segments),
                page_count=len(segments),
            )
        )
    sys.path.insert(0, str(Path(__file__).parent))
    import quality

    meetings, _ = quality.qmsum_data()
    return reports + list(meetings[:2])


def run_ingest(backends: Sequence[str]) -> dict[str, Any]:
    from qa_assistant.assistant import Assistant
    from qa_assistant.chunking import split_document
    from qa_assistant.config import Settings
    from qa_assistant.embedding import make_embedder

    documents = ingest_documents()
    rows: dict[str, Any] = {}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="qa-ingest-") as tmp:
            settings = Settings(index_dir=Path(tmp) / "index", embedding_backend=backend)
            embedder = make_embedder(settings)
            embedder.embed_queries(["warm up"])
            assistant = Assistant(settings, embedder=embedder)
            started = time.perf_counter()
            assistant.add_documents(documents)
            seconds = time.perf_counter() - started
            passages = assistant.consistency()[1]
            again = time.perf_counter()
            assistant.add_documents(documents)  # unchanged: skipped by content hash
            unchanged = time.perf_counter() - again
            rows[backend] = {
                "passages": passages,
                "seconds": round(seconds, 1),
                "passages_per_s": round(passages / seconds, 2),
                "re_add_unchanged_s": round(unchanged, 2),
            }
            logger.info("ingest %s: %s", backend, rows[backend])
    # The peer's way: encode every passage, a new flat index after each document.
    import faiss
    from sentence_transformers import SentenceTransformer

    from qa_assistant.e5_conversion import ensure_e5_model

    model = SentenceTransformer(str(ensure_e5_model(Settings().cache_dir)), device="cpu")
    layout = Settings().layout
    started = time.perf_counter()
    total, kept = 0, []
    for doc in documents:
        texts = ["passage: " + p.text for p in split_document(doc, layout)]
        if not texts:
            continue
        kept.append(model.encode(texts, normalize_embeddings=True, batch_size=16))
        total += len(texts)
        index = faiss.IndexFlatIP(DIM)
        index.add(np.vstack(kept).astype(np.float32))
    seconds = time.perf_counter() - started
    rows["peer baseline"] = {
        "passages": total,
        "seconds": round(seconds, 1),
        "passages_per_s": round(total / seconds, 2),
    }
    logger.info("ingest peer: %s", rows["peer baseline"])
    return rows


# ----- the whole ask at scale, and re-adding an unchanged corpus --------------------------------
ASK_QUESTIONS = 40


def real_questions() -> list[str]:
    """Demo questions (en/fr/es/ar) and XQuAD English questions: what participants ask."""
    from support import DEMO_QUESTIONS

    demo = [json.loads(line)["question"] for line in DEMO_QUESTIONS.read_text().splitlines()]
    xquad = [
        json.loads(line)["text"]
        for line in (EVAL_DIR / "xquad" / "en" / "queries.jsonl").read_text().splitlines()[:40]
    ]
    return (demo + xquad)[:ASK_QUESTIONS]


def run_ask(size: int) -> dict[str, Any]:
    """`Assistant.ask` as the app runs it (default settings: int8 e5, second stage, highlights,
    abstention) over `size` passages of real text with synthetic vectors: the first pass embeds
    the candidates' sentences (cold cache), the second reads them (as after ingest)."""
    from qa_assistant.assistant import Assistant
    from qa_assistant.config import Settings
    from qa_assistant.embedding import embedder_name

    data = Synthetic()
    with tempfile.TemporaryDirectory(prefix="qa-ask-", dir=os.environ.get("QA_PERF_TMP")) as tmp:
        settings = Settings(index_dir=Path(tmp) / "index")
        manifest = Manifest(
            embedder_name(settings),
            DIM,
            settings.chunk_chars,
            settings.chunk_overlap,
            settings.transcript_chunk_chars,
            settings.transcript_chunk_overlap,
        )
        store = IndexStore.create(settings.index_dir, manifest)
        store.make_current()
        started = time.perf_counter()
        fill(store, data, size, [])
        fill_s = time.perf_counter() - started
        store.close()
        assistant = Assistant(settings)
        assistant.warm_up()
        questions = real_questions()
        calibration_ms, _ = timed(lambda: assistant.ask(questions[0]))
        passes = []
        for _ in range(2):
            passes.append([timed(lambda q=q: assistant.ask(q))[0] for q in questions])
    return {
        "passages": size,
        "fill_s": round(fill_s, 1),
        "first_ask_ms_with_calibration": round(calibration_ms, 1),
        "ask_cold_sentences_ms": percentiles(passes[0]),
        "ask_warm_ms": percentiles(passes[1]),
        "questions": len(questions),
    }


def run_readd(count: int) -> dict[str, Any]:
    """Add `count` one-abstract Markdown files with the default model, then add them again
    (unchanged: skipped by content hash)."""
    from qa_assistant.assistant import Assistant
    from qa_assistant.config import Settings

    with open(EVAL_DIR / "scifact" / "corpus.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(count), handle, strict=False)]
    with tempfile.TemporaryDirectory(prefix="qa-readd-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for number, row in enumerate(rows):
            (corpus / f"abstract_{number:04d}.md").write_text(
                f"# {row['title']}\n\n{row['text']}\n", encoding="utf-8"
            )
        settings = Settings(index_dir=Path(tmp) / "index", corpus_dir=corpus)
        assistant = Assistant(settings)
        first_ms, report = timed(lambda: assistant.add([corpus]))
        again_ms, again = timed(lambda: assistant.add([corpus]))
    return {
        "documents": count,
        "passages": sum(f.passages or 0 for f in report.files),
        "first_add_s": round(first_ms / 1000, 1),
        "re_add_unchanged_s": round(again_ms / 1000, 2),
        "unchanged": again.count("unchanged"),
    }


def ask_markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    lines = [
        "## The whole `ask` at scale (`benchmarks/perf.py --ask`)",
        "",
        f"Run {info['date']} on {info['cores']} cores ({info['cpu']}); "
        "`benchmarks/results/perf-ask.json`. `Assistant.ask` with the default settings (int8 "
        "e5, word search, fusion, neighbours, the second stage with USE-m3, highlights, the "
        f"abstention model) over real text with SYNTHETIC vectors; {ASK_QUESTIONS} real "
        "questions (demo and XQuAD), asked twice: the first pass embeds the candidates' "
        "sentences (at ingest they would be), the second reads them.",
        "",
        "| passages | first ask (computes the calibration) | ask, cold sentences p50/p95/p99 |"
        " ask p50/p95/p99 |",
        "|---|---|---|---|",
    ]
    for row in results.get("ask", []):
        cold, warm = row["ask_cold_sentences_ms"], row["ask_warm_ms"]
        lines.append(
            f"| {row['passages']:,} | {row['first_ask_ms_with_calibration'] / 1000:.1f} s |"
            f" {cold['p50']}/{cold['p95']}/{cold['p99']} ms |"
            f" {warm['p50']}/{warm['p95']}/{warm['p99']} ms |"
        )
    if results.get("readd"):
        r = results["readd"]
        lines += [
            "",
            f"Re-adding an unchanged corpus: {r['documents']:,} Markdown files "
            f"({r['passages']:,} passages; first add {r['first_add_s']} s with the default model),"
            f" added again: {r['re_add_unchanged_s']} s ({r['unchanged']:,} unchanged).",
        ]
    return "\n".join(lines) + "\n"


# ----- report -----------------------------------------------------------------------------------
def markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    if "scale" not in results:  # `--sizes ''`: the ingest part alone
        lines = [
            "## Ingest per embedding backend (`benchmarks/perf.py --sizes ''`)",
            "",
            f"Run {info['date']} on {info['cores']} cores ({info['cpu']}); "
            "`benchmarks/results/perf-ingest.json`.",
        ]
        return _ingest_lines(results, lines)
    lines = [
        "## Performance at scale (`benchmarks/perf.py`)",
        "",
        f"Run {info['date']} on {info['cores']} cores ({info['cpu']}); every number from this "
        "run (`benchmarks/results/perf.json`). Scale rows: real text (SciFact sentences joined "
        "into ~700-character passages), SYNTHETIC clustered 384-d vectors; measured on the "
        "product's index store. 'Previous design' is what each batch of changes cost before: "
        "rewrite the whole flat FAISS file, and every reader read it back.",
        "",
        "| passages | index | add a 20-page report, ms (median of 5) | remove it, ms |"
        " reader catch-up, ms |"
        " previous design: write + read, ms | dense p50/p95/p99 ms | dense recall@10 |"
        " words p50/p95/p99 ms | reader open, ms | RAM B/passage | disk B/passage |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results.get("scale", []):
        if not row["passages"]:
            lines.append(f"| 0 | – | {row['add_report_ms']} | – | – | – | – | – | – | – | – | – |")
            continue
        d, w, prev = row["dense_ms"], row["words_ms"], row["previous_design"]
        lines.append(
            f"| {row['passages']:,} | {row['index']} | {row['add_report_ms']} |"
            f" {row['remove_report_ms']} | {row['reader_catch_up_add_ms']} |"
            f" {prev['write_ms']} + {prev['read_ms']} | {d['p50']}/{d['p95']}/{d['p99']} |"
            f" {row['dense_recall_at_10']} | {w['p50']}/{w['p95']}/{w['p99']} |"
            f" {row['reader_open_ms']} | {row['reader_rss_bytes_per_passage']:.0f} |"
            f" {row['disk_bytes_per_passage']:.0f} |"
        )
    return _ingest_lines(results, lines)


def _ingest_lines(results: dict[str, Any], lines: list[str]) -> str:
    if results.get("ingest"):
        lines += [
            "",
            "Ingest (real model, cold embedding cache, 20 ten-abstract reports + 2 meetings; the "
            "product also embeds every sentence for highlights and each passage with USE-m3):",
            "",
            "| backend | passages | seconds | passages/s | × peer | re-add unchanged, s |",
            "|---|---|---|---|---|---|",
        ]
        peer = results["ingest"]["peer baseline"]["passages_per_s"]
        for name, row in results["ingest"].items():
            lines.append(
                f"| {name} | {row['passages']} | {row['seconds']} | {row['passages_per_s']} |"
                f" {row['passages_per_s'] / peer:.2f} | {row.get('re_add_unchanged_s', '–')} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--backends", default="torch,onnx-int8")
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--ask",
        metavar="SIZES",
        help="Only the whole ask at these sizes (e.g. 100000) and re-adding 1,000 files.",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    random.seed(SEED)
    if args.ask:
        asked: dict[str, Any] = {"machine": machine()}
        asked["ask"] = [run_ask(int(size)) for size in args.ask.split(",")]
        asked["readd"] = run_readd(1000)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / "perf-ask.json").write_text(json.dumps(asked, indent=1), encoding="utf-8")
        replace_section(DOCS_FILE, "perf-ask", ask_markdown(asked))
        print(ask_markdown(asked))
        return 0
    results: dict[str, Any] = {"machine": machine()}
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes:
        results["scale"] = run_scale(sizes)
    if not args.no_ingest:
        results["ingest"] = run_ingest([b for b in args.backends.split(",") if b])
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        name = "perf" if sizes else "perf-ingest"
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        replace_section(DOCS_FILE, name, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
