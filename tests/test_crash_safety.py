"""SIGKILL `qa-assistant add`, `remove` and `rebuild` at seeded random moments: after every
kill the index opens, answers and is consistent id by id, and rerunning the command finishes
the work; leftovers of a killed rebuild break nothing and the next writer removes them.

Most kills run the installed CLI with the test FakeEmbedder in place of the model (`_FAKE_CLI`):
everything else is the real code path (click command, Assistant, readers, chunking, the
embedding cache, SQLite and FAISS writes), and a command then takes about a second instead of
the several seconds that importing torch alone takes, so the kill points fall on the writes.
One test kills the CLI with the real packaged model (all-MiniLM-L6-v2).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.config import Settings
from qa_assistant.index_store import IndexStore, read_current

from .conftest import REPO, FakeEmbedder

MODEL = "all-MiniLM-L6-v2"  # the smaller packaged model, for the one real-model kill
FAKE_MODEL = FakeEmbedder.name
KILLS_PER_COMMAND = 8
SEED = 20240611
QUESTION = "Which provincial offices coordinate the pension benefit?"
REBUILD_CHUNK_CHARS = "500"  # rebuild re-chunks and re-embeds everything with the new size

# The real CLI with the FakeEmbedder as its model (the `embedder` property is the only change).
# FAKE_EMBED_DELAY (seconds per embedding call) slows a run down, so that another process can
# be started while it still holds the write lock.
_FAKE_CLI = (
    f"import os, sys, time; sys.path.insert(0, {str(REPO)!r})\n"
    "from tests.conftest import FakeEmbedder\n"
    "from qa_assistant.assistant import Assistant\n"
    "from qa_assistant.cli import main\n"
    "delay = float(os.environ.get('FAKE_EMBED_DELAY', '0'))\n"
    "class Slow(FakeEmbedder):\n"
    "    def _embed(self, texts):\n"
    "        time.sleep(delay)\n"
    "        return super()._embed(texts)\n"
    "Assistant.embedder = property(lambda self: Slow())\n"
    "main()\n"
)


@dataclass(frozen=True)
class Workspace:
    """Generated materials and two built indexes to copy for each kill."""

    root: Path
    corpus: Path
    base: Path  # index of corpus/base (16 notes and one long document)
    full: Path  # index of corpus/base and corpus/extra


def cli_env(index: Path, corpus: Path, model: str = FAKE_MODEL, **extra: str) -> dict[str, str]:
    """Environment of a CLI run: cheap settings that leave the write path as it is."""
    return {
        **os.environ,
        "QA_INDEX_DIR": str(index),
        "QA_CORPUS_DIR": str(corpus),
        "QA_MODEL": model,
        "QA_RERANK": "false",  # the second stage only reads
        "QA_HIGHLIGHT_SENTENCES": "0",  # no priming of sentence vectors (only the cache)
        "QA_OCR": "false",
        "QA_MIN_SCORE": "0",
        "HF_HUB_OFFLINE": "1",
        # Vectors named by the model alone (the fake model has no ONNX build; `assert_sound`
        # opens the index with a fake embedder of the model's name).
        "QA_EMBEDDING_BACKEND": "torch",
        **extra,
    }


def start_cli(
    env: dict[str, str], log: Path, *args: str, fake_model: bool = True
) -> subprocess.Popen[bytes]:
    """Start `qa-assistant ARGS` with output to LOG.out/LOG.err (files: a full pipe would
    stall the process and skew the kill times)."""
    command = ["-c", _FAKE_CLI] if fake_model else ["-m", "qa_assistant.cli"]
    with open(log.with_suffix(".out"), "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        return subprocess.Popen([sys.executable, *command, *args], env=env, stdout=out, stderr=err)


def run_cli(env: dict[str, str], log: Path, *args: str, fake_model: bool = True) -> int:
    """Run `qa-assistant ARGS` to the end; its exit code."""
    return start_cli(env, log, *args, fake_model=fake_model).wait(timeout=600)


def output(log: Path, stream: str = "out") -> str:
    """What a CLI run started with `log` printed."""
    return log.with_suffix(f".{stream}").read_text(encoding="utf-8", errors="replace")


def note(number: int, lines: int) -> str:
    """A generated note: similar sentences with distinct numbers."""
    return " ".join(
        f"Note {number}.{line}: provincial offices coordinate pension benefit {line * number}"
        f" for region {number % 7}."
        for line in range(lines)
    )


def write_materials(corpus: Path) -> None:
    """corpus/base: 16 notes and one long document; corpus/extra: 96 notes."""
    base, extra = corpus / "base", corpus / "extra"
    base.mkdir(parents=True)
    extra.mkdir()
    for number in range(16):
        (base / f"note_{number:03d}.txt").write_text(note(number, 40), encoding="utf-8")
    for number in range(100, 196):
        (extra / f"note_{number:03d}.txt").write_text(note(number, 60), encoding="utf-8")
    words = random.Random(SEED)
    chapters = (
        " ".join(
            f"Chapter {c} line {n}: pension w{words.randint(0, 999)} office." for n in range(12)
        )
        for c in range(800)
    )
    (base / "long.txt").write_text("\n\n".join(chapters), encoding="utf-8")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Materials and the base and full indexes, built once by the CLI."""
    root = tmp_path_factory.mktemp("crash")
    corpus = root / "corpus"
    write_materials(corpus)
    base, full = root / "base", root / "full"
    assert run_cli(cli_env(base, corpus), root / "base-add", "add", str(corpus / "base")) == 0
    shutil.copytree(base, full)
    assert run_cli(cli_env(full, corpus), root / "full-add", "add", str(corpus / "extra")) == 0
    return Workspace(root, corpus, base, full)


def assert_sound(index: Path, corpus: Path, model: str = FAKE_MODEL, dimension: int = 256) -> int:
    """Check an index after a kill; return its number of documents.

    Independently of the package: SQLite's own integrity check, passages = keyword rows id by
    id, every passage has its document and every document passages, and a FAISS file written
    for the current generation holds exactly the stored vectors (none for a newer one). Then
    through the package: it opens, lists, answers with whole hits, and its id-by-id check
    (`IndexStore.check_integrity`, FAISS as loaded) finds nothing.
    """
    import faiss

    folder = read_current(index)
    assert folder is not None, sorted(p.name for p in index.iterdir())
    uri = f"{(folder / 'store.sqlite').as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(db.execute("SELECT id, vector FROM passages").fetchall())
        keyword = {r[0] for r in db.execute("SELECT rowid FROM passages_fts")}
        assert set(stored) == keyword, set(stored) ^ keyword
        orphans = db.execute(
            "SELECT count(*) FROM passages p LEFT JOIN documents d ON d.doc_id = p.doc_id"
            " WHERE d.doc_id IS NULL"
        ).fetchone()[0]
        empty = db.execute(
            "SELECT count(*) FROM documents d"
            " WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.doc_id = d.doc_id)"
        ).fetchone()[0]
        assert orphans == 0 and empty == 0, (orphans, empty)
        row = db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
        generation = int(row[0]) if row else 0
    files = {int(p.name.split(".")[1]): p for p in folder.glob("vectors.*.faiss")}
    assert all(g <= generation for g in files), (sorted(files), generation)
    if generation in files:
        written = faiss.read_index(str(files[generation]))
        ids = faiss.vector_to_array(written.id_map)
        assert sorted(ids.tolist()) == sorted(stored)
        for row_id, blob in stored.items():
            assert np.array_equal(written.reconstruct(row_id), np.frombuffer(blob, np.float32))

    embedder = FakeEmbedder()
    embedder.name, embedder.dimension = model, dimension
    settings = Settings(
        index_dir=index,
        corpus_dir=corpus,
        model=model,
        rerank=False,
        highlight_sentences=0,
        min_score=0.0,
    )
    assistant = Assistant(settings, embedder)
    documents = assistant.list_documents()
    assert len(documents) == len({d.doc_id for d in documents}) > 0
    answer = assistant.ask(QUESTION)
    assert answer.hits
    for hit in answer.hits:
        assert hit.passage.doc_id == hit.document.doc_id and hit.passage.text
    counted, passages, keyword_rows, vectors = assistant.consistency()
    assert counted == len(documents) and passages == keyword_rows == vectors == len(stored)
    store = IndexStore.open_current(index)
    try:
        report = store.check_integrity()
    finally:
        store.close()
    assert report.sound, report
    return len(documents)


def leftovers(index: Path) -> list[str]:
    """Version folders besides the current one, and temporary files."""
    current = read_current(index)
    found = [p.name for p in index.glob("v-*") if p != current]
    found += [p.name for p in index.glob("*.tmp-*")]
    if current is not None:
        found += [p.name for p in current.glob("*.tmp*")]
    return sorted(found)


def kill_points(rng: random.Random, duration: float) -> list[float]:
    """KILLS_PER_COMMAND delays in [0, duration], one in each equal slice (seeded)."""
    width = duration / KILLS_PER_COMMAND
    return [width * (slot + rng.random()) for slot in range(KILLS_PER_COMMAND)]


def kill_at(
    env: dict[str, str], log: Path, delay: float, *args: str
) -> subprocess.Popen[bytes] | None:
    """Start the command and SIGKILL it after `delay` s; None when it finished first."""
    process = start_cli(env, log, *args)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)  # a no-op if it has just finished
        if process.wait(timeout=60) == -signal.SIGKILL:
            return process
    assert process.returncode == 0, output(log, "err")
    return None


def measured(env: dict[str, str], log: Path, *args: str) -> float:
    """Seconds the command takes when not killed (it must succeed)."""
    started = time.monotonic()
    assert run_cli(env, log, *args) == 0, output(log, "err")
    return time.monotonic() - started


def kill_repeatedly(
    workspace: Workspace,
    name: str,
    source: Path,
    args: tuple[str, ...],
    check: Callable[[Path, dict[str, str], int], str],
    **env_extra: str,
) -> Counter[str]:
    """Kill `qa-assistant ARGS` on copies of `source` at KILLS_PER_COMMAND seeded moments;
    after each, assert_sound, then `check(index, env, kill)` reruns the command, checks its
    work and says where the kill fell. Returns how many kills fell where."""
    rng = random.Random(f"{SEED}-{name}")
    trials = workspace.root / name
    trials.mkdir()
    probe = trials / "measure"
    shutil.copytree(source, probe)
    duration = measured(cli_env(probe, workspace.corpus, **env_extra), trials / "measure", *args)
    phases: Counter[str] = Counter()
    for kill, delay in enumerate(kill_points(rng, duration)):
        for _ in range(4):  # the box got faster than measured: kill earlier
            index = trials / f"kill-{kill}"
            shutil.rmtree(index, ignore_errors=True)
            shutil.copytree(source, index)
            env = cli_env(index, workspace.corpus, **env_extra)
            if kill_at(env, trials / f"kill-{kill}", delay, *args) is not None:
                break
            delay /= 2
        else:
            pytest.fail(f"{name} always finished before {delay:.2f} s")
        try:
            assert_sound(index, workspace.corpus)
            phases[check(index, env, kill)] += 1
        except AssertionError as exc:
            raise AssertionError(f"{name} killed after {delay:.2f} s (kill {kill})") from exc
        shutil.rmtree(index)
    print(f"{name}: {duration:.2f} s unkilled; {sum(phases.values())} kills: {dict(phases)}")
    return phases


def source_of(index: Path) -> set[str]:
    """Sources of the documents in an index."""
    folder = read_current(index)
    assert folder is not None
    with closing(sqlite3.connect(folder / "store.sqlite")) as db:
        return {r[0] for r in db.execute("SELECT source FROM documents")}


@pytest.mark.slow
def test_killing_add_remove_and_rebuild_at_random_moments(workspace: Workspace) -> None:
    extra = {f"extra/{p.name}" for p in (workspace.corpus / "extra").iterdir()}
    base_sources = source_of(workspace.base)
    full_version = (read_current(workspace.full) or workspace.full).name

    def add_again(index: Path, env: dict[str, str], kill: int) -> str:
        done = len(source_of(index) & extra)
        log = index.parent / f"rerun-{kill}"
        assert run_cli(env, log, "add", "--json", str(workspace.corpus / "extra")) == 0
        statuses = {
            r["source"]: r["status"] for r in map(json.loads, output(log).splitlines()) if r
        }
        assert set(statuses) == extra
        assert Counter(statuses.values()) == Counter(unchanged=done, indexed=len(extra) - done)
        assert source_of(index) == base_sources | extra
        assert_sound(index, workspace.corpus)
        return "before writing" if done == 0 else "mid-way" if done < len(extra) else "after"

    def remove_again(index: Path, env: dict[str, str], kill: int) -> str:
        gone = "base/long.txt" not in source_of(index)
        log = index.parent / f"rerun-{kill}"
        code = run_cli(env, log, "remove", "base/long.txt")
        assert code == 0 or (gone and "no document" in output(log, "err")), output(log, "err")
        assert "base/long.txt" not in source_of(index)
        assert_sound(index, workspace.corpus)
        return "after the commit" if gone else "before the commit"

    def rebuild_again(index: Path, env: dict[str, str], kill: int) -> str:
        left = leftovers(index)
        swapped = (read_current(index) or index).name != full_version
        log = index.parent / f"rerun-{kill}"
        assert run_cli(env, log, "rebuild") == 0, output(log, "err")
        assert leftovers(index) == [], leftovers(index)
        assert len(list(index.glob("v-*"))) == 1
        manifest = json.loads((read_current(index) or index).joinpath("manifest.json").read_text())
        assert manifest["chunk_chars"] == int(REBUILD_CHUNK_CHARS)
        assert source_of(index) == base_sources | extra
        assert_sound(index, workspace.corpus)
        return "after the swap" if swapped else "mid-way" if left else "before writing"

    add = kill_repeatedly(
        workspace, "add", workspace.base, ("add", str(workspace.corpus / "extra")), add_again
    )
    remove = kill_repeatedly(
        workspace, "remove", workspace.full, ("remove", "base/long.txt"), remove_again
    )
    rebuild = kill_repeatedly(
        workspace,
        "rebuild",
        workspace.full,
        ("rebuild",),
        rebuild_again,
        QA_CHUNK_CHARS=REBUILD_CHUNK_CHARS,
    )
    assert sum(add.values()) + sum(remove.values()) + sum(rebuild.values()) >= 20
    # The slices spread the kills: some must fall while the command writes.
    assert add["mid-way"] >= 2, add
    assert rebuild["mid-way"] >= 2, rebuild


def test_leftovers_of_a_killed_rebuild_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "a").mkdir(parents=True)
    for number in range(3):
        (corpus / "a" / f"note_{number}.txt").write_text(note(number, 20), encoding="utf-8")
    settings = Settings(
        index_dir=tmp_path / "index", corpus_dir=corpus, model=FAKE_MODEL, rerank=False
    )
    assistant = Assistant(settings, FakeEmbedder())
    assistant.add([corpus / "a"])
    index = settings.index_dir
    current = read_current(index)
    assert current is not None
    # What a rebuild killed before its swap leaves: a version folder with part of the data,
    # and temporary files of a process that no longer runs.
    active = IndexStore.open_current(index)
    doc, meta = next(active.iter_documents())
    unfinished = IndexStore.create(index, active.manifest)
    unfinished.write_document(doc, meta, [], np.zeros((0, 256), np.float32))
    unfinished.close()
    active.close()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    (index / f"CURRENT.tmp-{dead_pid}").write_text("v-unfinished\n")
    (current / f"vectors.9.faiss.tmp-{dead_pid}").write_bytes(b"partial")
    live = current / f"vectors.9.faiss.tmp-{os.getpid()}"  # a live process's: kept
    live.write_bytes(b"being written")
    for path in (*index.glob("*.tmp-*"), *current.glob("*.tmp-*")):
        os.utime(path, (time.time() - 3600, time.time() - 3600))  # older than the grace time
    assert len(leftovers(index)) == 4

    # Readers are not disturbed by them ...
    assert len(Assistant(settings, FakeEmbedder()).list_documents()) == 3
    assert Assistant(settings, FakeEmbedder()).ask(QUESTION).hits
    # ... and the next writer clears them.
    (corpus / "a" / "note_9.txt").write_text(note(9, 20), encoding="utf-8")
    assert assistant.add([corpus / "a"]).count("indexed") == 1
    assert leftovers(index) == [live.name]
    assert read_current(index) == current
    assert assistant.consistency()[0] == 4


@pytest.mark.slow
def test_sigkill_during_add_with_the_real_model(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for folder, numbers in (("base", range(8)), ("more", range(100, 112))):
        (corpus / folder).mkdir(parents=True)
        for number in numbers:
            (corpus / folder / f"note_{number:03d}.txt").write_text(note(number, 60), "utf-8")
    index = tmp_path / "index"
    env = cli_env(index, corpus, MODEL)
    first = run_cli(env, tmp_path / "first", "add", str(corpus / "base"), fake_model=False)
    assert first == 0, output(tmp_path / "first", "err")
    documents = assert_sound(index, corpus, MODEL, 384)

    start = _generation(index)
    log = tmp_path / "victim"
    victim = start_cli(env, log, "add", str(corpus / "more"), fake_model=False)
    deadline = time.monotonic() + 300
    while _generation(index) < start + 3 and time.monotonic() < deadline:
        assert victim.poll() is None, "add finished before it could be killed"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL

    killed = assert_sound(index, corpus, MODEL, 384)
    assert documents < killed < documents + 12

    log = tmp_path / "resumed"
    resumed = run_cli(env, log, "add", str(corpus / "more"), fake_model=False)
    assert resumed == 0, output(log, "err")
    assert assert_sound(index, corpus, MODEL, 384) == documents + 12


def _generation(index: Path) -> int:
    folder = read_current(index)
    if folder is None:
        return 0
    with closing(sqlite3.connect(folder / "store.sqlite", timeout=5)) as db:
        row = db.execute("SELECT value FROM state WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0
