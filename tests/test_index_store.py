"""Incremental indexing: no-op re-adds, replacement, removal, mismatch, rebuild (fake embedder)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qa_assistant.assistant import Assistant
from qa_assistant.errors import DocumentNotFoundError, IndexMismatchError, IndexMissingError
from qa_assistant.index_store import read_current
from qa_assistant.store import WordQuery
from qa_assistant.types import Document, DocumentMeta, SearchFilters, Segment, Session
from qa_assistant.vector_index import VectorIndex

from .conftest import FakeEmbedder, fake_settings


def _consistent(assistant: Assistant) -> tuple[int, int]:
    documents, passages, keyword, vectors = assistant.consistency()
    assert passages == keyword == vectors
    return documents, passages


def _row_counts(index_dir: Path, doc_id: str) -> tuple[int, int]:
    store = read_current(index_dir)
    assert store is not None
    with sqlite3.connect(store / "store.sqlite") as db:
        passages = db.execute("SELECT count(*) FROM passages WHERE doc_id=?", (doc_id,)).fetchone()
        documents = db.execute(
            "SELECT count(*) FROM documents WHERE doc_id=?", (doc_id,)
        ).fetchone()
    return documents[0], passages[0]


def test_adding_the_same_folder_twice_changes_nothing(
    fake_assistant: Assistant, corpus_copy: Path
) -> None:
    first = fake_assistant.add([corpus_copy])
    assert first.count("indexed") == 8 and first.count("failed") == 0
    state = _consistent(fake_assistant)
    again = fake_assistant.add([corpus_copy])
    assert again.count("unchanged") == 8 and again.passages == 0
    assert _consistent(fake_assistant) == state


def test_editing_one_file_replaces_only_its_passages(
    fake_assistant: Assistant, corpus_copy: Path
) -> None:
    fake_assistant.add([corpus_copy])
    before = {d.source: d for d in fake_assistant.list_documents()}
    summary = corpus_copy / "summary_en.md"
    summary.write_text(summary.read_text(encoding="utf-8") + "\n\nZanzibar quokka.\n", "utf-8")
    report = fake_assistant.add([corpus_copy])
    assert [(r.path, r.status) for r in report.files if r.status != "unchanged"] == [
        ("summary_en.md", "replaced")
    ]
    after = {d.source: d for d in fake_assistant.list_documents()}
    assert after["summary_en.md"].doc_id != before["summary_en.md"].doc_id
    assert _row_counts(fake_assistant.settings.index_dir, before["summary_en.md"].doc_id) == (0, 0)
    for source, doc in before.items():
        if source != "summary_en.md":
            assert after[source].doc_id == doc.doc_id and after[source].added_at == doc.added_at
    hits = fake_assistant.search("Zanzibar quokka", top_k=1)
    assert hits[0].document.source == "summary_en.md"
    _consistent(fake_assistant)


def test_remove_leaves_no_trace(fake_assistant: Assistant, corpus_copy: Path) -> None:
    fake_assistant.add([corpus_copy])
    documents, passages = _consistent(fake_assistant)
    target = next(d for d in fake_assistant.list_documents() if d.doc_format == "pdf")
    removed = fake_assistant.remove(target.source)
    assert removed.doc_id == target.doc_id
    assert _consistent(fake_assistant) == (documents - 1, passages - target.passages)
    assert _row_counts(fake_assistant.settings.index_dir, target.doc_id) == (0, 0)
    for hit in fake_assistant.search("ANSES 1,000 Days Plan report", top_k=20):
        assert hit.document.doc_id != target.doc_id
    with pytest.raises(DocumentNotFoundError, match="qa-assistant list"):
        fake_assistant.remove(target.doc_id)
    # A fresh process sees the same state (FAISS file and SQLite agree).
    reopened = Assistant(fake_assistant.settings, embedder=FakeEmbedder())
    assert _consistent(reopened) == (documents - 1, passages - target.passages)


def test_metadata_flags_override_the_manifest(fake_assistant: Assistant, corpus_copy: Path) -> None:
    session = Session("extra", "Extra session", "2023-01-01")
    fake_assistant.add([corpus_copy / "summary_en.md"], DocumentMeta(session=session, title="T"))
    (doc,) = fake_assistant.list_documents()
    assert doc.title == "T" and doc.session == session


def test_manifest_metadata_is_applied(fake_assistant: Assistant, corpus_copy: Path) -> None:
    fake_assistant.add([corpus_copy])
    docs = {d.source: d for d in fake_assistant.list_documents()}
    transcript = docs["2022-11-10-anses/transcript.vtt"]
    assert transcript.session is not None and transcript.session.date == "2022-11-10"
    assert transcript.recording_url and transcript.recording_url.startswith("https://")
    assert docs["2022-11-23-sintys/resume_fr.md"].language == "fr"


def test_filters_restrict_hits(fake_assistant: Assistant, corpus_copy: Path) -> None:
    fake_assistant.add([corpus_copy])
    for hit in fake_assistant.search(
        "SINTyS data", top_k=10, filters=SearchFilters(sessions=("2022-11-23-sintys",))
    ):
        assert hit.document.session and hit.document.session.session_id == "2022-11-23-sintys"
    speaker_hits = fake_assistant.search(
        "ANSES", top_k=10, filters=SearchFilters(speakers=("Florencia Hiquis",))
    )
    assert speaker_hits and all(h.passage.speaker == "Florencia Hiquis" for h in speaker_hits)
    for hit in fake_assistant.search("ANSES", top_k=10, filters=SearchFilters(kinds=("report",))):
        assert hit.document.kind == "report"
    spanish = fake_assistant.search("ANSES", top_k=10, filters=SearchFilters(languages=("es",)))
    assert spanish and all(h.passage.language == "es" for h in spanish)


def test_hits_from_one_document_do_not_overlap(
    fake_assistant: Assistant, corpus_copy: Path
) -> None:
    fake_assistant.add([corpus_copy])
    hits = fake_assistant.search("ANSES benefits life cycle", top_k=10)
    for i, a in enumerate(hits):
        for b in hits[i + 1 :]:
            if a.document.doc_id == b.document.doc_id:
                assert a.passage.char_end <= b.passage.char_start or (
                    b.passage.char_end <= a.passage.char_start
                )
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_citations_and_links(fake_assistant: Assistant, corpus_copy: Path) -> None:
    fake_assistant.add([corpus_copy])
    pdf = fake_assistant.search(
        "Federal Social Security Network", top_k=5, filters=SearchFilters(kinds=("report",))
    )
    page_hit = next(h for h in pdf if h.passage.pages)
    first, _ = page_hit.passage.pages
    assert f"p. {first}" in page_hit.citation.label or f"pp. {first}" in page_hit.citation.label
    assert page_hit.citation.link and page_hit.citation.link.endswith(f"#page={first}")
    video = fake_assistant.search(
        "ANSES",
        top_k=5,
        filters=SearchFilters(sessions=("2022-11-10-anses",), kinds=("transcript",)),
    )[0]
    assert video.citation.link and f"t={int(video.passage.start_seconds or 0)}" in (
        video.citation.link
    )
    assert "·" in video.citation.label and ":" in video.citation.label


def test_other_model_is_refused_with_rebuild_advice(tmp_path: Path, corpus_copy: Path) -> None:
    Assistant(fake_settings(tmp_path, corpus_copy), embedder=FakeEmbedder()).add(
        [corpus_copy / "summary_en.md"]
    )
    other = FakeEmbedder()
    other.name = "another-model"
    with pytest.raises(IndexMismatchError, match="qa-assistant rebuild"):
        Assistant(fake_settings(tmp_path, corpus_copy), embedder=other).search("ANSES")


def test_rebuild_swaps_in_a_new_version(tmp_path: Path, corpus_copy: Path) -> None:
    old = Assistant(fake_settings(tmp_path, corpus_copy), embedder=FakeEmbedder())
    old.add([corpus_copy])
    documents, passages = _consistent(old)
    folder_before = read_current(old.settings.index_dir)
    rebuilt = Assistant(
        fake_settings(tmp_path, corpus_copy, chunk_chars=400), embedder=FakeEmbedder()
    )
    report = rebuilt.rebuild()
    assert report.documents == documents and report.passages > passages
    assert read_current(old.settings.index_dir) != folder_before
    assert folder_before is not None and not folder_before.exists()
    # The process that served the old version follows the swap on its next question.
    assert old.search("ANSES")
    assert _consistent(old)[1] == report.passages


def test_an_index_of_the_previous_format_is_refused_then_rebuilt(
    tmp_path: Path, corpus_copy: Path
) -> None:
    """Format 1 had no stems column: it is refused with rebuild advice, and rebuild reads it."""
    assistant = Assistant(fake_settings(tmp_path, corpus_copy), embedder=FakeEmbedder())
    assistant.add([corpus_copy])
    documents, _ = _consistent(assistant)
    folder = read_current(assistant.settings.index_dir)
    assert folder is not None
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}), "utf-8")
    reopened = Assistant(fake_settings(tmp_path, corpus_copy), embedder=FakeEmbedder())
    with pytest.raises(IndexMismatchError, match=r"format 1.*qa-assistant rebuild"):
        reopened.search("ANSES")
    assert reopened.rebuild().documents == documents
    assert reopened.search("ANSES")


def test_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="qa-assistant add"):
        Assistant(fake_settings(tmp_path), embedder=FakeEmbedder()).search("ANSES")


def test_bad_files_are_reported_and_the_rest_indexed(
    fake_assistant: Assistant, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe AUH reaches informal workers.\n", "utf-8")
    (folder / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    (folder / "empty.vtt").write_text("", "utf-8")
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")
    (folder / "slides.key").write_bytes(b"PK\x03\x04")
    (folder / "evil\nname;rm -rf.md").write_text("Hostile names are fine.", "utf-8")
    report = fake_assistant.add([folder, tmp_path / "missing.pdf"])
    status = {Path(r.path).name: r.status for r in report.files}
    assert status == {
        "good.md": "indexed",
        "bad.pdf": "failed",
        "empty.vtt": "failed",
        "slides.pptx": "failed",
        "slides.key": "skipped",
        "evil\nname;rm -rf.md": "indexed",
        "missing.pdf": "failed",
    }
    for item in report.files:
        if item.status in ("failed", "skipped"):
            assert item.error
    _consistent(fake_assistant)


def test_vector_index_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1200, dtype=np.int64)
    index = VectorIndex(32)
    index.add(ids, vectors)
    query = vectors[7] + 0.1
    expected = np.argsort(-(vectors @ query), kind="stable")[:10]
    assert [i for i, _ in index.search(query, 10)] == [int(ids[j]) for j in expected]
    allowed = ids[::3]
    hits = index.search(query, 5, allowed)
    assert all(i in set(allowed.tolist()) for i, _ in hits) and len(hits) == 5
    assert index.remove(ids[:100]) == 100 and len(index) == 100


def _transcript(name: str, turns: list[str]) -> Document:
    """A transcript whose every turn is a section of its own, so each turn is one passage."""
    text, segments, offset = "", [], 0
    for number, turn in enumerate(turns):
        if text:
            text += "\n\n"
            offset += 2
        segments.append(
            Segment(
                char_start=offset,
                char_end=offset + len(turn),
                start_seconds=60.0 * number,
                end_seconds=60.0 * number + 59,
                section=f"part {number}",
            )
        )
        text += turn
        offset += len(turn)
    return Document(
        doc_id=name,
        source=f"{name}.vtt",
        sha256=name,
        title=name,
        kind="transcript",
        doc_format="vtt",
        language="en",
        text=text,
        segments=tuple(segments),
    )


def test_neighbours_lift_a_passage_inside_a_discussion(tmp_path: Path) -> None:
    """One meeting discusses the reform over three passages, the middle one in other words;
    another mentions pensions in passing. Alone, the passing mention outranks that middle
    passage; read with its neighbours, the whole discussion comes first."""
    discussion = _transcript(
        "meeting-a",
        [
            "Opening remarks and the agenda.",
            "The pension reform timeline was agreed for pension funds.",
            "The board then reviewed it with the ministry.",
            "The pension reform timeline starts in March with pension funds.",
            "Closing remarks.",
        ],
    )
    mention = _transcript(
        "meeting-b", ["The catering for the workshop.", "Someone mentioned the pension.", "Lunch."]
    )
    question = "pension reform timeline"

    def order(weight: float) -> list[str]:
        settings = fake_settings(tmp_path, neighbour_weight=weight)
        hits = Assistant(settings, embedder=FakeEmbedder()).search(question, 8)
        return [[*h.passage.text.split(), ""][1] for h in hits]

    Assistant(fake_settings(tmp_path), embedder=FakeEmbedder()).add_documents([discussion, mention])
    alone = order(0.0)
    assert alone.index("mentioned") < alone.index("board")
    together = order(1.0)
    assert sorted(together[:3]) == ["board", "pension", "pension"]
    # A passage keeps its own score when its neighbours' is lower: the strong ones lead.
    assert together[:2] == ["pension", "pension"]


def test_neighbours_are_read_in_text_order_within_one_document(
    fake_assistant: Assistant, corpus_copy: Path
) -> None:
    fake_assistant.add([corpus_copy])
    store = fake_assistant._current_store()
    doc = next(d for d in store.list_documents() if d.doc_format == "vtt")
    folder = read_current(fake_assistant.settings.index_dir)
    assert folder is not None
    with sqlite3.connect(folder / "store.sqlite") as db:
        ids = [
            r[0]
            for r in db.execute(
                "SELECT id FROM passages WHERE doc_id=? ORDER BY char_start", (doc.doc_id,)
            )
        ]
    assert len(ids) >= 3
    around = store.adjacent([ids[0], ids[1]], radius=1)
    assert around[ids[0]] == (None, ids[0], ids[1])
    assert around[ids[1]] == (ids[0], ids[1], ids[2])
    # In a kind that is not read with neighbours, a passage stands alone.
    assert store.adjacent([ids[1]], radius=1, kinds=("report",))[ids[1]] == (None, ids[1], None)
    # A document added later is seen (the order is read again after each change).
    fake_assistant.add_documents([_transcript("later", ["One.", "Two.", "Three."])])
    store = fake_assistant._current_store()
    with sqlite3.connect(folder / "store.sqlite") as db:
        later = [
            r[0]
            for r in db.execute("SELECT id FROM passages WHERE doc_id='later' ORDER BY char_start")
        ]
    assert store.adjacent([later[1]], radius=1)[later[1]] == tuple(later)


def test_keyword_scores_of_given_passages(fake_assistant: Assistant) -> None:
    fake_assistant.add_documents(
        [_transcript("m", ["The pension reform.", "Lunch break.", "Pension reform timeline."])]
    )
    store = fake_assistant._current_store()
    folder = read_current(fake_assistant.settings.index_dir)
    assert folder is not None
    with sqlite3.connect(folder / "store.sqlite") as db:
        ids = [r[0] for r in db.execute("SELECT id FROM passages ORDER BY char_start")]
    scores = store.keyword_scores(WordQuery(("pension", "timeline")), ids, SearchFilters())
    assert set(scores) == {ids[0], ids[2]}  # the lunch break does not match
    assert scores[ids[2]] > scores[ids[0]] > 0  # more of the words: a higher BM25 score
    assert store.keyword_scores(WordQuery(("pension",)), ids[1:2], SearchFilters()) == {}
