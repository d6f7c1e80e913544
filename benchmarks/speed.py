"""Speed of the product pipeline on the demo corpus: ingest throughput and `ask` latency.

Everything is the real product path with the default settings (multilingual-e5-small, no
benchmark caches): a fresh temporary index, `Assistant.add(corpus/)`, then every demo
question through `Assistant.ask`. Also times the parts of a query and what a USE-m3 second
stage over the top candidates would add. Writes benchmarks/results/speed.json and the speed
section of docs/benchmarks.md.

    .venv/bin/python benchmarks/speed.py
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from support import DOCS_FILE, REPO, RESULTS_DIR, UseM3, machine, replace_section, rescore

from qa_assistant.answering import passage_sentences
from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.eval_data import load_questions
from qa_assistant.language import detect_language
from qa_assistant.search import embed_with_cache

logger = logging.getLogger("benchmarks")

CORPUS = REPO / "corpus"
QUESTIONS = REPO / "tests" / "data" / "demo_questions.jsonl"
ROUNDS = 3
RERANK_CANDIDATES = 30
WARM_UP = "What did the speakers say about data protection?"


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    values = np.array(samples_ms)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "mean_ms": round(float(values.mean()), 1),
        "max_ms": round(float(values.max()), 1),
        "n": len(values),
    }


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = function()
    return value, (time.perf_counter() - started) * 1000


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("sentence_transformers", "transformers", "qa_assistant", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    questions = [q.question for q in load_questions(QUESTIONS, CORPUS).questions]
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="qa-speed-") as folder:
        settings = Settings(index_dir=Path(folder) / "index", corpus_dir=CORPUS)
        assistant = Assistant(settings)
        _, load_ms = timed(lambda: assistant.embedder)
        report, add_ms = timed(lambda: assistant.add([CORPUS]))
        results["ingest"] = {
            "model_load_s": round(load_ms / 1000, 1),
            "documents": report.count("indexed"),
            "passages": report.passages,
            "seconds": round(add_ms / 1000, 1),
            "passages_per_s": round(report.passages / (add_ms / 1000), 1),
        }
        logger.info("ingest: %s", results["ingest"])

        timed(lambda: assistant.ask(WARM_UP))
        rounds: list[list[float]] = []
        for number in range(ROUNDS):
            # Round 1 embeds the highlight sentences of new hits; later rounds find them cached.
            rounds.append([timed(lambda q=q: assistant.ask(q))[1] for q in questions])
            logger.info("ask round %d: %s", number + 1, percentiles(rounds[-1]))
        results["ask_first_round"] = percentiles(rounds[0])
        results["ask_all_rounds"] = percentiles([ms for r in rounds for ms in r])
        search_ms = [timed(lambda q=q: assistant.search(q))[1] for q in questions]
        results["search_no_answer_step"] = percentiles(search_ms)

        results["ask_first_round_sentences_at_ingest"] = sentences_at_ingest(questions)

        embedder = assistant.embedder
        results["parts"] = {
            "e5_query_embedding": percentiles(
                [timed(lambda q=q: embedder.embed_queries([q]))[1] for q in questions]
            ),
            "language_detection": percentiles(
                [timed(lambda q=q: detect_language(q, default="und"))[1] for q in questions]
            ),
        }

        use = UseM3(threads=2)
        use.embed_queries(["warm up"])
        hits = [assistant.search(q, RERANK_CANDIDATES) for q in questions]
        vectors = {
            h.passage.passage_id: v
            for query_hits in hits
            for h, v in zip(
                query_hits, use.embed_passages([h.passage.text for h in query_hits]), strict=True
            )
        }
        precomputed, on_the_fly = [], []
        for question, query_hits in zip(questions, hits, strict=True):
            ids = [h.passage.passage_id for h in query_hits]

            def stage(ids: list[str] = ids, question: str = question) -> list[str]:
                query = use.embed_queries([question])[0]
                return rescore(ids, np.vstack([vectors[i] for i in ids]), query, 1.0)

            def fresh(query_hits: list[Any] = query_hits, question: str = question) -> list[str]:
                query = use.embed_queries([question])[0]
                candidates = use.embed_passages([h.passage.text for h in query_hits])
                return rescore([h.passage.passage_id for h in query_hits], candidates, query, 1.0)

            precomputed.append(timed(stage)[1])
            on_the_fly.append(timed(fresh)[1])
        results["use_m3_second_stage_added"] = {
            "passage_vectors_stored_at_ingest": percentiles(precomputed),
            "candidates_embedded_per_query": percentiles(on_the_fly),
            "candidates": RERANK_CANDIDATES,
        }
        logger.info("USE-m3 stage: %s", results["use_m3_second_stage_added"])
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "speed.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    replace_section(DOCS_FILE, "speed", markdown(results, len(questions)))
    return 0


def sentences_at_ingest(questions: Sequence[str]) -> dict[str, Any]:
    """First-pass `ask` latency when highlight sentences are embedded at ingest.

    Simulates a proposed change: after `add`, the sentences of every passage go through the
    same cache `ask` uses, so no question embeds sentences any more.
    """
    with tempfile.TemporaryDirectory(prefix="qa-speed-") as folder:
        settings = Settings(index_dir=Path(folder) / "index", corpus_dir=CORPUS)
        assistant = Assistant(settings)
        assistant.embedder  # noqa: B018 - load the model outside the timings
        report, add_ms = timed(lambda: assistant.add([CORPUS]))
        texts = [
            passage.text[start:end]
            for document in assistant.list_documents()
            for passage in assistant.document_passages(document.doc_id)
            for start, end in passage_sentences(passage.text)
        ]
        _, sentences_ms = timed(
            lambda: embed_with_cache(assistant.embedder, assistant.cache, texts)
        )
        timed(lambda: assistant.ask(WARM_UP))
        latencies = [timed(lambda q=q: assistant.ask(q))[1] for q in questions]
        return {
            **percentiles(latencies),
            "sentences": len(texts),
            "ingest_s": round(add_ms / 1000, 1),
            "sentences_s": round(sentences_ms / 1000, 1),
            "passages_per_s_with_sentences": round(
                report.passages / ((add_ms + sentences_ms) / 1000), 1
            ),
        }


def markdown(results: dict[str, Any], questions: int) -> str:
    info, ingest = results["machine"], results["ingest"]
    first, rounds = results["ask_first_round"], results["ask_all_rounds"]
    use = results["use_m3_second_stage_added"]
    ahead = results["ask_first_round_sentences_at_ingest"]

    def line(name: str, p: dict[str, Any]) -> str:
        return f"| {name} | {p['p50_ms']:.0f} | {p['p95_ms']:.0f} | {p['mean_ms']:.0f} | {p['n']} |"

    return (
        "\n".join(
            [
                "## Speed (`benchmarks/speed.py`)",
                "",
                f"Run {info['date']} on {info['cores']} cores ({info['cpu']}), shared with other "
                "jobs; default settings, multilingual-e5-small, demo corpus, no benchmark caches "
                "(`benchmarks/results/speed.json`).",
                "",
                f"Ingest: {ingest['documents']} documents, {ingest['passages']} passages in "
                f"{ingest['seconds']} s = **{ingest['passages_per_s']} passages/s** "
                f"(model load {ingest['model_load_s']} s, not included). With the "
                f"{ahead['sentences']} highlight sentences embedded at ingest (proposal): "
                f"{ahead['ingest_s']} + {ahead['sentences_s']} s = "
                f"{ahead['passages_per_s_with_sentences']} passages/s.",
                "",
                "| latency | p50 ms | p95 ms | mean ms | n |",
                "|---|---|---|---|---|",
                line(f"`ask`, first pass over the {questions} demo questions", first),
                line(
                    f"`ask`, {ROUNDS} passes (highlight sentences cached after the first)", rounds
                ),
                line("`ask`, first pass, highlight sentences embedded at ingest (proposal)", ahead),
                line("`search`, highlight sentences cached", results["search_no_answer_step"]),
                line("  of which e5 query embedding", results["parts"]["e5_query_embedding"]),
                line("  of which language detection", results["parts"]["language_detection"]),
                line(
                    f"USE-m3 second stage over {use['candidates']} candidates, vectors stored "
                    "at ingest (added)",
                    use["passage_vectors_stored_at_ingest"],
                ),
                line(
                    f"USE-m3 second stage, {use['candidates']} candidates embedded per query "
                    "(added)",
                    use["candidates_embedded_per_query"],
                ),
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())
