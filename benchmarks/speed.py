"""Speed of the product pipeline on the demo corpus: ingest throughput and `ask` latency.

Everything is the real product path with the default settings (multilingual-e5-small with
the USE-m3 second stage, no benchmark caches): a fresh temporary index, `Assistant.add(corpus/)`,
then every demo question through `Assistant.ask`; then the same with the second stage off
(`Settings.rerank=False`). Also times the parts of a query. Writes benchmarks/results/speed.json
and the speed section of docs/benchmarks.md.

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
from support import DOCS_FILE, REPO, RESULTS_DIR, machine, replace_section

from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.eval_data import load_questions
from qa_assistant.language import detect_language

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


def measure(
    folder: str, questions: Sequence[str], **overrides: Any
) -> tuple[dict[str, Any], Assistant]:
    """Ingest the demo corpus into a fresh index, then ask every question ROUNDS times."""
    settings = Settings(index_dir=Path(folder) / "index", corpus_dir=CORPUS, **overrides)
    assistant = Assistant(settings)
    _, load_ms = timed(lambda: (assistant.embedder, assistant.reranker))
    report, add_ms = timed(lambda: assistant.add([CORPUS]))
    result: dict[str, Any] = {
        "settings": overrides,
        "ingest": {
            "model_load_s": round(load_ms / 1000, 1),
            "documents": report.count("indexed"),
            "passages": report.passages,
            "seconds": round(add_ms / 1000, 1),
            "passages_per_s": round(report.passages / (add_ms / 1000), 1),
        },
    }
    logger.info("ingest %s: %s", overrides, result["ingest"])
    timed(lambda: assistant.ask(WARM_UP))
    rounds: list[list[float]] = []
    for number in range(ROUNDS):
        rounds.append([timed(lambda q=q: assistant.ask(q))[1] for q in questions])
        logger.info("ask round %d %s: %s", number + 1, overrides, percentiles(rounds[-1]))
    result["ask_first_round"] = percentiles(rounds[0])
    result["ask_all_rounds"] = percentiles([ms for r in rounds for ms in r])
    return result, assistant


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("sentence_transformers", "transformers", "qa_assistant", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    questions = [q.question for q in load_questions(QUESTIONS, CORPUS).questions]
    results: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="qa-speed-") as folder:
        results["default"], assistant = measure(folder, questions)
        embedder = assistant.embedder
        reranker = assistant.reranker
        assert reranker is not None
        results["parts"] = {
            "e5_query_embedding": percentiles(
                [timed(lambda q=q: embedder.embed_queries([q]))[1] for q in questions]
            ),
            "language_detection": percentiles(
                [timed(lambda q=q: detect_language(q, default="und"))[1] for q in questions]
            ),
            "use_query_embedding": percentiles(
                [timed(lambda q=q: reranker.encoder.embed_queries([q]))[1] for q in questions]
            ),
        }
    with tempfile.TemporaryDirectory(prefix="qa-speed-") as folder:
        results["first_stage"], _ = measure(folder, questions, rerank=False)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "speed.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    replace_section(DOCS_FILE, "speed", markdown(results, len(questions)))
    return 0


def markdown(results: dict[str, Any], questions: int) -> str:
    info = results["machine"]

    def line(name: str, p: dict[str, Any]) -> str:
        return f"| {name} | {p['p50_ms']:.0f} | {p['p95_ms']:.0f} | {p['mean_ms']:.0f} | {p['n']} |"

    lines = [
        "## Speed (`benchmarks/speed.py`)",
        "",
        f"Run {info['date']} on {info['cores']} cores ({info['cpu']}); "
        "multilingual-e5-small, demo corpus, fresh index, no benchmark caches "
        "(`benchmarks/results/speed.json`). Ingest includes embedding every passage sentence "
        "for highlights and, with the second stage on, every passage with USE-m3; model "
        "loading is not included.",
        "",
        "| configuration | documents | passages | ingest s | passages/s | model load s |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("default", "first_stage"):
        ingest = results[name]["ingest"]
        label = (
            "default (second stage on)"
            if name == "default"
            else "first stage only (`QA_RERANK=false`)"
        )
        lines.append(
            f"| {label} | {ingest['documents']} | {ingest['passages']} | {ingest['seconds']} | "
            f"{ingest['passages_per_s']} | {ingest['model_load_s']} |"
        )
    lines += ["", "| latency | p50 ms | p95 ms | mean ms | n |", "|---|---|---|---|---|"]
    for name, label in (("default", "default"), ("first_stage", "first stage only")):
        block = results[name]
        lines.append(
            line(
                f"`ask`, {label}, first pass over the {questions} questions",
                block["ask_first_round"],
            )
        )
        lines.append(line(f"`ask`, {label}, {ROUNDS} passes", block["ask_all_rounds"]))
    lines.append(line("  of which e5 query embedding", results["parts"]["e5_query_embedding"]))
    lines.append(line("  of which language detection", results["parts"]["language_detection"]))
    lines.append(line("  of which USE-m3 query embedding", results["parts"]["use_query_embedding"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
