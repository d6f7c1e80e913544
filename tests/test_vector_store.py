"""Vectors stored once, updates in proportion to the document, and the approximate index.

Store-level tests with synthetic vectors (what is checked is bookkeeping and search, not a
model's quality); the real model's search is covered by the demo-question tests.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qa_assistant.index_store import IndexStore, read_current
from qa_assistant.store import Manifest, WordQuery
from qa_assistant.types import Document, DocumentMeta, Passage, SearchFilters
from qa_assistant.vector_index import VectorIndex

DIM = 32


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.normal(size=(rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _document(doc_id: str, passages: int, language: str = "en") -> tuple[Document, list[Passage]]:
    text = " ".join(f"{doc_id} word{i}" for i in range(passages))
    document = Document(
        doc_id=doc_id,
        source=f"{doc_id}.txt",
        sha256=doc_id * 4,
        title=doc_id,
        kind="report",
        doc_format="txt",
        language=language,
        text=text,
        segments=(),
    )
    step = max(1, len(text) // passages)
    parts = [
        Passage(
            passage_id=f"{doc_id}-{i}",
            doc_id=doc_id,
            text=f"{doc_id} word{i}",
            char_start=i * step,
            char_end=(i + 1) * step,
            language=language,
        )
        for i in range(passages)
    ]
    return document, parts


def _store(root: Path) -> IndexStore:
    store = IndexStore.create(root, Manifest("synthetic", DIM, 700, 150, 1200, 0))
    store.make_current()
    return store


def _log_rows(root: Path) -> list[tuple[int, int, int]]:
    folder = read_current(root)
    assert folder is not None
    with sqlite3.connect(folder / "store.sqlite") as db:
        return db.execute(
            "SELECT generation, row_id, added FROM vector_log ORDER BY rowid"
        ).fetchall()


def test_each_change_touches_only_its_own_rows_and_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = _store(tmp_path)
    for number in range(5):
        doc, passages = _document(f"doc{number}", 4)
        store.write_document(doc, DocumentMeta(), passages, _unit(rng, 4))
    store.flush()
    reader = IndexStore.open_current(tmp_path)  # another process's view, loaded in full
    before = _log_rows(tmp_path)
    kept = {i for i, p in reader.passages(list(range(1, 100))).items() if p.doc_id != "doc2"}

    # Replacing one document logs its 4 old rows out and its 3 new rows in, nothing else.
    doc, passages = _document("doc2", 3)
    store.write_document(doc, DocumentMeta(), passages, _unit(rng, 3), replace_doc_id="doc2")
    changed = _log_rows(tmp_path)[len(before) :]
    assert sorted(added for _, _, added in changed) == [0, 0, 0, 0, 1, 1, 1]
    assert not {row for row, _ in [(r, a) for _, r, a in changed]} & kept
    # Removing another logs only its own rows.
    store.delete_document("doc4")
    removed = _log_rows(tmp_path)[len(before) + 7 :]
    assert len(removed) == 4 and all(added == 0 for _, _, added in removed)

    # The reader catches up through the log alone and agrees with the writer, id by id.
    reader.refresh()
    assert reader.check_integrity().sound
    assert store.check_integrity().sound
    assert reader.counts() == store.counts() == (4, 15, 15, 15)
    # No vector file: each vector is stored once, in its passage row.
    assert not list(read_current(tmp_path).glob("vectors.*"))  # type: ignore[union-attr]


def test_a_reader_behind_a_trimmed_log_reloads_in_full(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    store = _store(tmp_path)
    doc, passages = _document("first", 3)
    store.write_document(doc, DocumentMeta(), passages, _unit(rng, 3))
    reader = IndexStore.open_current(tmp_path)
    for number in range(3):
        doc, passages = _document(f"more{number}", 2)
        store.write_document(doc, DocumentMeta(), passages, _unit(rng, 2))
    store._trim_log(store.generation())  # what compaction does once the log is long
    reader.refresh()
    assert reader.check_integrity().sound and reader.counts()[3] == 9


def test_approximate_index_finds_what_exact_search_finds() -> None:
    rng = np.random.default_rng(3)
    centres = _unit(rng, 50)
    vectors = centres[rng.integers(0, 50, 20_000)] + 0.3 * _unit(rng, 20_000)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(10, 20_010, dtype=np.int64)
    exact = VectorIndex(DIM)
    exact.add(ids, vectors)
    approximate = VectorIndex.approximate(DIM, ids, vectors)
    assert not approximate.exact and len(approximate) == 20_000
    queries = _unit(rng, 50)
    found = 0
    for query in queries:
        truth = {i for i, _ in exact.search(query, 10)}
        # Candidates as the store asks for them (4 x 10), re-scored exactly.
        proposed = [i for i, _ in approximate.search(query, 40)]
        rescored = sorted(proposed, key=lambda i: -float(vectors[i - 10] @ query))[:10]
        found += len(truth & set(rescored))
    assert found / (10 * len(queries)) >= 0.98
    # A narrow filter still returns the allowed nearest vectors, and only them.
    allowed = ids[::97]
    truth = [i for i, _ in exact.search(queries[0], 5, allowed)]
    hits = approximate.search(queries[0], 20, allowed)
    assert {i for i, _ in hits} <= set(allowed.tolist())
    assert set(truth) <= {i for i, _ in hits}
    # Removal keeps it consistent.
    assert approximate.remove(ids[:100]) == 100 and len(approximate) == 19_900
    assert not set(approximate.ids().tolist()) & set(ids[:100].tolist())


def test_large_index_switches_to_approximate_and_snapshots(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    store = _store(tmp_path)
    store.approximate_from = 2_000
    for number in range(25):
        doc, passages = _document(f"d{number}", 100)
        store.write_document(doc, DocumentMeta(), passages, _unit(rng, 100))
    store.flush()
    folder = read_current(tmp_path)
    assert folder is not None
    snapshots = list(folder.glob("vectors.*.faiss"))
    assert len(snapshots) == 1 and not store._vectors.exact
    query = _unit(rng, 1)[0]
    hits = store.vector_search(query, 5, SearchFilters())
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and len(hits) == 5
    # Exact cosines: the stored vectors decide.
    stored = store.stored_vectors([i for i, _ in hits])
    assert np.allclose(stored @ query, scores, atol=1e-5)
    # A new reader loads the snapshot and applies the log written after it.
    doc, passages = _document("late", 7)
    store.write_document(doc, DocumentMeta(), passages, _unit(rng, 7))
    reader = IndexStore.open_current(tmp_path)
    assert reader.counts()[3] == 2_507 and reader.check_integrity().sound
    assert not reader._vectors.exact


@pytest.mark.parametrize("size", [0, 3])
def test_integrity_report_counts_vectors_either_way(tmp_path: Path, size: int) -> None:
    store = _store(tmp_path)
    if size:
        doc, passages = _document("only", size)
        store.write_document(doc, DocumentMeta(), passages, _unit(np.random.default_rng(5), size))
    report = store.check_integrity()
    assert report.sound and report.passages == size


def test_word_search_in_a_large_library_leaves_out_common_terms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa_assistant import index_store
    from qa_assistant.keyword_index import fts_query

    store = _store(tmp_path)
    rng = np.random.default_rng(6)
    for number in range(30):  # "word1" … are in every document; "zebra" in one passage
        doc, passages = _document(f"d{number}", 4)
        if number == 7:
            passages[2] = Passage("d7-z", "d7", "d7 zebra word1", 0, 5, language="en")
        store.write_document(doc, DocumentMeta(), passages, _unit(rng, 4))
    monkeypatch.setattr(index_store, "PRUNE_FROM", 50)
    monkeypatch.setattr(index_store, "COMMON_MATCHES", 10)
    match = fts_query(["word1", "zebra"])
    assert match is not None
    assert store._without_common_terms(match) == 'text : "zebra"'
    hits = store.keyword_search(WordQuery(("word1", "zebra")), 5, SearchFilters())
    assert [store.passages([i for i, _ in hits])[hits[0][0]].passage_id] == ["d7-z"]
    # All terms common: only passages holding every one of them.
    both = fts_query(["word1", "word2"])
    assert both is not None and " AND " in store._without_common_terms(both)
