"""Load on the served app: many participants asking while an organiser adds a document.

The real server (`qa-assistant serve`, a subprocess on a free loopback port) over a fresh
index of a copy of the demo corpus (`qa-assistant add`), so nothing in the repository changes.
Then, in one run:

1. baseline: one `gradio_client` client alone asks every demo question (en, fr, es, ar)
   BASELINE_PASSES times in sequence through `/ask`;
2. load: CLIENTS clients (threads) ask the same questions in a loop for LOAD_SECONDS;
   ORGANISER_DELAY_S in, an organiser uploads a generated Markdown note through `/add` and
   then runs `/rebuild`. Every ask records its latency, its error text if any and whether it
   overlapped the add/rebuild window.

Also records the queue and concurrency settings the app is built with, and whether the default
client (which downloads anything that looks like a file) works against `/ask`. The server's
process group is terminated at the end, whatever happens. Writes benchmarks/results/load.json
and the load section of docs/benchmarks.md. Takes 2–4 minutes on 2 cores.

    .venv/bin/python benchmarks/load.py
    .venv/bin/python benchmarks/load.py --ask-concurrency 1,2,4,8 --seconds 45   # a trial
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from gradio_client import Client, handle_file
from support import DOCS_FILE, REPO, RESULTS_DIR, machine, replace_section

logger = logging.getLogger("benchmarks")

CORPUS = REPO / "corpus"
QUESTIONS = REPO / "tests" / "data" / "demo_questions.jsonl"
QA = REPO / ".venv" / "bin" / "qa-assistant"
HOST = "127.0.0.1"  # loopback only
CLIENTS = 20
LOAD_SECONDS = 75.0  # each client asks until then (or until the organiser is done)
MAX_LOAD_SECONDS = 150.0  # hard stop even if the organiser is still busy
ORGANISER_DELAY_S = 15.0  # load reaches a steady state before the add
AFTER_ORGANISER_S = 5.0  # asks keep going this long after the rebuild
BASELINE_PASSES = 2
WARM_UP_ASKS = 3
REQUEST_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 20.0
NOTE_PARAGRAPHS = 24  # about the size of the session 1 report (≈ 20 passages)


# ----- records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ask:
    """One `/ask` call; times in seconds from the start of its phase."""

    phase: str  # "baseline" | "load"
    client: int
    question: str
    language: str
    started_s: float
    latency_ms: float
    error: str | None


@dataclass
class Organiser:
    """The organiser's two calls; times in seconds from the start of the load phase."""

    add_started_s: float | None = None
    add_ended_s: float | None = None
    rebuild_started_s: float | None = None
    rebuild_ended_s: float | None = None
    add_result: Any = None
    rebuild_result: Any = None
    errors: list[str] = field(default_factory=list)

    def window(self) -> tuple[float, float] | None:
        if self.add_started_s is None:
            return None
        end = self.rebuild_ended_s or self.add_ended_s
        return None if end is None else (self.add_started_s, end)


# ----- server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def child_env(password: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        QA_ADMIN_PASSWORD=password,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
    )
    return env


def build_index(folder: Path, env: dict[str, str]) -> float:
    """`qa-assistant add` of a copy of the demo corpus into folder/index; returns seconds."""
    shutil.copytree(CORPUS, folder / "corpus")
    started = time.perf_counter()
    subprocess.run(
        [str(QA), *paths_options(folder), "add", str(folder / "corpus")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
    )
    return time.perf_counter() - started


def paths_options(folder: Path) -> list[str]:
    return ["--index-dir", str(folder / "index"), "--corpus-dir", str(folder / "corpus")]


# The app with another ask queue limit: build_app reads the module constant when it runs.
PATCHED_SERVE = (
    "import sys; from qa_assistant.ui import app; app.ASK_CONCURRENCY = int(sys.argv.pop(1));"
    " from qa_assistant.cli import main; main()"
)


def start_server(
    folder: Path, port: int, env: dict[str, str], ask_concurrency: int | None = None
) -> subprocess.Popen[bytes]:
    log = (folder / "server.log").open("wb")
    command = [str(QA), *paths_options(folder), "serve", "--port", str(port)]
    if ask_concurrency is not None:  # a trial, never the product's numbers
        python = str(QA.parent / "python")
        command = [python, "-c", PATCHED_SERVE, str(ask_concurrency), *command[1:]]
    # A session of its own: stop_server ends the whole group, gradio's threads and all.
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> float:
    """Seconds until the server answers /config; raises if it exits or takes too long."""
    started = time.perf_counter()
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{tail(log)}")
        try:
            if httpx.get(f"{url}config", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer within {READY_TIMEOUT_S:.0f} s:\n{tail(log)}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)


def tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def server_errors(log: Path) -> list[str]:
    """Tracebacks and ERROR lines the server logged (first line of each, plus its last line)."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    found: list[str] = []
    blocks = text.split("Traceback (most recent call last):")
    for block in blocks[1:]:
        body = [line for line in block.splitlines() if line.strip()]
        last = next((line for line in body if not line.startswith(" ")), body[-1] if body else "")
        found.append(f"Traceback … {last.strip()}")
    found += [line for line in text.splitlines() if line.startswith("ERROR")]
    return found


# ----- queue settings ---------------------------------------------------------------------------
def queue_settings(folder: Path) -> dict[str, Any]:
    """The queue and concurrency of each public endpoint and of the chat, as the app builds them.

    Read from the Blocks that `build_app` returns (gradio's /config does not publish them);
    `default_concurrency_limit` is set by `launch`, so it is read from launch's source.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from qa_assistant.config import Settings
    from qa_assistant.ui import app

    settings = Settings(index_dir=folder / "index", corpus_dir=folder / "corpus")
    demo = app.build_app(app.create_assistant(settings), settings)
    events = {}
    for function in demo.fns.values():
        if function.api_name in ("ask", "add", "remove", "rebuild", "chat_turn", "library_add"):
            events[function.api_name] = {
                "concurrency_id": function.concurrency_id,
                "concurrency_limit": function.concurrency_limit,
            }
    default = re.search(r"default_concurrency_limit=(\d+)", inspect.getsource(app.launch))
    return {
        "events": events,
        "default_concurrency_limit": int(default.group(1)) if default else None,
        "max_threads": demo.max_threads,
        "ask_concurrency_constant": app.ASK_CONCURRENCY,
        "model_threads": settings.threads,
    }


# ----- clients ----------------------------------------------------------------------------------
def load_questions() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    return [(row["question"], row.get("language", "und")) for row in rows]


def connect(url: str, download_files: bool) -> Client:
    if download_files:
        return Client(url, verbose=False)
    return Client(url, verbose=False, download_files=False)


def ask_once(
    client: Client, question: str, language: str, phase: str, number: int, origin: float
) -> Ask:
    started = time.perf_counter()
    error = None
    try:
        job = client.submit(question, api_name="/ask")
        answer = job.result(timeout=REQUEST_TIMEOUT_S)
        if not isinstance(answer, dict) or "hits" not in answer:
            error = f"unexpected answer: {str(answer)[:200]}"
    except Exception as exc:  # every failure is a result here, with its text
        error = f"{type(exc).__name__}: {exc}"[:500]
    return Ask(
        phase,
        number,
        question,
        language,
        round(started - origin, 3),
        round((time.perf_counter() - started) * 1000, 1),
        error,
    )


def check_default_client(url: str, question: str) -> str | None:
    """None when the default client (downloads file-like outputs) answers /ask, else the error."""
    try:
        answer = Client(url, verbose=False).predict(question, api_name="/ask")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if not isinstance(answer, dict) or "hits" not in answer:
        return f"unexpected answer: {str(answer)[:200]}"
    return None


def baseline(url: str, download_files: bool, questions: Sequence[tuple[str, str]]) -> list[Ask]:
    client = connect(url, download_files)
    origin = time.perf_counter()
    for question, language in questions[:WARM_UP_ASKS]:
        ask_once(client, question, language, "warm-up", 0, origin)
    origin = time.perf_counter()
    return [
        ask_once(client, question, language, "baseline", 0, origin)
        for _ in range(BASELINE_PASSES)
        for question, language in questions
    ]


def participant(
    number: int,
    client: Client,
    questions: Sequence[tuple[str, str]],
    origin: float,
    done: threading.Event,
    results: list[Ask],
    lock: threading.Lock,
) -> None:
    """Ask in a loop, each client from its own place in the list, until told to stop."""
    position = number * 7 % len(questions)  # clients ask different questions at a time
    while not done.is_set():
        question, language = questions[position % len(questions)]
        record = ask_once(client, question, language, "load", number, origin)
        if record.error is not None:
            logger.warning("client %d at %.1f s: %s", number, record.started_s, record.error)
        with lock:
            results.append(record)
        position += 1


def write_note(folder: Path) -> Path:
    """A Markdown note no index has seen (a fresh stamp), so /add really reads and embeds it."""
    stamp = secrets.token_hex(4)
    topics = [
        ("registration", "household registration visits in the interior regions"),
        ("payments", "the monthly transfer calendar and the bank agents"),
        ("identifiers", "checking the unique identifier against the civil registry"),
        ("complaints", "the complaints line and its answer time"),
    ]
    lines = [f"# Organiser note {stamp}: follow-up of the webinar series", ""]
    for number in range(NOTE_PARAGRAPHS):
        key, topic = topics[number % len(topics)]
        lines += [
            f"## Item {number + 1}: {key}",
            "",
            f"Follow-up item {number + 1} of note {stamp} concerns {topic}. The working group"
            f" met {number + 2} times and agreed that the pilot would cover {10 * (number + 3)}"
            " municipalities before the national roll-out. The ministry will publish the"
            f" indicators every {number % 3 + 1} months, with the share of eligible households"
            " reached, the average delay between registration and first payment, and the"
            " number of complaints resolved within thirty days.",
            "",
        ]
    path = folder / f"organiser_note_{stamp}.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def organise(
    url: str,
    download_files: bool,
    password: str,
    note: Path,
    origin: float,
    result: Organiser,
    done: threading.Event,
) -> None:
    """Wait, /add the note, then /rebuild; records times and results or errors."""
    try:
        client = connect(url, download_files)
        time.sleep(max(0.0, ORGANISER_DELAY_S - (time.perf_counter() - origin)))
        result.add_started_s = time.perf_counter() - origin
        result.add_result = client.predict(
            [handle_file(str(note))],
            password,
            "load-test",
            "Load test",
            "",
            "",
            "en",
            "Organiser note (load test)",
            api_name="/add",
        )
        result.add_ended_s = time.perf_counter() - origin
        result.rebuild_started_s = time.perf_counter() - origin
        result.rebuild_result = client.predict(password, api_name="/rebuild")
        result.rebuild_ended_s = time.perf_counter() - origin
    except Exception as exc:
        result.errors.append(f"{type(exc).__name__}: {exc}"[:500])
    finally:
        done.set()


def load(
    url: str,
    download_files: bool,
    questions: Sequence[tuple[str, str]],
    password: str,
    note: Path,
    clients: int,
    seconds: float,
) -> tuple[list[Ask], Organiser, float]:
    """CLIENTS participants and one organiser at once; returns asks, organiser, wall seconds."""
    connected = [connect(url, download_files) for _ in range(clients)]
    results: list[Ask] = []
    lock = threading.Lock()
    organiser = Organiser()
    organiser_done, stop = threading.Event(), threading.Event()
    origin = time.perf_counter()
    threads = [
        threading.Thread(
            target=participant,
            args=(n, client, questions, origin, stop, results, lock),
            name=f"participant-{n}",
        )
        for n, client in enumerate(connected, start=1)
    ]
    threads.append(
        threading.Thread(
            target=organise,
            args=(url, download_files, password, note, origin, organiser, organiser_done),
            name="organiser",
        )
    )
    for thread in threads:
        thread.start()
    organiser_done.wait(MAX_LOAD_SECONDS)
    if organiser.window() is not None:
        logger.info("organiser done at %.1f s", organiser.window()[1])  # type: ignore[index]
    elapsed = time.perf_counter() - origin
    end = min(max(seconds, elapsed + AFTER_ORGANISER_S), MAX_LOAD_SECONDS)
    time.sleep(max(0.0, end - elapsed))
    stop.set()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_S + 5)
    return results, organiser, time.perf_counter() - origin


# ----- summary ----------------------------------------------------------------------------------
def percentiles(latencies_ms: Sequence[float]) -> dict[str, float | int | None]:
    if not latencies_ms:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None}
    values = np.array(latencies_ms)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "p99_ms": round(float(np.percentile(values, 99)), 1),
        "mean_ms": round(float(values.mean()), 1),
        "max_ms": round(float(values.max()), 1),
    }


def overlaps(ask: Ask, window: tuple[float, float] | None) -> bool:
    if window is None:
        return False
    return ask.started_s < window[1] and ask.started_s + ask.latency_ms / 1000 > window[0]


def summarise(
    asks: Sequence[Ask], organiser: Organiser, wall_s: float, base: Sequence[Ask]
) -> dict[str, Any]:
    ok = [a for a in asks if a.error is None]
    window = organiser.window()
    add_window = (
        (organiser.add_started_s, organiser.add_ended_s)
        if organiser.add_started_s is not None and organiser.add_ended_s is not None
        else None
    )
    rebuild_window = (
        (organiser.rebuild_started_s, organiser.rebuild_ended_s)
        if organiser.rebuild_started_s is not None and organiser.rebuild_ended_s is not None
        else None
    )
    base_ok = [a.latency_ms for a in base if a.error is None]
    errors: dict[str, int] = {}
    for a in [*base, *asks]:
        if a.error is not None:
            errors[a.error] = errors.get(a.error, 0) + 1
    overall = percentiles([a.latency_ms for a in ok])
    single = percentiles(base_ok)
    base_wall = (base[-1].started_s + base[-1].latency_ms / 1000) if base else 0.0
    return {
        "asks": len(asks),
        "errors": sum(1 for a in asks if a.error is not None),
        "baseline_errors": sum(1 for a in base if a.error is not None),
        "error_kinds": errors,
        "wall_s": round(wall_s, 1),
        "asks_per_s": round(len(ok) / wall_s, 2),
        "latency": {
            "baseline_1_client": single,
            "all": overall,
            "outside_add_rebuild": percentiles(
                [a.latency_ms for a in ok if not overlaps(a, window)]
            ),
            "during_add_rebuild": percentiles([a.latency_ms for a in ok if overlaps(a, window)]),
            "during_add": percentiles([a.latency_ms for a in ok if overlaps(a, add_window)]),
            "during_rebuild": percentiles(
                [a.latency_ms for a in ok if overlaps(a, rebuild_window)]
            ),
        },
        "baseline_asks_per_s": round(len(base_ok) / base_wall, 2) if base_wall else None,
        "p50_ratio_to_baseline": (
            round(overall["p50_ms"] / single["p50_ms"], 1)
            if overall["p50_ms"] and single["p50_ms"]
            else None
        ),
        "organiser": {
            "add_s": _span(organiser.add_started_s, organiser.add_ended_s),
            "rebuild_s": _span(organiser.rebuild_started_s, organiser.rebuild_ended_s),
            "window_s": [round(t, 1) for t in window] if window else None,
            "add_result": organiser.add_result,
            "rebuild_result": organiser.rebuild_result,
            "errors": organiser.errors,
        },
    }


def _span(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 1)


# ----- docs -------------------------------------------------------------------------------------
def cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def render(results: dict[str, Any]) -> str:
    run, summary, queue = results["run"], results["summary"], results["queue"]
    lat, organiser = summary["latency"], summary["organiser"]
    events = queue.get("events", {})
    machine_info = results["machine"]
    add_files = (organiser.get("add_result") or {}).get("files") or [{}]
    added = add_files[0]
    rebuild = organiser.get("rebuild_result") or {}
    client_note = (
        "each the default `Client(url)`"
        if run["download_files"]
        else "each `Client(url, download_files=False)`: the default client failed with"
        f" `{run['default_client_error']}`"
    )
    end_note = (
        "The default client answered at the start and again at the end of the run."
        if run["default_client_error_at_end"] is None
        else f"At the end the default client still fails: `{run['default_client_error_at_end']}`."
    )
    mean_s = (lat["all"]["mean_ms"] or 0) / 1000
    cores = machine_info["cores"] or 1
    ask_limit = events.get("ask", {}).get("concurrency_limit")
    lines = [
        "## Load (`benchmarks/load.py`)",
        "",
        f"Run {machine_info['date']} on {machine_info['cores']} cores ({machine_info['cpu']});"
        f" load average {run['load_average_before'][0]:.1f} before and"
        f" {run['load_average_after'][0]:.1f} after the load phase (other processes share the"
        f" machine), `benchmarks/results/load.json`. The real server (`qa-assistant serve`, a"
        f" subprocess on loopback) over a fresh index of a copy of the demo corpus (built in"
        f" {run['index_build_s']:.0f} s; the server answered {run['server_ready_s']:.0f} s after"
        f" starting). {run['clients']} clients (threads; {client_note}) ask the"
        f" {run['questions']} demo questions ({', '.join(run['languages'])}) in a loop through"
        f" `/ask` for {summary['wall_s']:.0f} s; {ORGANISER_DELAY_S:.0f} s in, an organiser"
        " uploads a generated Markdown note through `/add`, then runs `/rebuild`. The baseline is"
        f" one client alone asking the same questions {BASELINE_PASSES} times in sequence, in the"
        " same run. An ask counts as during the add/rebuild if its time overlaps it.",
        "",
        "| asks | n | errors | asks/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
        f"| 1 client alone, sequential | {lat['baseline_1_client']['n']} |"
        f" {summary['baseline_errors']} | {summary['baseline_asks_per_s']} | "
        + " | ".join(cell(lat["baseline_1_client"][k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
        + " |",
    ]
    for label, key in (
        (f"{run['clients']} clients, whole run", "all"),
        ("  outside the add/rebuild", "outside_add_rebuild"),
        ("  during the add/rebuild", "during_add_rebuild"),
        ("  during the add", "during_add"),
        ("  during the rebuild", "during_rebuild"),
    ):
        block = lat[key]
        errors = f"{summary['errors']}" if key == "all" else ""
        rate = f"{summary['asks_per_s']}" if key == "all" else ""
        lines.append(
            f"| {label} | {block['n']} | {errors} | {rate} | "
            + " | ".join(cell(block[k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
            + " |"
        )
    lines += [
        "",
        f"Median latency with {run['clients']} clients is {summary['p50_ratio_to_baseline']}×"
        f" the single client's. That is queueing, not slower asks: the clients ask with no pause,"
        f" so the machine is saturated, and {run['clients']} clients at"
        f" {summary['asks_per_s']} asks/s give a mean response time of"
        f" {run['clients'] / summary['asks_per_s']:.2f} s by Little's law (measured mean"
        f" {mean_s:.2f} s). Of the {cores * summary['wall_s']:.0f} CPU-seconds of the load phase"
        f" the server used {run['server_cpu_s']:.0f} and the {run['clients']} clients (one"
        f" Python process) {run['clients_cpu_s']:.0f}; other processes took the rest."
        f" Organiser: `/add` of the note took {organiser['add_s']} s"
        f" ({added.get('status', '?')}, {added.get('passages', '?')} passages), `/rebuild`"
        f" {organiser['rebuild_s']} s ({rebuild.get('documents', '?')} documents,"
        f" {rebuild.get('passages', '?')} passages, {rebuild.get('embedded', '?')} embedded,"
        f" {rebuild.get('reused', '?')} reused from the embedding cache)."
        + (f" Organiser errors: {'; '.join(organiser['errors'])}." if organiser["errors"] else "")
        + (
            " Errors: "
            + "; ".join(f"{n}× `{text}`" for text, n in summary["error_kinds"].items())
            + "."
            if summary["error_kinds"]
            else ""
        )
        + (
            f" Server log: {len(results['server_errors'])} tracebacks or ERROR lines."
            if results["server_errors"]
            else " The server logged no traceback."
        )
        + f" {end_note}",
        "",
        "Queues in effect (read from the Blocks that `build_app` returns, and from `launch`):",
        "",
        "| events | queue (`concurrency_id`) | `concurrency_limit` |",
        "|---|---|---|",
        f"| Ask tab (Enter, Ask button) and the `/ask` API |"
        f" `{events.get('ask', {}).get('concurrency_id')}` |"
        f" {events.get('ask', {}).get('concurrency_limit')} |",
        f"| Library tab actions and the `/add`, `/remove`, `/rebuild` API |"
        f" `{events.get('add', {}).get('concurrency_id')}` |"
        f" {events.get('add', {}).get('concurrency_limit')} |",
        f"| every other event (filters, list refresh) | default |"
        f" {queue.get('default_concurrency_limit')} (`queue(default_concurrency_limit=…)`) |",
        f"| gradio worker threads | | {queue.get('max_threads')} (`max_threads`) |",
        "",
        f"Why these values: the machine has {cores} cores and the embedding model"
        f" (multilingual-e5-small, {queue.get('model_threads')} torch threads) is one instance"
        " shared by every ask and every ingest, so more asks at once than a few only queue"
        " inside torch and the Python interpreter instead of in gradio's queue, where waiting"
        f" is visible and in order. {ask_limit} at a time is {ask_limit / cores:g} per core:"
        " enough to overlap one ask's Python work (tokenising, fusion, SQLite reads, JSON) with"
        " another's model time, few enough that each ask keeps the CPU it gets (in-process an"
        " ask is ~40 ms, speed section above). Asks have their own queue (`ask`), separate"
        " from the organiser queue (`organiser`, one action at a time, as `Assistant` allows"
        " one write at a time anyway), so a question never waits behind an ingest or a"
        " rebuild: the old index keeps answering until the new one is swapped in, and asks"
        " only share the CPU with it. To try other ask limits on the same machine:"
        " `benchmarks/load.py --ask-concurrency 1,2,8` (prints a table, writes nothing).",
    ]
    return "\n".join(lines) + "\n"


# ----- main -------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trial(
    folder: Path,
    env: dict[str, str],
    password: str,
    questions: Sequence[tuple[str, str]],
    options: argparse.Namespace,
    ask_concurrency: int | None,
) -> dict[str, Any]:
    """Serve the index, run the baseline and the load, stop the server; the results."""
    port = free_port()
    url = f"http://{HOST}:{port}/"
    log = folder / "server.log"
    server = start_server(folder, port, env, ask_concurrency)
    try:
        ready_s = wait_until_ready(server, url, log)
        logger.info("server on %s after %.1f s", url, ready_s)
        default_error = check_default_client(url, questions[0][0])
        download_files = default_error is None
        if default_error:
            logger.warning("default client failed (%s): download_files=False", default_error)
        base = baseline(url, download_files, questions)
        logger.info("baseline: %s", percentiles([a.latency_ms for a in base]))
        load_before = os.getloadavg()
        server_cpu, own_cpu = cpu_seconds(server.pid), time.process_time()
        asks, organiser, wall_s = load(
            url,
            download_files,
            questions,
            password,
            write_note(folder),
            options.clients,
            options.seconds,
        )
        server_cpu, own_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - own_cpu
        load_after = os.getloadavg()
        default_error_at_end = check_default_client(url, questions[1][0])
    finally:
        stop_server(server)
    results: dict[str, Any] = {
        "run": {
            "clients": options.clients,
            "load_seconds": options.seconds,
            "ask_concurrency_override": ask_concurrency,
            "questions": len(questions),
            "languages": sorted({language for _, language in questions}),
            "server_ready_s": round(ready_s, 1),
            "download_files": download_files,
            "default_client_error": default_error,
            "default_client_error_at_end": default_error_at_end,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            # Where the 2 cores went during the load phase (the clients run on them too).
            "server_cpu_s": round(server_cpu, 1),
            "clients_cpu_s": round(own_cpu, 1),
        },
        "summary": summarise(asks, organiser, wall_s, base),
        "server_errors": server_errors(log),
        "asks": [asdict(a) for a in [*base, *asks]],
    }
    if results["server_errors"]:
        results["server_log_tail"] = tail(log, 60)
    log.rename(folder / f"server-{port}.log")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seconds", type=float, default=LOAD_SECONDS)
    parser.add_argument(
        "--ask-concurrency",
        help="comma-separated ask queue limits to try instead of the app's (e.g. 1,2,8), one"
        " server each on the same index; a trial: prints a table, writes no file",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the results; write no file (trial runs)"
    )
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "gradio_client", "sentence_transformers", "transformers", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("qa_assistant").setLevel(logging.WARNING)
    questions = load_questions()
    password = os.environ.get("QA_ADMIN_PASSWORD") or secrets.token_urlsafe(16)
    env = child_env(password)
    limits: list[int | None] = [None]
    if options.ask_concurrency:
        limits = [int(value) for value in options.ask_concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="qa-load-") as name:
        folder = Path(name)
        index_s = build_index(folder, env)
        logger.info("index built in %.1f s", index_s)
        queue = queue_settings(folder)
        logger.info("queues: %s", queue)
        runs = [trial(folder, env, password, questions, options, limit) for limit in limits]
    if options.ask_concurrency:
        print(sweep_table(runs))
        return 0
    results: dict[str, Any] = {"machine": machine(), "queue": queue, **runs[0]}
    results["run"]["index_build_s"] = round(index_s, 1)
    logger.info("summary: %s", json.dumps(results["summary"], ensure_ascii=False)[:3000])
    if options.no_write:
        print(json.dumps({k: v for k, v in results.items() if k != "asks"}, indent=1))
        return 0
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "load.json"
    out.write_text(results_text(results), encoding="utf-8")
    replace_section(DOCS_FILE, "load", render(results))
    logger.info("wrote %s and the load section of %s", out, DOCS_FILE)
    return 1 if results["summary"]["errors"] else 0


def results_text(results: dict[str, Any]) -> str:
    """The results as JSON, one line per ask (the file stays small enough to read and diff)."""
    head = json.dumps({k: v for k, v in results.items() if k != "asks"}, indent=1)
    columns = list(Ask.__dataclass_fields__)
    rows = ",\n".join(
        "  " + json.dumps([ask[c] for c in columns], ensure_ascii=False) for ask in results["asks"]
    )
    return f'{head[:-2]},\n "ask_columns": {json.dumps(columns)},\n "asks": [\n{rows}\n ]\n}}\n'


def sweep_table(runs: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| ask limit | asks | errors | asks/s | p50 | p95 | p99 | p95 during add/rebuild |"
        " 1-client p50 | add s | server CPU s | clients CPU s | load avg |",
        "|" + "---|" * 13,
    ]
    for run in runs:
        summary, info = run["summary"], run["run"]
        lat = summary["latency"]
        lines.append(
            f"| {info['ask_concurrency_override']} | {summary['asks']} | {summary['errors']} |"
            f" {summary['asks_per_s']} | {cell(lat['all']['p50_ms'])} |"
            f" {cell(lat['all']['p95_ms'])} | {cell(lat['all']['p99_ms'])} |"
            f" {cell(lat['during_add_rebuild']['p95_ms'])} |"
            f" {cell(lat['baseline_1_client']['p50_ms'])} | {summary['organiser']['add_s']} |"
            f" {info['server_cpu_s']} | {info['clients_cpu_s']} |"
            f" {info['load_average_before'][0]} |"
        )
    for run in runs:
        limit = run["run"]["ask_concurrency_override"]
        for text, count in run["summary"]["error_kinds"].items():
            lines.append(f"limit {limit}: {count}x {text}")
        lines += [f"limit {limit}: server: {line}" for line in run["server_errors"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
