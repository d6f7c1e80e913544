"""Speed of the embedding backends on CPU: PyTorch, ONNX Runtime fp32 and ONNX Runtime int8.

For each `QA_EMBEDDING_BACKEND` (the product's `make_embedder`, default threads and batch size):
- passages: texts/s over PASSAGES SciFact abstracts cut to ~700 characters, embedded in slices
  of SLICE (as `add` embeds a batch of documents);
- questions: latency of `embed_queries([question])`, one at a time, over QUESTIONS SciFact claims
  (ONNX Runtime answers questions on one thread; PyTorch uses QA_THREADS, so "torch-1-thread"
  shows PyTorch on one thread too: on a busy machine two threads wait for each other);
- agreement: cosine of each vector with PyTorch's (min and mean);
- start-up: a fresh process that builds the embedder and embeds one question (the ONNX files
  already exported), and the construction alone; median of START_UP_RUNS.
Each backend runs in its own process and they take turns (slice by slice, question by
question), so that other work on a shared machine slows them alike and their thread pools do
not compete; ratios are against the PyTorch backend measured in the same run. Writes
benchmarks/results/embedding_speed.json.

    nice -n 10 .venv/bin/python benchmarks/embedding_speed.py
"""

from __future__ import annotations

import base64
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from typing import IO, Any

import numpy as np
from support import EVAL_DIR, REPO, RESULTS_DIR, machine

from qa_assistant.config import Settings

logger = logging.getLogger("benchmarks")

BACKENDS = ("torch", "onnx", "onnx-int8")
ONE_THREAD = "torch-1-thread"  # questions only: PyTorch with QA_THREADS=1
PASSAGES = 500
PASSAGE_CHARS = 700
SLICE = 50  # passages each backend embeds in its turn
QUESTIONS = 50
WARM_UP_QUESTIONS = 3
START_UP_RUNS = 3
PAUSE_S = 0.2  # between turns, for the previous process's threads to go idle
START_UP_SCRIPT = """
import sys, time
started = time.perf_counter()
from qa_assistant.config import Settings
from qa_assistant.embedding import make_embedder
embedder = make_embedder(Settings(embedding_backend=sys.argv[1]))
built = time.perf_counter()
embedder.embed_queries(["What is the 1,000 Days Plan?"])
print(built - started, time.perf_counter() - started, "torch" in sys.modules)
"""


def passages() -> list[str]:
    """PASSAGES abstracts of at least PASSAGE_CHARS characters, cut at a word near it."""
    texts: list[str] = []
    with (EVAL_DIR / "scifact" / "corpus.jsonl").open(encoding="utf-8") as rows:
        for line in rows:
            text = json.loads(line)["text"]
            if len(text) >= PASSAGE_CHARS:
                texts.append(text[: text.rfind(" ", 0, PASSAGE_CHARS)])
            if len(texts) == PASSAGES:
                break
    return texts


def questions() -> list[str]:
    with (EVAL_DIR / "scifact" / "queries.jsonl").open(encoding="utf-8") as rows:
        return [json.loads(line)["text"] for line in rows][: QUESTIONS + WARM_UP_QUESTIONS]


# ----- one process per backend ---------------------------------------------------------------
def serve(backend: str) -> int:
    """Worker: embed what each stdin line asks, answer with the seconds and the vectors."""
    from qa_assistant.embedding import make_embedder

    if backend == ONE_THREAD:
        embedder = make_embedder(Settings(embedding_backend="torch", threads=1))
    else:
        embedder = make_embedder(Settings(embedding_backend=backend))
    embedder.embed_passages(["warm-up passage " * 40] * 4)  # sessions, allocator
    embedder.embed_queries(["warm-up question"])
    print(json.dumps({"name": embedder.name}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        embed = embedder.embed_queries if request["role"] == "query" else embedder.embed_passages
        started = time.perf_counter()
        vectors = embed(request["texts"])
        seconds = time.perf_counter() - started
        payload = base64.b64encode(np.ascontiguousarray(vectors, np.float32).tobytes()).decode()
        print(json.dumps({"seconds": seconds, "vectors": payload}), flush=True)
    return 0


class Worker:
    """A backend in its own process."""

    def __init__(self, backend: str):
        self.backend = backend
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--worker", backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        self.name = str(json.loads(self._readline())["name"])

    def _readline(self) -> str:
        stdout: IO[str] | None = self._process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.backend} worker stopped (see its errors above)")
        return line

    def embed(self, role: str, texts: list[str]) -> tuple[float, np.ndarray]:
        """Seconds the embedding took in the worker, and the vectors."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"role": role, "texts": texts}) + "\n")
        self._process.stdin.flush()
        answer = json.loads(self._readline())
        vectors = np.frombuffer(base64.b64decode(answer["vectors"]), dtype=np.float32)
        return float(answer["seconds"]), vectors.reshape(len(texts), -1)

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait()


def measure(texts: list[str], asked: list[str]) -> dict[str, dict[str, Any]]:
    """Throughput, latency and agreement of every backend, the backends taking turns."""
    # exports the ONNX files if needed
    workers = [Worker(backend) for backend in (*BACKENDS, ONE_THREAD)]
    seconds = dict.fromkeys(BACKENDS, 0.0)
    latencies: dict[str, list[float]] = {worker.backend: [] for worker in workers}
    vectors: dict[str, dict[str, list[np.ndarray]]] = {
        worker.backend: {"passage": [], "query": []} for worker in workers
    }
    for start in range(0, len(texts), SLICE):
        for worker in workers[: len(BACKENDS)]:
            time.sleep(PAUSE_S)
            took, rows = worker.embed("passage", texts[start : start + SLICE])
            seconds[worker.backend] += took
            vectors[worker.backend]["passage"].append(rows)
        logger.info("passages %d: %s", start + SLICE, {b: round(s, 1) for b, s in seconds.items()})
    for number, question in enumerate(asked):
        for worker in workers:
            time.sleep(PAUSE_S)
            took, rows = worker.embed("query", [question])
            vectors[worker.backend]["query"].append(rows)
            if number >= WARM_UP_QUESTIONS:
                latencies[worker.backend].append(took * 1000)
    for worker in workers:
        worker.close()
    reference = {role: np.vstack(rows) for role, rows in vectors["torch"].items()}
    results: dict[str, dict[str, Any]] = {}
    for worker in workers:
        backend = worker.backend
        cosines = np.concatenate(
            [
                (np.vstack(rows) * reference[role]).sum(axis=1)
                for role, rows in vectors[backend].items()
                if rows
            ]
        )
        results[backend] = {"name": worker.name}
        if backend in seconds:
            results[backend] |= {
                "passages": len(texts),
                "passage_seconds": round(seconds[backend], 1),
                "passages_per_s": round(len(texts) / seconds[backend], 1),
            }
        results[backend] |= {
            "question_p50_ms": round(float(np.percentile(latencies[backend], 50)), 1),
            "question_p95_ms": round(float(np.percentile(latencies[backend], 95)), 1),
            "questions": len(latencies[backend]),
            "cosine_to_torch_min": round(float(cosines.min()), 5),
            "cosine_to_torch_mean": round(float(cosines.mean()), 5),
        }
        logger.info("%s: %s", backend, results[backend])
    return results


def start_up(backend: str) -> dict[str, Any]:
    """Seconds from a fresh interpreter to the first question vector (median of runs)."""
    runs: list[tuple[float, float]] = []
    torch_imported = False
    for _ in range(START_UP_RUNS):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", START_UP_SCRIPT, backend],
            cwd=REPO,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            capture_output=True,
            text=True,
            check=True,
        )
        total = time.perf_counter() - started
        build, _, imported = done.stdout.split()
        torch_imported = imported == "True"
        runs.append((total, float(build)))
    return {
        "process_to_first_vector_s": round(statistics.median(r[0] for r in runs), 2),
        "construct_s": round(statistics.median(r[1] for r in runs), 2),
        "imports_torch": torch_imported,
        "runs": START_UP_RUNS,
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    texts, asked = passages(), questions()
    chars = [len(text) for text in texts]
    logger.info("%d passages of %d-%d characters", len(texts), min(chars), max(chars))
    settings = Settings()
    results: dict[str, Any] = {
        "machine": machine(),
        "load_average_before": os.getloadavg(),
        "model": settings.model,
        "threads": settings.threads,
        "batch_size": settings.batch_size,
        "passage_chars_mean": round(statistics.mean(chars)),
        "backends": measure(texts, asked),
    }
    for backend in BACKENDS:
        results["backends"][backend]["start_up"] = start_up(backend)
        logger.info("%s start-up: %s", backend, results["backends"][backend]["start_up"])
    results["load_average_after"] = os.getloadavg()
    torch = results["backends"]["torch"]
    for backend in BACKENDS:
        result = results["backends"][backend]
        result["vs_torch"] = {
            "passages_per_s": round(result["passages_per_s"] / torch["passages_per_s"], 2),
            "question_p50_ms": round(result["question_p50_ms"] / torch["question_p50_ms"], 2),
            "start_up_s": round(
                result["start_up"]["process_to_first_vector_s"]
                / torch["start_up"]["process_to_first_vector_s"],
                2,
            ),
        }
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "embedding_speed.json").write_text(json.dumps(results, indent=1) + "\n")
    header = ("backend", "texts/s", "×", "p50 ms", "×", "start s", "×", "min cos")
    print("{:<10} {:>8} {:>5} {:>7} {:>5} {:>8} {:>5} {:>8}".format(*header))
    for backend in BACKENDS:
        result = results["backends"][backend]
        ratio = result["vs_torch"]
        print(
            f"{backend:<10} {result['passages_per_s']:>8} {ratio['passages_per_s']:>5}"
            f" {result['question_p50_ms']:>7} {ratio['question_p50_ms']:>5}"
            f" {result['start_up']['process_to_first_vector_s']:>8} {ratio['start_up_s']:>5}"
            f" {result['cosine_to_torch_min']:>8}"
        )
    one_thread = results["backends"][ONE_THREAD]
    print(
        f"{ONE_THREAD}: question p50 {one_thread['question_p50_ms']} ms"
        f" ({round(one_thread['question_p50_ms'] / torch['question_p50_ms'], 2)} × torch)"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(serve(sys.argv[2]))
    sys.exit(main())
