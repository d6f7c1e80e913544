"""The store interface, run against both implementations: the index folder (SQLite + FAISS) and
Milvus (the real engine, embedded with milvus-lite).

Each test gets an empty index of one kind; the same assertions hold for both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_assistant.assistant import Assistant, open_location
from qa_assistant.errors import IndexMissingError
from qa_assistant.store import Manifest, Store, WordQuery
from qa_assistant.types import Document, DocumentMeta, Passage, SearchFilters, Segment, Session
from tests.conftest import FakeEmbedder, fake_settings

STORES = ("folder", "milvus-lite")


@pytest.fixture(params=STORES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def settings_for(kind: str, tmp: Path, **extra: object):  # type: ignore[no-untyped-def]
    store = f"milvus-lite://{tmp / 'milvus' / 'index.db'}" if kind == "milvus-lite" else ""
    return fake_settings(tmp, tmp / "corpus", store=store, **extra)


MANIFEST = Manifest(model="fake-bow", dimension=8, chunk_chars=700, chunk_overlap=150)


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.normal(size=(rows, 8)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _document(
    doc_id: str,
    texts: list[str],
    kind: str = "transcript",
    language: str = "en",
    session: str = "s1",
    speaker: str | None = "Ana",
) -> tuple[Document, list[Passage]]:
    text = " ".join(texts)
    passages, start = [], 0
    for number, passage_text in enumerate(texts):
        passages.append(
            Passage(
                f"{doc_id}-{number}",
                doc_id,
                passage_text,
                start,
                start + len(passage_text),
                start_seconds=10.0 * number if kind == "transcript" else None,
                end_seconds=10.0 * number + 9 if kind == "transcript" else None,
                pages=(number + 1, number + 1) if kind == "report" else None,
                speaker=speaker,
                language=language,
            )
        )
        start += len(passage_text) + 1
    doc = Document(
        doc_id=doc_id,
        source=f"{doc_id}.txt",
        sha256=f"sha-{doc_id}",
        title=f"Title {doc_id}",
        kind=kind,  # type: ignore[arg-type]
        doc_format="txt",
        language=language,
        text=text,
        segments=(Segment(text, 0, len(text), speaker=speaker),),
        session=Session(session, f"Session {session}", "2025-01-01"),
    )
    return doc, passages


@pytest.fixture
def store(kind: str, tmp_path: Path) -> Store:
    made = open_location(settings_for(kind, tmp_path)).create(MANIFEST)
    made.make_current()
    return made


def _fill(store: Store) -> dict[str, list[Passage]]:
    rng = np.random.default_rng(7)
    written = {}
    for doc, passages in (
        _document("alpha", ["The pension reform was debated.", "Lunch break.", "Pensions again."]),
        _document(
            "beta",
            ["La réforme des retraites en Tunisie.", "Les pensions des travailleurs."],
            language="fr",
            session="s2",
            speaker="Karim",
        ),
        _document("gamma", ["Report on cash transfers.", "Annex tables."], kind="report"),
    ):
        vectors = _unit(rng, len(passages))
        store.write_document(doc, DocumentMeta(title=doc.title), passages, vectors)
        written[doc.doc_id] = passages
    store.flush()
    store.refresh()
    return written


def _ids(store: Store, doc_id: str) -> list[int]:
    """Row ids of a document's passages in text order (through the interface)."""
    hits = store.adjacent(_all_ids(store), 0)
    by_passage = store.passages(sorted(hits))
    mine = [(p.char_start, i) for i, p in by_passage.items() if p.doc_id == doc_id]
    return [i for _, i in sorted(mine)]


def _all_ids(store: Store) -> list[int]:
    vector = np.zeros(8, dtype=np.float32)
    vector[0] = 1.0
    return [i for i, _ in store.vector_search(vector, 100, SearchFilters())]


# ----- documents and passages -------------------------------------------------------------------
def test_documents_round_trip(store: Store) -> None:
    written = _fill(store)
    assert store.counts()[:2] == (3, 7)
    assert [d.doc_id for d in store.list_documents()] == ["alpha", "gamma", "beta"]
    info = store.find_document("alpha")
    assert info is not None and info.passages == 3 and info.session is not None
    assert store.find_document("beta.txt") is not None  # by source
    assert store.find_document("nothing") is None
    assert store.find_by_sha("sha-gamma") is not None
    meta = store.stored_meta("beta")
    assert meta is not None and meta.title == "Title beta"
    assert set(store.documents_by_id({"alpha", "gamma"})) == {"alpha", "gamma"}
    (doc, _), *_ = list(store.iter_documents("beta"))
    assert doc.text.startswith("La réforme") and doc.segments[0].speaker == "Karim"
    assert [p.text for p in store.document_passages("alpha")] == [p.text for p in written["alpha"]]
    assert store.passage_count() == 7
    assert store.languages() == ("en", "fr")
    facets = store.facets()
    assert [s.session_id for s in facets.sessions] == ["s1", "s2"]
    assert facets.speakers[0] == "Ana" and facets.kinds == ("report", "transcript")


def test_passages_keep_their_provenance(store: Store) -> None:
    _fill(store)
    ids = _ids(store, "alpha")
    passage = store.passages(ids)[ids[1]]
    assert (passage.start_seconds, passage.end_seconds, passage.speaker) == (10.0, 19.0, "Ana")
    report = store.passages(_ids(store, "gamma"))
    assert sorted(p.pages for p in report.values()) == [(1, 1), (2, 2)]  # type: ignore[type-var]


def test_neighbours_within_a_document(store: Store) -> None:
    _fill(store)
    alpha = _ids(store, "alpha")
    gamma = _ids(store, "gamma")
    assert store.adjacent([alpha[1]], 1)[alpha[1]] == tuple(alpha)
    assert store.adjacent([alpha[0]], 1)[alpha[0]] == (None, alpha[0], alpha[1])
    # Reports read alone when only transcripts have neighbours.
    assert store.adjacent([gamma[0]], 1, ("transcript",))[gamma[0]] == (None, gamma[0], None)


def test_filters(store: Store) -> None:
    _fill(store)
    every = _all_ids(store)
    french = store.passing(every, SearchFilters(languages=("fr",)))
    assert french == set(_ids(store, "beta"))
    assert store.passing(every, SearchFilters(kinds=("report",))) == set(_ids(store, "gamma"))
    assert store.passing(every, SearchFilters(speakers=("Karim",))) == set(_ids(store, "beta"))
    assert store.passing(every, SearchFilters(sessions=("s2",), doc_ids=("alpha",))) == set()


# ----- search -----------------------------------------------------------------------------------
def test_vector_search_is_exact_and_filtered(store: Store) -> None:
    _fill(store)
    every = sorted(_all_ids(store))
    vectors = store.stored_vectors(every)
    query = vectors[2] + 0.1 * vectors[5]
    query /= np.linalg.norm(query)
    hits = store.vector_search(query, 3, SearchFilters())
    expected = np.argsort(-(vectors @ query))[:3]
    assert [i for i, _ in hits] == [every[j] for j in expected]
    assert hits[0][1] == pytest.approx(float(vectors[expected[0]] @ query), abs=1e-4)
    only = store.vector_search(query, 10, SearchFilters(doc_ids=("gamma",)))
    assert {i for i, _ in only} == set(_ids(store, "gamma"))


def test_word_search_as_written_and_by_stems(store: Store) -> None:
    _fill(store)
    alpha, beta = _ids(store, "alpha"), _ids(store, "beta")
    hits = store.keyword_search(WordQuery(("pension",)), 10, SearchFilters())
    assert [i for i, _ in hits] == [alpha[0]]  # "pension" as written; not "Pensions"
    stems = store.keyword_search(WordQuery(("pension",), "en", stems=True), 10, SearchFilters())
    assert {i for i, _ in stems} == {alpha[0], alpha[2], beta[1]}  # "Pensions", "pensions"
    # Accents and case folded, as FTS5 folds them; the language filter applies.
    french = store.keyword_search(
        WordQuery(("reforme", "retraites")), 10, SearchFilters(languages=("fr",))
    )
    assert [i for i, _ in french] == [beta[0]]
    assert store.keyword_search(WordQuery(("zebra",)), 10, SearchFilters()) == []
    scores = store.keyword_scores(WordQuery(("pension", "debated")), alpha, SearchFilters())
    assert set(scores) == {alpha[0]} and scores[alpha[0]] > 0
    counts = store.term_counts(
        [WordQuery(("pension",), "en", True), WordQuery(("karim",))], alpha[:1]
    )
    assert counts == [(3, 1), (2, 0)]  # "Karim" is a speaker: searchable, in beta only


# ----- changes ----------------------------------------------------------------------------------
def test_delete_and_replace_touch_only_their_document(store: Store) -> None:
    _fill(store)
    before = store.generation()
    gamma = set(_ids(store, "gamma"))
    assert store.delete_document("alpha") == 3
    store.flush()
    store.refresh()
    assert store.generation() > before
    assert store.find_document("alpha") is None and store.counts()[:2] == (2, 4)
    assert store.keyword_search(WordQuery(("pension",)), 10, SearchFilters()) == []
    doc, passages = _document("beta2", ["Les pensions réformées."], language="fr")
    rng = np.random.default_rng(1)
    store.write_document(doc, DocumentMeta(), passages, _unit(rng, 1), replace_doc_id="beta")
    store.flush()
    store.refresh()
    assert store.find_document("beta") is None and store.find_document("beta2") is not None
    assert set(_ids(store, "gamma")) == gamma  # untouched: same ids
    assert store.counts()[:2] == (2, 3)


def test_calibration_is_kept(store: Store) -> None:
    assert store.calibration() is None
    text = '{"x": "' + "é" * 40_000 + '"}'  # longer than one Milvus text field
    store.save_calibration(text)
    assert store.calibration() == text


# ----- through the Assistant --------------------------------------------------------------------
def _notes(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        (folder / f"note_{number}.md").write_text(
            f"# Note {number}\n\nSINTyS links {number} registries of social programmes.\n",
            encoding="utf-8",
        )


def test_assistant_adds_asks_removes_and_rebuilds(kind: str, tmp_path: Path) -> None:
    settings = settings_for(kind, tmp_path)
    assistant = Assistant(settings, embedder=FakeEmbedder())
    with pytest.raises(IndexMissingError):
        assistant.ask("SINTyS")
    _notes(tmp_path / "corpus", 3)
    report = assistant.add([tmp_path / "corpus"])
    assert report.count("indexed") == 3
    again = assistant.add([tmp_path / "corpus"])
    assert again.count("unchanged") == 3 and assistant.consistency()[:2] == (3, 3)
    answer = assistant.ask("Which registries does SINTyS link?")
    assert answer.hits and answer.hits[0].citation.label
    assistant.remove("note_1.md")
    assert [d.source for d in assistant.list_documents()] == ["note_0.md", "note_2.md"]
    old = assistant._current_store()
    rebuilt = assistant.rebuild()
    assert rebuilt.documents == 2
    assert assistant._current_store() is not old
    # Another process (here: another Assistant) opening the location reads the new version.
    other = Assistant(settings, embedder=FakeEmbedder())
    assert [d.source for d in other.list_documents()] == ["note_0.md", "note_2.md"]
    assert other.ask("registries SINTyS").hits


def test_store_settings_that_cannot_work_say_what_to_do(tmp_path: Path) -> None:
    from qa_assistant.config import Settings
    from qa_assistant.errors import QAError

    for spec, message in (
        ("postgres://db/x", "milvus-lite:///path/index.db or http://host:19530"),
        (f"milvus-lite://{tmp_path / 'index.sqlite'}", "must end in .db"),
        (f"milvus-lite://{tmp_path / 'x.db'}#bad-name", "not a valid Milvus collection name"),
    ):
        with pytest.raises(QAError, match=message):
            open_location(Settings(store=spec, index_dir=tmp_path / "index"))
