"""An English companion model: would adding all-mpnet-base-v2 to the product pay on English sets?

all-mpnet-base-v2 (English only, `make mpnet`) measures above multilingual-e5-small alone on
SciFact and QMSum (`quality.py`, "mpnet-base dense"). This script measures what fusing its
ranking with the product's would give, before any such stage is built: the product's default
ranking (its top 30, as quality.py reads it) and mpnet's dense ranking over the same passages
(top 100), by weighted RRF (k = 60),
on SciFact and QMSum val. On QMSum, mpnet's passage cosines are read with their neighbours as
the product reads e5's (`fusion.neighbour_smoothed`, weight 1).

Reads the embedding cache of quality.py (run that first: it embeds mpnet's passages); writes
benchmarks/results/companion.json and the "companion" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import quality as Q
from support import (
    CACHE_DIR,
    DOCS_FILE,
    RESULTS_DIR,
    LanguageMemo,
    VectorCache,
    collapse,
    embedders,
    machine,
    replace_section,
    rrf,
)

from qa_assistant.chunking import embedding_text
from qa_assistant.eval_runner import meeting_passages, span_grades
from qa_assistant.evaluation import QueryOutcome, summarize
from qa_assistant.fusion import neighbour_smoothed

DEPTH = 100
WEIGHTS = (0.25, 0.5, 0.75, 1.0)
NEIGHBOUR_WEIGHT = 1.0


def scores(rankings: Sequence[Sequence[str]], outcomes: Any) -> dict[str, float]:
    result = summarize([outcomes(i, r) for i, r in enumerate(rankings)])
    return {"ndcg@10": round(result.ndcg_at_10, 4), "recall@5": round(result.recall_at_5, 4)}


def fused_rows(
    product: list[list[str]], mpnet: list[list[str]], outcomes: Any
) -> list[dict[str, Any]]:
    rows = [
        {"system": "product hybrid (default)", **scores(product, outcomes)},
        {"system": "mpnet-base dense", **scores(mpnet, outcomes)},
    ]
    for weight in WEIGHTS:
        fused = [rrf([p, m], [1.0, weight]) for p, m in zip(product, mpnet, strict=True)]
        rows.append({"system": f"RRF(product, mpnet-base {weight})", **scores(fused, outcomes)})
    return rows


def run_scifact(models: Q.Models) -> dict[str, Any]:
    documents, queries = Q.scifact_data()
    texts = [q.text for q in queries]
    with Q.product(models) as assistant:
        assistant.add_documents(documents)
        hits, _ = Q.search_all(assistant, texts)
    product = [collapse([h.document.source for h in row]) for row in hits]
    passages = Q.passages_of(documents)
    source = {d.doc_id: d.source for d in documents}
    labels = [source[p.doc_id] for p in passages]
    vectors = models["mpnet"].embed_passages(Q.e5_texts(documents))
    similarity = models["mpnet"].embed_queries(texts) @ vectors.T
    mpnet = [
        collapse([labels[i] for i in np.argsort(-row)[: DEPTH * 3]])[:DEPTH] for row in similarity
    ]

    def outcomes(i: int, ranking: Sequence[str]) -> QueryOutcome:
        return QueryOutcome(queries[i].query_id, "en", tuple(ranking[:DEPTH]), queries[i].grades)

    return {"queries": len(queries), "rows": fused_rows(product, mpnet, outcomes)}


def run_qmsum(models: Q.Models) -> dict[str, Any]:
    documents, queries = Q.qmsum_data()
    texts = [q.text for q in queries]
    with Q.product(models) as assistant:
        assistant.add_documents(documents)
        meetings = meeting_passages(assistant)
        grades = [span_grades(meetings, q) for q in queries]
        titles = {d.doc_id: d.title for d in assistant.list_documents()}
        hits, _ = Q.search_all(assistant, texts)
    product = [[h.passage.passage_id for h in row] for row in hits]
    # Every passage in document order: the neighbours of a passage are the ones beside it.
    passages = [p for rows in meetings.values() for _, p in rows]
    ids = [p.passage_id for p in passages]
    vectors = models["mpnet"].embed_passages(
        [embedding_text(titles[p.doc_id], p) for p in passages]
    )
    around = {
        k: tuple(
            k + step
            if 0 <= k + step < len(passages) and passages[k + step].doc_id == p.doc_id
            else None
            for step in (-2, -1, 0, 1, 2)
        )
        for k, p in enumerate(passages)
    }
    mpnet = []
    for row in models["mpnet"].embed_queries(texts) @ vectors.T:
        smoothed = neighbour_smoothed(dict(enumerate(row.tolist())), around, NEIGHBOUR_WEIGHT)
        mpnet.append([ids[k] for k in sorted(smoothed, key=lambda k: -smoothed[k])[:DEPTH]])

    def outcomes(i: int, ranking: Sequence[str]) -> QueryOutcome:
        return QueryOutcome(queries[i].query_id, "en", tuple(ranking[:DEPTH]), grades[i])

    return {"queries": len(queries), "rows": fused_rows(product, mpnet, outcomes)}


def markdown(results: dict[str, Any]) -> str:
    info = results["machine"]
    lines = [
        "## English companion model (`benchmarks/companion.py`)",
        "",
        f"Run {info['date']} on {info['cores']} cores ({info['cpu']}). The product's default "
        "ranking fused by weighted RRF with all-mpnet-base-v2 dense over the same passages "
        "(QMSum: mpnet read with neighbours, as the product reads e5); not a product "
        "configuration, a measurement of what one would give. nDCG@10 / recall@5:",
        "",
        "| system | " + " | ".join(results["sets"]) + " |",
        "|---|" + "---|" * len(results["sets"]),
    ]
    names = [r["system"] for r in next(iter(results["sets"].values()))["rows"]]
    for name in names:
        cells = []
        for block in results["sets"].values():
            row = next(r for r in block["rows"] if r["system"] == name)
            cells.append(f"{row['ndcg@10']:.3f} / {row['recall@5']:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="Do not write results/docs.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    languages = LanguageMemo(CACHE_DIR / "languages.json")
    languages.install()
    models = embedders(VectorCache(CACHE_DIR / "embeddings.sqlite"))
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "sets": {}}
    results["sets"]["SciFact"] = run_scifact(models)
    results["sets"]["QMSum val"] = run_qmsum(models)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    languages.save()
    print(markdown(results))
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / "companion.json"
        out.write_text(json.dumps(results, indent=1), encoding="utf-8")
        replace_section(DOCS_FILE, "companion", markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
