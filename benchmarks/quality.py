"""Retrieval quality, side by side in one run: peer baselines against the product pipeline.

Systems: BM25 (bm25s, default tokenizer + English stopwords, whole documents), all-MiniLM-L6-v2
+ FAISS flat (whole documents), multilingual-e5-small dense alone, naive RRF(BM25, e5), the other
candidate models of ../shared/MODELS.md dense alone (USE-m3, all-mpnet-base-v2, the static 64-d
model), the product (`Assistant.search`: e5, FTS5 word search re-ordering the passages in
the question's language in place, a second stage scoring each candidate's best sentence and,
for passages in other languages, USE-m3) with variants of each stage.

Sets: SciFact (BEIR test), XQuAD cross-lingual pairs, QMSum val span retrieval, the demo
questions (with an abstention calibration). Results go to benchmarks/results/quality.json and
docs/benchmarks.md.

Embeddings are cached in benchmarks/.cache/. The first phase embeds everything that is not
cached yet; with `--budget-minutes N` it stops after N minutes (rerun to continue), so that no
single run hogs the shared machine. The second phase evaluates, and runs only on a full cache.

    .venv/bin/python benchmarks/quality.py --budget-minutes 20    # repeat until complete
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from support import (
    CACHE_DIR,
    CORPUS,
    DEMO_QUESTIONS,
    DEPTH,
    DOCS_FILE,
    EVAL_DIR,
    MAX_FILE_BYTES,
    RESULTS_DIR,
    SEED,
    CachedEmbedder,
    LanguageMemo,
    Row,
    VectorCache,
    bm25_rankings,
    collapse,
    demo_documents,
    dense_rankings,
    embedders,
    machine,
    replace_section,
    row,
    row_dict,
    rrf,
)

from qa_assistant.assistant import Assistant
from qa_assistant.chunking import Layout, embedding_text, split_document
from qa_assistant.config import Settings
from qa_assistant.eval_data import load_beir, load_questions, load_spans
from qa_assistant.eval_runner import (
    beir_document,
    meeting_passages,
    question_key,
    span_grades,
)
from qa_assistant.evaluation import (
    GOLD_KEY,
    BeirQuery,
    JudgedQuestion,
    QueryOutcome,
    SpanQuery,
    matches_location,
    overlaps_span,
    summarize,
)
from qa_assistant.ingest import read_document
from qa_assistant.types import Document, DocumentMeta, Hit, Passage

logger = logging.getLogger("benchmarks")

XQUAD_PAIRS = (
    ("es", "en"),
    ("ar", "en"),
    ("de", "en"),
    ("en", "es"),
    ("ar", "es"),
    ("en", "en"),
    ("es", "es"),
    ("ar", "ar"),
)
XQUAD_QUERIES = 1190
DEFAULT_NAME = "product hybrid (default)"
PREVIOUS_NAME = "product, previous default"
BASELINES = (
    "BM25",
    "BM25 + English stemmer",
    "MiniLM-L6 dense",
    "e5-small dense",
    "USE-m3 dense",
    "mpnet-base dense",
    "static-64 dense",
)
TOP_K = 30  # passages fetched from the product per query
STEM_LANGUAGES = ("en", "es", "fr", "ar", "de")
# The search settings of the default before the ranking levers below existed (for the
# before/after rows of one run).
PREVIOUS_DEFAULT: dict[str, Any] = {
    "fusion": "rrf",
    "word_weight": 0.5,
    "stem_languages": (),
    "feedback_weight": 0.0,
    "document_weight": 0.0,
    "neighbour_kinds": ("transcript",),
}
# Ranking levers, each applied alone on top of the default (second stage on).
LEVERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("Snowball stems (every language)", {"stem_languages": STEM_LANGUAGES}),
    ("no stems", {"stem_languages": ()}),
    ("convex fusion 0.3", {"fusion": "convex", "convex_weight": 0.3}),
    ("convex fusion 0.5", {"fusion": "convex", "convex_weight": 0.5}),
    ("dense feedback 0.3", {"feedback_weight": 0.3}),
    ("dense feedback 0.6", {"feedback_weight": 0.6}),
    ("document prior 0.5", {"document_weight": 0.5}),
    ("document prior 1.0", {"document_weight": 1.0}),
    ("document prior 2.0", {"document_weight": 2.0}),
    ("no document prior", {"document_weight": 0.0}),
    ("reports read with neighbours", {"neighbour_kinds": ("transcript", "report")}),
)
DEFAULT_CHUNK = (700, 150)  # reports (chunk_chars, chunk_overlap)
DEFAULT_TRANSCRIPT = (1200, 0)  # transcripts; passages cross speaker turns
WINDOW_WORDS = 200
THRESHOLDS = tuple(round(0.76 + 0.01 * i, 2) for i in range(12))

Models = dict[str, CachedEmbedder]
# `--backends`: the product's default row alone (no baselines, no levers), once per e5 backend.
PRODUCT_ONLY = False


def _mpnet_installed() -> bool:
    """all-mpnet-base-v2 is optional (`make mpnet`); its rows are left out without it."""
    from qa_assistant.errors import ModelError
    from qa_assistant.mpnet_parts import part_paths

    try:
        part_paths()
    except ModelError:
        return False
    return True


MODELS_AVAILABLE = {"e5", "minilm", "use", "static"} | ({"mpnet"} if _mpnet_installed() else set())


# ----- product helpers --------------------------------------------------------------------------
@contextmanager
def product(models: Models, corpus_dir: Path = CORPUS, **overrides: Any) -> Iterator[Assistant]:
    """The product Assistant (e5 from the disk cache) over a fresh temporary index."""
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as folder:
        settings = Settings(
            index_dir=Path(folder) / "index",
            corpus_dir=corpus_dir,
            highlight_sentences=0,
            **overrides,
        )
        yield Assistant(settings, embedder=models["e5"], second_stage_encoder=models["use"])


def variant(assistant: Assistant, **overrides: Any) -> Assistant:
    """Another Assistant on the same index with other search settings."""
    return Assistant(
        assistant.settings.model_copy(update=overrides),
        embedder=assistant.embedder,
        second_stage_encoder=assistant._second_stage_encoder,
    )


def search_all(
    assistant: Assistant, texts: Sequence[str], top_k: int = TOP_K
) -> tuple[list[list[Hit]], float]:
    """Hits per query and the mean milliseconds per query."""
    started = time.perf_counter()
    hits = [assistant.search(text, top_k) for text in texts]
    return hits, (time.perf_counter() - started) * 1000 / max(1, len(texts))


def add_ratios(rows: list[Row]) -> list[dict[str, Any]]:
    """Rows as dicts with nDCG@10 and recall@5 ratios against BM25 and MiniLM of the same set."""
    base = {r.system: r for r in rows}
    bm25, minilm = base.get("BM25"), base.get("MiniLM-L6 dense")
    out = []
    for item in rows:
        record = row_dict(item)
        for name, ref in (("bm25", bm25), ("minilm", minilm)):
            for metric in ("ndcg_at_10", "recall_at_5"):
                value = getattr(ref, metric) if ref else 0.0
                mine = getattr(item, metric)
                record[f"{metric}_x_{name}"] = round(mine / value, 3) if value else None
        out.append(record)
    return out


# ----- embedding phase --------------------------------------------------------------------------
class Budget:
    """Stops the embedding phase after a number of minutes."""

    def __init__(self, minutes: float | None):
        self.deadline = None if minutes is None else time.monotonic() + minutes * 60

    def exceeded(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


def prewarm(model: CachedEmbedder, role: str, texts: Sequence[str], budget: Budget) -> bool:
    """Embed `texts` into the cache in slices; False when the budget ran out first."""
    unique = list(dict.fromkeys(texts))
    for first in range(0, len(unique), 512):
        if budget.exceeded():
            return False
        chunk = unique[first : first + 512]
        if role == "query":
            model.embed_queries(chunk)
        else:
            model.embed_passages(chunk)
    return True


# ----- data -------------------------------------------------------------------------------------
@dataclasses.dataclass
class Units:
    """Retrieval units of a baseline: texts and the key each one maps to for a query."""

    texts: list[str]
    labels: list[Any]
    e5_texts: list[str] | None = None  # what the product embeds (context line + text)


def layout(
    chunk: tuple[int, int] = DEFAULT_CHUNK, transcript: tuple[int, int] = DEFAULT_TRANSCRIPT
) -> Layout:
    return Layout(*chunk, *transcript)


def passages_of(
    documents: Sequence[Document],
    chunk: tuple[int, int] = DEFAULT_CHUNK,
    transcript: tuple[int, int] = DEFAULT_TRANSCRIPT,
) -> list[Passage]:
    return [p for doc in documents for p in split_document(doc, layout(chunk, transcript))]


def e5_texts(
    documents: Sequence[Document],
    chunk: tuple[int, int] = DEFAULT_CHUNK,
    context: bool | None = None,
    transcript: tuple[int, int] = DEFAULT_TRANSCRIPT,
) -> list[str]:
    """The texts the product embeds for these documents (its own `embedding_text`)."""
    if context is None:
        context = Settings().embed_context
    return [
        embedding_text(doc.title, p) if context else p.text
        for doc in documents
        for p in split_document(doc, layout(chunk, transcript))
    ]


def scifact_data() -> tuple[list[Document], list[BeirQuery]]:
    folder = EVAL_DIR / "scifact"
    data = load_beir(folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv", "en")
    return [beir_document(d, "en") for d in data.documents], list(data.queries)


def _rows(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def xquad_ids(count: int) -> set[str] | None:
    """A fixed seeded subset of XQuAD query ids (None = all)."""
    if count >= XQUAD_QUERIES:
        return None
    ids = [row["id"] for row in _rows(EVAL_DIR / "xquad" / "en" / "queries.jsonl")]
    return set(random.Random(SEED).sample(sorted(ids), count))


def xquad_data(
    query_language: str, corpus_language: str, subset: set[str] | None
) -> tuple[list[Document], list[BeirQuery]]:
    folder = EVAL_DIR / "xquad"
    data = load_beir(
        folder / corpus_language / "corpus.jsonl",
        folder / query_language / "queries.jsonl",
        folder / "qrels.tsv",
        query_language,
    )
    queries = [q for q in data.queries if subset is None or q.query_id in subset]
    return [beir_document(d, corpus_language) for d in data.documents], queries


def qmsum_data() -> tuple[list[Document], list[SpanQuery]]:
    folder = EVAL_DIR / "qmsum"
    data = load_spans(folder / "span_targets.jsonl", folder / "transcripts", "val")
    documents = [
        read_document(path, DocumentMeta(language="en"), path.name, MAX_FILE_BYTES)
        for path in sorted(data.docs_dir.glob("*.txt"))
    ]
    return documents, list(data.queries)


def word_windows(doc: Document, words: int = WINDOW_WORDS) -> list[tuple[int, int]]:
    """Non-overlapping windows of `words` whitespace-separated words: (start, end) offsets."""
    spans = [m.span() for m in re.finditer(r"\S+", doc.text)]
    return [
        (spans[i][0], spans[min(i + words, len(spans)) - 1][1]) for i in range(0, len(spans), words)
    ]


# ----- generic evaluation of baselines ----------------------------------------------------------
# Dense retrievers over the product's passages: e5 (the default), then the other candidate
# models of ../shared/MODELS.md. All but USE-m3 read the texts the product embeds (context line +
# passage), as they would if configured as QA_MODEL; USE-m3 reads the passage alone, as the
# second stage does.
DENSE_ON_PASSAGES = (
    ("e5", "e5-small dense"),
    ("use", "USE-m3 dense"),
    ("mpnet", "mpnet-base dense"),
    ("static", "static-64 dense"),
)


def candidate_steps(queries: list[str], texts: list[str]) -> list[tuple[str, str, list[str]]]:
    """Prewarm steps of the candidate models beyond e5, MiniLM and USE-m3."""
    if PRODUCT_ONLY:
        return []
    return [
        (m, role, t)
        for m in ("mpnet", "static")
        if m in MODELS_AVAILABLE
        for role, t in (("query", queries), ("passage", texts))
    ]


def baseline_rows(
    models: Models,
    units: Units,
    whole: Units,
    queries: Sequence[str],
    outcome: Callable[[int, Sequence[Any]], QueryOutcome],
    bm25_on_units: bool = False,
) -> tuple[list[Row], dict[str, list[list[Any]]]]:
    """BM25 and MiniLM on `whole` units, e5 / RRF / USE-m3 on `units` (product passages).

    With `bm25_on_units`, BM25 also runs on `units` and that ranking is the one fused with e5.

    `outcome(query_index, labels)` turns a ranked list of unit labels into a QueryOutcome.
    """
    rows: list[Row] = []
    rankings: dict[str, list[list[Any]]] = {}
    if PRODUCT_ONLY:
        return rows, rankings

    def finish(name: str, ranked: list[list[Any]], started: float, note: str = "") -> None:
        rankings[name] = ranked
        outcomes = [outcome(i, labels) for i, labels in enumerate(ranked)]
        rows.append(row(name, outcomes, time.perf_counter() - started, note=note))

    started = time.perf_counter()
    ranked = bm25_rankings(whole.texts, queries)
    finish("BM25", [[whole.labels[i] for i in r] for r in ranked], started)

    import Stemmer

    started = time.perf_counter()
    ranked = bm25_rankings(whole.texts, queries, stemmer=Stemmer.Stemmer("english"))
    finish("BM25 + English stemmer", [[whole.labels[i] for i in r] for r in ranked], started)

    for key, name in (("minilm", "MiniLM-L6 dense"),):
        started = time.perf_counter()
        vectors = models[key].embed_passages(whole.texts)
        ranked = dense_rankings(vectors, models[key].embed_queries(list(queries)))
        finish(name, [[whole.labels[i] for i in r] for r in ranked], started)

    for key, name in DENSE_ON_PASSAGES:
        if key not in MODELS_AVAILABLE:
            continue
        started = time.perf_counter()
        texts = units.e5_texts if key != "use" and units.e5_texts else units.texts
        vectors = models[key].embed_passages(texts)
        ranked = dense_rankings(vectors, models[key].embed_queries(list(queries)), DEPTH * 3)
        finish(name, [[units.labels[i] for i in r] for r in ranked], started)

    started = time.perf_counter()
    keyword = rankings["BM25"]
    if bm25_on_units:
        ranked = bm25_rankings(units.texts, queries)
        finish("BM25 (product passages)", [[units.labels[i] for i in r] for r in ranked], started)
        keyword = rankings["BM25 (product passages)"]
        started = time.perf_counter()
    # Both sides collapsed to distinct labels: a document with three passages votes once.
    fused = [
        rrf([[str(x) for x in collapse(bm25)], [str(x) for x in collapse(dense)]], [1.0, 1.0])
        for bm25, dense in zip(keyword, rankings["e5-small dense"], strict=True)
    ]
    label_of = {str(label): label for label in [*whole.labels, *units.labels]}
    finish("RRF(BM25, e5) naive", [[label_of[k] for k in r] for r in fused], started)
    return rows, rankings


def product_rows(
    assistant: Assistant,
    queries: Sequence[str],
    keys: Callable[[int, Sequence[Hit]], QueryOutcome],
    index_seconds: float = 0.0,
) -> list[Row]:
    """The product's default, its previous default, its stages and each ranking lever, all
    on one index (every row runs the full search, second stage included unless named)."""
    rows: list[Row] = []

    def measure(label: str, searcher: Assistant, note: str = "") -> None:
        started = time.perf_counter()
        found, ms = search_all(searcher, queries)
        outcomes = [keys(i, h) for i, h in enumerate(found)]
        rows.append(row(label, outcomes, time.perf_counter() - started, ms, note))

    measure(DEFAULT_NAME, assistant, f"index {index_seconds:.0f} s" if index_seconds else "")
    if PRODUCT_ONLY:
        return rows
    measure(PREVIOUS_NAME, variant(assistant, **PREVIOUS_DEFAULT))
    measure("product, first stage only", variant(assistant, rerank=False))
    measure("product, dense only (e5 passages)", variant(assistant, rerank=False, word_weight=0))
    for label, overrides in LEVERS:
        measure(f"product, {label}", variant(assistant, **overrides))
    return rows


# ----- sets -------------------------------------------------------------------------------------
def run_scifact(models: Models, budget: Budget, evaluate: bool) -> dict[str, Any] | bool:
    documents, queries = scifact_data()
    passages = passages_of(documents, DEFAULT_CHUNK)
    qtexts = [q.text for q in queries]
    whole_texts = [d.text for d in documents]
    dense_texts = e5_texts(documents, DEFAULT_CHUNK)
    if not evaluate:
        return (
            prewarm(models["e5"], "query", qtexts, budget)
            and prewarm(models["e5"], "passage", dense_texts, budget)
            and (PRODUCT_ONLY or prewarm(models["minilm"], "query", qtexts, budget))
            and (PRODUCT_ONLY or prewarm(models["minilm"], "passage", whole_texts, budget))
            and prewarm(models["use"], "query", qtexts, budget)
            and prewarm(models["use"], "passage", [p.text for p in passages], budget)
            and all(
                prewarm(models[m], role, t, budget)
                for m, role, t in candidate_steps(qtexts, dense_texts)
            )
        )
    source_of = {d.doc_id: d.source for d in documents}
    units = Units([p.text for p in passages], [source_of[p.doc_id] for p in passages], dense_texts)
    whole = Units(whole_texts, [d.source for d in documents])

    def outcome(i: int, labels: Sequence[Any]) -> QueryOutcome:
        q = queries[i]
        return QueryOutcome(q.query_id, "en", tuple(collapse(labels))[:DEPTH], q.grades)

    rows, _ = baseline_rows(models, units, whole, qtexts, outcome)

    def keys(i: int, hits: Sequence[Hit]) -> QueryOutcome:
        return outcome(i, [h.document.source for h in hits])

    with product(models) as assistant:
        started = time.perf_counter()
        assistant.add_documents(documents)
        seconds = time.perf_counter() - started
        rows += product_rows(assistant, qtexts, keys, seconds)
    return {
        "description": f"BEIR SciFact test: {len(documents)} abstracts, {len(queries)} claims",
        "passages": len(passages),
        "rows": add_ratios(rows),
    }


def run_xquad(models: Models, budget: Budget, evaluate: bool, count: int) -> dict[str, Any] | bool:
    subset = xquad_ids(count)
    if not evaluate:
        for query_language, corpus_language in XQUAD_PAIRS:
            documents, queries = xquad_data(query_language, corpus_language, subset)
            texts = [q.text for q in queries]
            passages = [p.text for p in passages_of(documents, DEFAULT_CHUNK)]
            steps = [
                ("e5", "query", texts),
                ("e5", "passage", e5_texts(documents, DEFAULT_CHUNK)),
                ("use", "query", texts),
                ("use", "passage", passages),
                *candidate_steps(texts, e5_texts(documents, DEFAULT_CHUNK)),
            ]
            if not all(prewarm(models[m], role, t, budget) for m, role, t in steps):
                return False
            if not PRODUCT_ONLY and not (
                prewarm(models["minilm"], "query", texts, budget)
                and prewarm(models["minilm"], "passage", [d.text for d in documents], budget)
            ):
                return False
        return True
    pairs: dict[str, Any] = {}
    indexes: dict[str, tuple[Assistant, float]] = {}
    with tempfile.TemporaryDirectory(prefix="qa-bench-xquad-") as folder:
        for query_language, corpus_language in XQUAD_PAIRS:
            name = f"{query_language}→{corpus_language}"
            logger.info("XQuAD %s", name)
            documents, queries = xquad_data(query_language, corpus_language, subset)
            passages = passages_of(documents, DEFAULT_CHUNK)
            source_of = {d.doc_id: d.source for d in documents}
            units = Units(
                [p.text for p in passages],
                [source_of[p.doc_id] for p in passages],
                e5_texts(documents, DEFAULT_CHUNK),
            )
            whole = Units([d.text for d in documents], [d.source for d in documents])
            qtexts = [q.text for q in queries]

            def outcome(
                i: int, labels: Sequence[Any], queries: list[BeirQuery] = queries
            ) -> QueryOutcome:
                q = queries[i]
                ranking = tuple(collapse(labels))
                return QueryOutcome(q.query_id, q.language or "und", ranking, q.grades)

            def keys(
                i: int,
                hits: Sequence[Hit],
                outcome: Callable[[int, Sequence[Any]], QueryOutcome] = outcome,
            ) -> QueryOutcome:
                return outcome(i, [h.document.source for h in hits])

            rows, _ = baseline_rows(models, units, whole, qtexts, outcome)
            if corpus_language not in indexes:
                settings = Settings(
                    index_dir=Path(folder) / corpus_language,
                    corpus_dir=CORPUS,
                    highlight_sentences=0,
                )
                assistant = Assistant(
                    settings, embedder=models["e5"], second_stage_encoder=models["use"]
                )
                started = time.perf_counter()
                assistant.add_documents(documents)
                indexes[corpus_language] = (assistant, time.perf_counter() - started)
            assistant, seconds = indexes[corpus_language]
            rows += product_rows(assistant, qtexts, keys, seconds)
            pairs[name] = {"n_queries": len(queries), "rows": add_ratios(rows)}
    note = (
        "all 1190 queries per pair"
        if subset is None
        else (f"fixed seeded subset of {count} of 1190 queries per pair (seed {SEED})")
    )
    return {"description": f"XQuAD, 240 paragraphs; {note}", "pairs": pairs}


def run_qmsum(models: Models, budget: Budget, evaluate: bool) -> dict[str, Any] | bool:
    documents, queries = qmsum_data()
    qtexts = [q.text for q in queries]
    windows = {d.source: word_windows(d) for d in documents}
    window_texts = [d.text[s:e] for d in documents for s, e in windows[d.source]]
    passages = passages_of(documents)
    if not evaluate:
        steps: list[tuple[str, str, list[str]]] = [
            ("e5", "query", qtexts),
            ("minilm", "query", qtexts),
            ("use", "query", qtexts),
            ("minilm", "passage", window_texts),
            ("use", "passage", [p.text for p in passages]),
            ("e5", "passage", e5_texts(documents)),
            *candidate_steps(qtexts, e5_texts(documents)),
        ]
        return all(
            prewarm(models[m], role, texts, budget)
            for m, role, texts in steps
            if not (PRODUCT_ONLY and m == "minilm")
        )

    source_by_id = {d.doc_id: d.source for d in documents}

    def label(layout: str, source: str, start: int, end: int) -> tuple[str, str, int, int]:
        return (layout, Path(source).stem, start, end)

    # Every unit that overlaps a gold span is relevant (so a query has several), per layout.
    layouts: dict[str, list[tuple[str, str, int, int]]] = {}

    def outcome(i: int, labels: Sequence[Any]) -> QueryOutcome:
        q = queries[i]
        layout = labels[0][0] if labels else "p"
        relevant = {
            str(unit)
            for unit in layouts[layout]
            if unit[1] == q.meeting_id and overlaps_span(unit[2], unit[3], q.spans)
        }
        ranking = tuple(str(unit) for unit in labels[:DEPTH])
        return QueryOutcome(q.query_id, "en", ranking, dict.fromkeys(relevant, 1.0))

    units = Units(
        [p.text for p in passages],
        [label("p", source_by_id[p.doc_id], p.char_start, p.char_end) for p in passages],
        e5_texts(documents),
    )
    whole = Units(
        window_texts,
        [label("w", d.source, s, e) for d in documents for s, e in windows[d.source]],
    )
    layouts["p"], layouts["w"] = units.labels, whole.labels
    rows, _ = baseline_rows(models, units, whole, qtexts, outcome, bm25_on_units=True)
    rows = [dataclasses.replace(r, note=_qmsum_note(r.system)) for r in rows]

    def span_keys(assistant: Assistant) -> Callable[[int, Sequence[Hit]], QueryOutcome]:
        """Outcomes for the layout of this index: its passages that overlap a gold span."""
        meetings = meeting_passages(assistant)
        grades = [span_grades(meetings, q) for q in queries]

        def keys(i: int, hits: Sequence[Hit]) -> QueryOutcome:
            ranking = tuple(h.passage.passage_id for h in hits)
            return QueryOutcome(queries[i].query_id, "en", ranking, grades[i])

        return keys

    with product(models) as assistant:
        started = time.perf_counter()
        assistant.add_documents(documents)
        seconds = time.perf_counter() - started
        rows += product_rows(assistant, qtexts, span_keys(assistant), seconds)
    return {
        "description": (
            f"QMSum val: {len(documents)} meetings in one index, {len(queries)} specific queries; "
            "relevant = every passage (of the system's own layout) overlapping a gold span"
        ),
        "units": {
            "product passages (transcripts 1200/0)": len(passages),
            f"{WINDOW_WORDS}-word windows": len(window_texts),
        },
        "rows": add_ratios(rows),
    }


def _qmsum_note(system: str) -> str:
    if system in ("BM25", "BM25 + English stemmer", "MiniLM-L6 dense"):
        return f"{WINDOW_WORDS}-word windows"
    return "product passages (transcripts 1200/0)"


def run_demo(models: Models, budget: Budget, evaluate: bool) -> dict[str, Any] | bool:
    documents = demo_documents()
    data = load_questions(DEMO_QUESTIONS, CORPUS)
    questions = list(data.questions)
    answerable = [q for q in questions if q.answerable]
    qtexts = [q.question for q in answerable]
    passages = passages_of(documents)
    negatives = _negative_questions()
    if not evaluate:
        steps = [
            ("e5", "passage", e5_texts(documents)),
            ("e5", "query", [q.question for q in questions] + negatives),
            ("minilm", "passage", [p.text for p in passages]),
            ("minilm", "query", qtexts),
            ("use", "passage", [p.text for p in passages]),
            ("use", "query", qtexts),
            *candidate_steps(qtexts, e5_texts(documents)),
        ]
        return all(
            prewarm(models[m], role, texts, budget)
            for m, role, texts in steps
            if not (PRODUCT_ONLY and m == "minilm")
        )

    source_by_id = {d.doc_id: d.source for d in documents}
    dense_texts = e5_texts(documents, DEFAULT_CHUNK)
    units = Units(
        [p.text for p in passages], [(source_by_id[p.doc_id], p) for p in passages], dense_texts
    )

    def located(question: JudgedQuestion, source: str, p: Passage) -> bool:
        return any(
            matches_location(loc, source, p.pages, p.start_seconds, p.end_seconds)
            for loc in question.locations
        )

    def outcome(i: int, labels: Sequence[Any]) -> QueryOutcome:
        q = answerable[i]
        ranking = [
            GOLD_KEY if located(q, source, p) else p.passage_id for source, p in labels[:DEPTH]
        ]
        return QueryOutcome(f"q{i}", q.language or "und", tuple(ranking), {GOLD_KEY: 1.0})

    rows, _ = baseline_rows(models, units, units, qtexts, outcome)
    note = "units: product passages (reports 700/150, transcripts 1200/0)"
    rows = [dataclasses.replace(r, note=note) for r in rows]

    def keys(i: int, hits: Sequence[Hit]) -> QueryOutcome:
        q = answerable[i]
        ranking = tuple(question_key(h, q) for h in hits)
        return QueryOutcome(f"q{i}", q.language or "und", ranking, {GOLD_KEY: 1.0})

    with product(models) as assistant:
        started = time.perf_counter()
        assistant.add([CORPUS])
        seconds = time.perf_counter() - started
        rows += product_rows(assistant, qtexts, keys, seconds)
        hits, _ = search_all(assistant, qtexts)
        result = summarize([keys(i, h) for i, h in enumerate(hits)])
        by_language = {lang: dataclasses.asdict(m) for lang, m in result.by_language.items()}
        previous, _ = search_all(variant(assistant, **PREVIOUS_DEFAULT), qtexts)
        before = summarize([keys(i, h) for i, h in enumerate(previous)])
        previous_by_language = {
            lang: dataclasses.asdict(m) for lang, m in before.by_language.items()
        }
    return {
        "description": (
            f"Demo corpus: {len(documents)} documents (en/es/fr; PDF, VTT, Markdown), "
            f"{len(answerable)} answerable questions in en/fr/es/ar"
        ),
        "rows": add_ratios(rows),
        "product_by_language": by_language,
        "previous_by_language": previous_by_language,
        "abstention": calibrate_abstention(models, dense_texts, questions, negatives),
    }


def _negative_questions() -> list[str]:
    """Off-topic questions for the demo corpus: 100 SciFact claims and 100 XQuAD questions."""
    rng = random.Random(SEED)
    scifact = [row["text"] for row in _rows(EVAL_DIR / "scifact" / "queries.jsonl")]
    xquad = [row["text"] for row in _rows(EVAL_DIR / "xquad" / "en" / "queries.jsonl")]
    return rng.sample(scifact, 100) + rng.sample(xquad, 100)


def calibrate_abstention(
    models: Models,
    passage_texts: Sequence[str],
    questions: Sequence[JudgedQuestion],
    negatives: Sequence[str],
) -> dict[str, Any]:
    """Best e5 cosine per question (what `ask` compares with min_score) and rates per threshold."""
    vectors = models["e5"].embed_passages(list(passage_texts))
    texts = [q.question for q in questions]
    best = (models["e5"].embed_queries(texts) @ vectors.T).max(axis=1)
    off_topic = (models["e5"].embed_queries(list(negatives)) @ vectors.T).max(axis=1)
    answerable = np.array([q.answerable for q in questions])
    table = []
    for threshold in THRESHOLDS:
        declined = best < threshold
        table.append(
            {
                "threshold": threshold,
                "answerable_declined": round(float(declined[answerable].mean()), 3),
                "unanswerable_declined": round(float(declined[~answerable].mean()), 3),
                "off_topic_declined": round(float((off_topic < threshold).mean()), 3),
            }
        )
    return {
        "answerable_best_cosine": sorted(round(float(x), 3) for x in best[answerable]),
        "unanswerable_best_cosine": sorted(round(float(x), 3) for x in best[~answerable]),
        "off_topic_best_cosine_quantiles": {
            q: round(float(np.quantile(off_topic, q)), 3) for q in (0.5, 0.9, 0.95, 0.99, 1.0)
        },
        "n_off_topic": len(negatives),
        "thresholds": table,
    }


# ----- report -----------------------------------------------------------------------------------
def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def rows_table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        "| system | nDCG@10 | R@1 | R@5 | R@10 | MRR@10 | nDCG ×BM25 | nDCG ×MiniLM | "
        "R@5 ×BM25 | ms/query | note |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        cells = [
            r["system"],
            _fmt(r["ndcg_at_10"]),
            _fmt(r["recall_at_1"]),
            _fmt(r["recall_at_5"]),
            _fmt(r["recall_at_10"]),
            _fmt(r["mrr_at_10"]),
            _fmt(r["ndcg_at_10_x_bm25"]),
            _fmt(r["ndcg_at_10_x_minilm"]),
            _fmt(r["recall_at_5_x_bm25"]),
            _fmt(r["ms_per_query"], 1),
            r["note"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _find(rows: Sequence[dict[str, Any]], system: str) -> dict[str, Any]:
    return next(r for r in rows if r["system"] == system)


def targets_table(results: dict[str, Any]) -> list[str]:
    """The targets against the previous and the current default, from this run's rows."""
    sets = results["sets"]
    lines = ["| target | previous default | default | met |", "|---|---|---|---|"]

    def add(target: str, before: float, value: float, goal: float, detail: str = "") -> None:
        mark = "yes" if value >= goal else "no"
        lines.append(f"| {target} | {before:.3f} | {value:.3f}{detail} | {mark} |")

    def both(rows: list[dict[str, Any]], metric: str) -> tuple[float, float]:
        return _find(rows, PREVIOUS_NAME)[metric], _find(rows, DEFAULT_NAME)[metric]

    if "scifact" in sets:
        add("SciFact nDCG@10 ≥ 0.73", *both(sets["scifact"]["rows"], "ndcg_at_10"), 0.73)
    if "xquad" in sets:
        for pair, goal in (("es→en", 0.985), ("ar→en", 0.93), ("en→en", 0.995)):
            rows = sets["xquad"]["pairs"][pair]["rows"]
            add(f"XQuAD {pair} recall@5 ≥ {goal}", *both(rows, "recall_at_5"), goal)
    if "qmsum" in sets:
        rows = sets["qmsum"]["rows"]
        best = max(r["ndcg_at_10"] for r in rows if r["system"] in BASELINES)
        before, after = both(rows, "ndcg_at_10")
        add(
            "QMSum val nDCG@10 ≥ 1.3 × best baseline",
            before / best,
            after / best,
            1.3,
            f" × ({best:.3f})",
        )
    worse, below_single = [], []
    for name, block in sets.items():
        groups = block["pairs"].items() if "pairs" in block else [(name, block)]
        for label, group in groups:
            rows = group["rows"]
            default = _find(rows, DEFAULT_NAME)
            if default["ndcg_at_10"] < _find(rows, "BM25")["ndcg_at_10"]:
                worse.append(label)
            # The retrievers the fusion runs, on the passages it ranks: on QMSum, BM25 on the
            # product's passages (the peer BM25 row ranks 200-word windows, another layout).
            fused = {
                "BM25 (product passages)"
                if any(r["system"] == "BM25 (product passages)" for r in rows)
                else "BM25",
                "e5-small dense",
            }
            singles = [r for r in rows if r["system"] in fused]
            if any(default["ndcg_at_10"] < r["ndcg_at_10"] for r in singles):
                below_single.append(label)
    lines.append(
        "| default never below BM25 (nDCG@10) | below on: "
        f"{', '.join(worse) or 'none'} | {'no' if worse else 'yes'} |"
    )
    lines.append(
        "| default never below its single retrievers (BM25, e5 dense, on the passages it ranks;"
        " nDCG@10) | below on: "
        f"{', '.join(below_single) or 'none'} | {'no' if below_single else 'yes'} |"
    )
    return lines


def _groups(results: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(label, rows) of every set, one per XQuAD pair."""
    names = {"scifact": "SciFact", "qmsum": "QMSum val", "demo": "demo"}
    out = []
    for name, block in results["sets"].items():
        if "pairs" in block:
            out += [(f"XQuAD {pair}", sub["rows"]) for pair, sub in block["pairs"].items()]
        else:
            out.append((names.get(name, name), block["rows"]))
    return out


def levers_table(results: dict[str, Any]) -> list[str]:
    """nDCG@10 of the previous default, the default and each lever alone on top of the
    default, per set (the difference to the default in brackets)."""
    groups = _groups(results)
    labels = [PREVIOUS_NAME, *(f"product, {label}" for label, _ in LEVERS)]
    head = ["set", "BM25", "e5 dense", "default", *(x.removeprefix("product, ") for x in labels)]
    lines = [
        "nDCG@10 of the default and of each ranking lever applied alone on top of it (difference"
        " to the default in brackets):",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for label, rows in groups:
        default = _find(rows, DEFAULT_NAME)["ndcg_at_10"]
        cells = [
            label,
            _fmt(_find(rows, "BM25")["ndcg_at_10"]),
            _fmt(_find(rows, "e5-small dense")["ndcg_at_10"]),
            f"**{default:.3f}**",
        ]
        for system in labels:
            value = _find(rows, system)["ndcg_at_10"]
            cells.append(f"{value:.3f} ({value - default:+.3f})")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    parts = [
        "## Retrieval quality (`benchmarks/quality.py`)",
        "",
        f"Run {info['date']} on {info['cores']} cores ({info['cpu']}), Python {info['python']}; "
        f"{results['total_seconds'] / 60:.1f} min with the embedding cache warm. Every number "
        "below comes from that one run (`benchmarks/results/quality"
        + ("" if len(results["sets"]) == 4 else "-" + "-".join(results["sets"]))
        + ".json`)."
        + (
            ""
            if "scifact" in results["sets"]
            else " SciFact was not part of this run (its embeddings were not in the cache;"
            " filling it takes hours on these 2 cores): its last figures are in git history."
        ),
        "",
        "Metrics: nDCG@10 (log2 discount, ideal from the judgements), recall@k, MRR@10. "
        "BEIR sets rank documents (a document ranks at its best passage). QMSum ranks "
        "passages, and every passage of the system's own layout that overlaps a gold span is "
        "relevant (a query has several; recall@k is the share of them in the top k). The demo "
        "questions rank passages with one answer target each: the first passage in the right "
        "file at an overlapping page or time is the hit. BM25 and "
        "MiniLM index whole documents (QMSum: 200-word windows; demo: product passages); "
        "e5, USE-m3, mpnet-base (all-mpnet-base-v2) and static-64 (the 64-d static model of "
        "tokenlearn-static-model) dense index the product's passages. ms/query is the "
        "product's search time with cached query embeddings and memoised language detection "
        "(end-to-end latency is in the speed section)."
        + (
            ""
            if "mpnet" in results.get("models", ["mpnet"])
            else " all-mpnet-base-v2 (optional, `make mpnet`) was not installed for this run:"
            " its rows are absent."
        ),
        "",
        *targets_table(results),
        "",
        *levers_table(results),
    ]
    titles = {"scifact": "SciFact", "xquad": "XQuAD", "qmsum": "QMSum", "demo": "Demo corpus"}
    for name, block in results["sets"].items():
        parts += ["", f"### {titles.get(name, name)}", "", block["description"]]
        if "pairs" in block:
            for pair, sub in block["pairs"].items():
                parts += ["", f"#### XQuAD {pair} ({sub['n_queries']} queries)", ""]
                parts.append(rows_table(sub["rows"]))
        else:
            parts += ["", rows_table(block["rows"])]
        if "product_by_language" in block:
            parts += ["", "By question language, previous default → default:", ""]
            parts.append("| language | n | nDCG@10 | R@1 | R@5 | MRR@10 |")
            parts.append("|---|---|---|---|---|---|")
            before = block.get("previous_by_language", {})
            for lang, m in block["product_by_language"].items():
                b = before.get(lang, m)
                cells = " | ".join(
                    f"{b[k]:.3f} → {m[k]:.3f}"
                    for k in ("ndcg_at_10", "recall_at_1", "recall_at_5", "mrr_at_10")
                )
                parts.append(f"| {lang} | {m['n_queries']} | {cells} |")
        if "abstention" in block:
            a = block["abstention"]
            parts += [
                "",
                "Abstention (best e5 cosine vs `min_score`): answerable "
                f"{a['answerable_best_cosine']}; unanswerable {a['unanswerable_best_cosine']}; "
                f"{a['n_off_topic']} off-topic questions (SciFact claims, XQuAD questions) "
                f"quantiles {a['off_topic_best_cosine_quantiles']}.",
                "",
                "| min_score | answerable declined | unanswerable declined | off-topic declined |",
                "|---|---|---|---|",
            ]
            for t in a["thresholds"]:
                parts.append(
                    f"| {t['threshold']:.2f} | {t['answerable_declined']:.0%} | "
                    f"{t['unanswerable_declined']:.0%} | {t['off_topic_declined']:.0%} |"
                )
    return "\n".join(parts) + "\n"


# ----- main -------------------------------------------------------------------------------------
def compare_backends(
    args: argparse.Namespace, names: list[str], budget: Budget, languages: LanguageMemo
) -> int:
    """The default row of each set once per e5 backend, side by side in one run."""
    global PRODUCT_ONLY
    PRODUCT_ONLY = True
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    cache = VectorCache(CACHE_DIR / "embeddings.sqlite")
    runs = {b: embedders(cache, b) for b in backends}

    def runner(models: Models, name: str, evaluate: bool) -> dict[str, Any] | bool:
        if name == "scifact":
            return run_scifact(models, budget, evaluate)
        if name == "xquad":
            return run_xquad(models, budget, evaluate, args.xquad_queries)
        return run_qmsum(models, budget, evaluate)

    for backend, models in runs.items():
        for name in names:
            logger.info("embedding phase: %s with %s", name, backend)
            done = runner(models, name, False)
            languages.save()
            if not done:
                logger.warning("embedding budget used up during %s: run again", name)
                return 3
    if args.embed_only:
        return 0
    results: dict[str, Any] = {"machine": machine(), "backends": {}}
    for backend, models in runs.items():
        sets: dict[str, Any] = {}
        for name in names:
            logger.info("evaluating %s with %s", name, backend)
            block = runner(models, name, True)
            assert isinstance(block, dict)
            groups = block.get("pairs", {name: block})
            for group, data in groups.items():
                sets[group] = _find(data["rows"], DEFAULT_NAME)
        results["backends"][backend] = {"model": models["e5"].name, "sets": sets}
    languages.save()
    if not args.no_write:
        out = RESULTS_DIR / "quality-backends.json"
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
        replace_section(DOCS_FILE, "quality-backends", backends_table(results))
        logger.info("wrote %s", out)
    return 0


def backends_table(results: dict[str, Any]) -> str:
    """nDCG@10 and recall@5 of the default per set and backend, with the change from the first."""
    backends = list(results["backends"])
    first = results["backends"][backends[0]]["sets"]
    lines = [
        f"### e5 backends, product default ({results['machine']['date']})",
        "",
        "`quality.py --backends onnx,onnx-int8`: the default search, with the e5 vectors of each"
        " backend (`onnx` gives PyTorch's vectors, cosine 1.0000, and shares their cache)."
        " XQuAD: all 1,190 questions per pair. `results/quality-backends.json`.",
        "",
        "| set | " + " | ".join(f"{b} nDCG@10" for b in backends) + " | change | recall@5 |",
        "|---|" + "---|" * (len(backends) + 2),
    ]
    for group in first:
        values = [results["backends"][b]["sets"][group] for b in backends]
        ndcg = [v["ndcg_at_10"] for v in values]
        recall = " / ".join(_fmt(v["recall_at_5"]) for v in values)
        change = f"{ndcg[-1] - ndcg[0] + 0.0:+.3f}".replace("-0.000", "0.000")
        cells = " | ".join(_fmt(n) for n in ndcg)
        lines.append(f"| {group} | {cells} | {change} | {recall} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="scifact,xquad,qmsum,demo")
    parser.add_argument("--xquad-queries", type=int, default=XQUAD_QUERIES)
    parser.add_argument("--budget-minutes", type=float, help="Stop embedding after N minutes.")
    parser.add_argument("--embed-only", action="store_true", help="Fill the cache, then stop.")
    parser.add_argument("--no-write", action="store_true", help="Do not write results/docs.")
    parser.add_argument(
        "--backends",
        help="Compare e5 backends (e.g. onnx,onnx-int8): the default row alone, per backend.",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("sentence_transformers", "transformers", "httpx", "qa_assistant"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    languages = LanguageMemo(CACHE_DIR / "languages.json")
    languages.install()
    budget = Budget(args.budget_minutes)
    if args.backends:
        return compare_backends(args, names, budget, languages)
    # e5 as the product runs it (Settings().embedding_backend; QA_EMBEDDING_BACKEND=torch for
    # PyTorch's vectors, as the committed quality tables before 2026-11-30 13:00 were measured).
    models = embedders(VectorCache(CACHE_DIR / "embeddings.sqlite"), Settings().embedding_backend)
    runners: dict[str, Callable[[bool], dict[str, Any] | bool]] = {
        "scifact": lambda e: run_scifact(models, budget, e),
        "xquad": lambda e: run_xquad(models, budget, e, args.xquad_queries),
        "qmsum": lambda e: run_qmsum(models, budget, e),
        "demo": lambda e: run_demo(models, budget, e),
    }
    # Cheap sets first, so that a budget-limited run still completes some of them.
    for name in sorted(names, key=["demo", "xquad", "qmsum", "scifact"].index):
        logger.info("embedding phase: %s", name)
        done = runners[name](False)
        languages.save()
        if not done:
            logger.warning("embedding budget used up during %s: run again to continue", name)
            return 3
    if args.embed_only:
        logger.info("all embeddings cached")
        return 0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "models": sorted(MODELS_AVAILABLE),
        "sets": {},
    }
    for name in names:
        logger.info("evaluating %s", name)
        block = runners[name](True)
        assert isinstance(block, dict)
        results["sets"][name] = block
    languages.save()
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["embedded_this_run"] = {m.name: m.embedded for m in models.values()}
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        suffix = "" if names == ["scifact", "xquad", "qmsum", "demo"] else "-" + "-".join(names)
        out = RESULTS_DIR / f"quality{suffix}.json"
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
        replace_section(DOCS_FILE, "quality", markdown(results))
        logger.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
