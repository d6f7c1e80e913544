"""How a question becomes ranked passages: six stages, each a function with typed input and output.

    question
      1. analyse      → Query        embed it; its language; its words to search
      2. retrieve     → Candidates   dense search + word search (BM25) in its language,
                                     pseudo-relevance feedback, neighbours' context
         measure      → Evidence     how closely the nearest passages match (for abstention)
      3. fuse         → [row id]     dense order; words re-order same-language passages in
                                     place; document prior
      4. diversify    → [row id]     drop windows that overlap a better one of the same document
      5. second stage → [row id]     `rerank.Reranker` (best sentence, USE-m3 across languages)
      6. cite         → [Hit]        citations, links and highlighted sentences

`Searcher.search` runs them in this order; `Assistant` builds the Searcher from `Settings`.
Stages 3 and 4 are pure; 1, 2, `measure` and 6 read the index and the models through
the `store.Store` interface (SQLite + FAISS by default, or Milvus) and the `Embedder`.
`Searcher.evidence` measures a question without ranking (abstention's calibration measures its
probe questions so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from qa_assistant.abstention import word_share
from qa_assistant.answering import (
    choose_highlights,
    make_citation,
    passage_sentences,
    sentence_texts,
)
from qa_assistant.embedding import embed_with_cache
from qa_assistant.fusion import (
    convex_order,
    document_prior,
    fuse_within_group,
    neighbour_smoothed,
    reorder_within,
)
from qa_assistant.keyword_index import (
    keyword_terms,
    question_names,
    stemmed_terms,
)
from qa_assistant.language import detect_language, written_in
from qa_assistant.store import WordQuery
from qa_assistant.types import DocumentInfo, Evidence, Hit, Passage, Retriever, SearchFilters

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from qa_assistant.embedding import Embedder
    from qa_assistant.rerank import Reranker
    from qa_assistant.store import Cache, Store

Scored = list[tuple[int, float]]  # (row id, score), best first


@dataclass(frozen=True)
class SearchOptions:
    """Tunables of the stages (from Settings; docs/benchmarks.md says why each default)."""

    candidates: int = 50  # hits pulled from each retriever
    rrf_k: int = 60
    word_weight: float = 0.5  # word search's say among same-language passages (0: dense only)
    fusion: Literal["rrf", "convex"] = "rrf"
    convex_weight: float = 0.3  # convex fusion: share of the normalised word score
    stem_languages: tuple[str, ...] = ()  # word search compares Snowball stems in these
    feedback_weight: float = 0.0  # dense pseudo-relevance feedback (Rocchio β; 0: off)
    feedback_depth: int = 3
    neighbour_weight: float = 0.0
    neighbour_radius: int = 2
    neighbour_kinds: tuple[str, ...] | None = None
    document_weight: float = 0.0  # the document prior's say in the order (0: off)
    document_depth: int = 3
    document_kinds: tuple[str, ...] = ("transcript",)  # kinds the prior re-orders
    highlight_sentences: int = 2
    link_base_url: str | None = None
    corpus_dir: str = "corpus"


@dataclass(frozen=True)
class Query:
    """Stage 1: what the question is."""

    text: str
    vector: NDArray[np.float32]
    language: str  # detected among all languages ("und" when unclear)
    word_language: str  # detected among the library's languages: what word search sees
    words: WordQuery | None  # its content words (None: no word search)


@dataclass
class Candidates:
    """Stage 2: what the retrievers found, with what later stages read about each passage."""

    dense: Scored
    words: Scored  # word search, within the question's language and the filters
    cosine: dict[int, float]  # the question's cosine with every candidate
    passages: dict[int, Passage]
    documents: dict[str, DocumentInfo]  # of the passages, by doc id
    nearest: Scored = dataclasses.field(default_factory=list)  # dense search as such, before
    # feedback and neighbours' context (abstention's evidence reads it)


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits plus what the answer step needs to decide about abstention."""

    hits: tuple[Hit, ...]
    best_score: float  # best dense cosine
    query_language: str | None
    evidence: Evidence


class Searcher:
    """The stages, composed over one index version."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        cache: Cache | None,
        options: SearchOptions,
        reranker: Reranker | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.cache = cache
        self.options = options
        self.reranker = reranker

    def search(self, question: str, top_k: int, filters: SearchFilters) -> SearchResult:
        """The `top_k` best passages for `question` that pass `filters`."""
        query = analyse(question, self.embedder, self.store.languages(), self.options)
        found = retrieve(query, self.store, filters, self.options)
        evidence = measure(query, found.nearest, self.store, self._reader(), found.passages)
        order = fuse(query, found, self.options)
        limit = max(top_k, self.reranker.candidates) if self.reranker else top_k
        chosen = diversify(order, found.passages, limit)
        if self.reranker:
            passages = [found.passages[i] for i in chosen]
            scores = [found.cosine[i] for i in chosen]
            positions = self.reranker.order(
                question, query.vector, passages, scores, query.word_language
            )
            chosen = [chosen[i] for i in positions]
        hits = cite(chosen[:top_k], found, query, self.store, self._highlighter(), self.options)
        return SearchResult(hits, evidence.best_cosine, query.language, evidence)

    def evidence(self, question: str, vector: NDArray[np.float32]) -> Evidence:
        """How closely the whole library matches a question whose vector is known (no ranking,
        no filters): what abstention's calibration measures of each probe question."""
        query = analyse(question, self.embedder, self.store.languages(), self.options, vector)
        nearest = self.store.vector_search(query.vector, self.options.candidates, SearchFilters())
        return measure(query, nearest, self.store, self._reader())

    def _highlighter(self) -> Highlighter:
        return Highlighter(self.embedder, self.cache, self.options.highlight_sentences)

    def _reader(self) -> SentenceReader:
        return SentenceReader(self.embedder, self.cache)


# ----- 1. analyse -------------------------------------------------------------------------------
def analyse(
    question: str,
    embedder: Embedder,
    library_languages: Sequence[str],
    options: SearchOptions,
    vector: NDArray[np.float32] | None = None,
) -> Query:
    """The question's vector (unless given), languages and word-search expression."""
    word_language = detect_language(question, default="und", among=tuple(library_languages))
    return Query(
        text=question,
        vector=embedder.embed_queries([question])[0] if vector is None else vector,
        language=detect_language(question, default="und"),
        word_language=word_language,
        words=word_query(question, word_language, options.stem_languages),
    )


def word_query(question: str, language: str, stem_languages: Sequence[str]) -> WordQuery | None:
    """Word search: the question's content words against the passages' words as written, or,
    in a language of `stem_languages`, their Snowball stems against the passages' stems."""
    terms = keyword_terms(question)
    stems = language in stem_languages
    if stems:
        terms = stemmed_terms(terms, language)
    return WordQuery(tuple(terms), language, stems) if terms else None


# ----- 2. retrieve ------------------------------------------------------------------------------
def retrieve(
    query: Query, store: Store, filters: SearchFilters, options: SearchOptions
) -> Candidates:
    """Dense and word candidates, their cosines and passages."""
    nearest = store.vector_search(query.vector, options.candidates, filters)
    dense = nearest
    cosine = dict(dense)
    if options.feedback_weight > 0 and dense:
        dense = _with_feedback(query.vector, dense, store, filters, options)
    word_filters = within_language(filters, query.word_language)
    words: Scored = []
    if query.words is not None and word_filters is not None and options.word_weight > 0:
        words = store.keyword_search(query.words, options.candidates, word_filters)
    if options.neighbour_weight > 0:
        dense, words = _in_context(
            query, dense, words, store, filters, word_filters, cosine, options
        )
    ids = sorted({i for i, _ in dense} | {i for i, _ in words})
    _add_cosines(query.vector, [i for i in ids if i not in cosine], store, cosine)
    passages = store.passages(ids)
    documents = store.documents_by_id({p.doc_id for p in passages.values()})
    return Candidates(dense, words, cosine, passages, documents, nearest)


def _with_feedback(
    vector: NDArray[np.float32],
    dense: Scored,
    store: Store,
    filters: SearchFilters,
    options: SearchOptions,
) -> Scored:
    """Dense search again with the question moved towards its best passages (Rocchio)."""
    top = [i for i, _ in dense[: options.feedback_depth]]
    centre = store.stored_vectors(top).mean(axis=0)
    moved = vector + options.feedback_weight * centre
    moved = (moved / max(float(np.linalg.norm(moved)), 1e-12)).astype(np.float32)
    return store.vector_search(moved, options.candidates, filters)


def _add_cosines(
    vector: NDArray[np.float32], row_ids: list[int], store: Store, into: dict[int, float]
) -> None:
    """Add the question's cosine with each stored passage vector to `into`."""
    if row_ids:
        vectors = store.stored_vectors(row_ids)
        into.update(zip(row_ids, (vectors @ vector).tolist(), strict=True))


def _in_context(
    query: Query,
    dense: Scored,
    words: Scored,
    store: Store,
    filters: SearchFilters,
    word_filters: SearchFilters | None,
    cosine: dict[int, float],
    options: SearchOptions,
) -> tuple[Scored, Scored]:
    """Both rankings re-scored with each passage's neighbours (`fusion.neighbour_smoothed`).

    The candidates grow by the neighbours of every hit, so that a passage in the middle of a
    matching discussion is found even when its own words match less; the cosines and word
    scores of their neighbours in turn are read from the index.
    """
    radius = options.neighbour_radius
    hits = {i for i, _ in dense} | {i for i, _ in words}
    around = store.adjacent(sorted(hits), radius, options.neighbour_kinds)
    if all(sum(j is not None for j in row) == 1 for row in around.values()):
        return dense, words  # no hit has neighbours (e.g. no transcript among them)
    candidates = {j for row in around.values() for j in row if j is not None}
    candidates = store.passing(sorted(candidates), filters)
    around = store.adjacent(sorted(candidates), radius, options.neighbour_kinds)
    context = sorted({j for row in around.values() for j in row if j is not None})
    _add_cosines(query.vector, [i for i in context if i not in cosine], store, cosine)
    word_scores = dict(words)
    if words and query.words is not None and word_filters is not None:
        unseen = [i for i in context if i not in word_scores]
        word_scores.update(store.keyword_scores(query.words, unseen, word_filters))

    def ranking(scores: dict[int, float], members: set[int]) -> Scored:
        smoothed = neighbour_smoothed(scores, around, options.neighbour_weight)
        ranked = sorted(members, key=lambda i: (-smoothed[i], i))
        return [(i, smoothed[i]) for i in ranked[: options.candidates]]

    matched = {i for i in candidates if any(j in word_scores for j in around[i])}
    return ranking(cosine, candidates), ranking(word_scores, matched)


def within_language(filters: SearchFilters, language: str) -> SearchFilters | None:
    """`filters` narrowed to passages in `language` (None when that leaves nothing)."""
    if language == "und":
        return filters
    allowed: tuple[str, ...] = (language, "und")
    if filters.languages:
        allowed = tuple(x for x in filters.languages if x in allowed)
        if not allowed:
            return None
    return dataclasses.replace(filters, languages=allowed)


# ----- measure (abstention's evidence) ----------------------------------------------------------
EVIDENCE_DEPTH = 3  # nearest passages whose sentences and words are read
WORD_DEPTH = 20  # nearest passages among which those in the question's language are sought


@dataclass(frozen=True)
class SentenceReader:
    """Best e5 cosine of the sentences of passages (sentence vectors cached at ingest)."""

    embedder: Embedder
    cache: Cache | None

    def best(self, vector: NDArray[np.float32], passages: list[Passage]) -> float | None:
        """The best cosine of a sentence of `passages` with `vector` (None: no sentence)."""
        texts = sentence_texts(passages)
        if not texts:
            return None
        return float((embed_with_cache(self.embedder, self.cache, texts) @ vector).max())


def measure(
    query: Query,
    nearest: Scored,
    store: Store,
    reader: SentenceReader,
    known: dict[int, Passage] | None = None,
) -> Evidence:
    """How closely the nearest passages match the question: cosines, best sentence, words.

    Words are read only when passages in the question's language are among the nearest: a
    question asked across languages shares few words with the materials.
    """
    if not nearest:
        return Evidence(0.0, 0.0)
    best = float(nearest[0][1])
    ids = [i for i, _ in nearest[:WORD_DEPTH]]
    known = known or {}
    passages = {i: known[i] for i in ids if i in known}  # what retrieval already read
    passages.update(store.passages([i for i in ids if i not in passages]))
    top = [passages[i] for i in ids[:EVIDENCE_DEPTH] if i in passages]
    sentence = reader.best(query.vector, top)
    same = [
        i for i in ids if i in passages and written_in(passages[i].language, query.word_language)
    ][:EVIDENCE_DEPTH]
    share, unknown = word_evidence(query, same, store)
    return Evidence(
        best_cosine=best,
        best_sentence=max(sentence, best) if sentence is not None else best,
        word_share=share,
        unknown_name=unknown,
    )


def word_evidence(
    query: Query, row_ids: list[int], store: Store
) -> tuple[float | None, bool | None]:
    """(IDF-weighted share of the question's content words found in the passages `row_ids`,
    whether a name of the question is in no passage of the library).

    Content words are compared as Snowball stems in the question's language, names as
    written. (None, None) when no passage near the question is in its language (or the
    library has none), or when the question has no content word.
    """
    language = query.word_language
    if not row_ids or (language != "und" and language not in store.languages()):
        return None, None
    terms = stemmed_terms(keyword_terms(query.text), language)
    if not terms:
        return None, None
    names = question_names(query.text)
    matches = [WordQuery((t,), language, stems=True) for t in terms]
    matches += [WordQuery((n,), language, stems=False) for n in names]
    counts = store.term_counts(matches, row_ids)
    passages = store.passage_count()
    share = word_share(counts[: len(terms)], passages)
    return share, any(found == 0 for found, _ in counts[len(terms) :])


# ----- 3. fuse ----------------------------------------------------------------------------------
def fuse(query: Query, found: Candidates, options: SearchOptions) -> list[int]:
    """The candidates in one order.

    The dense ranking fixes which positions hold passages in the question's language; word
    search (which only sees those) re-orders them among themselves, by RRF or by a convex
    blend of normalised scores. It may never lift a passage over a passage in another language
    that the dense model ranked higher: the cross-lingual answer a French question about a
    Spanish talk needs. The document prior then re-orders the passages of transcripts among
    the positions they hold, so that the meeting holding several good candidates rises (the
    meeting the question is about); on reports, where one question has one passage, it would
    only favour long documents.
    """
    order = [i for i, _ in found.dense]
    seen = set(order)
    order += sorted({i for i, _ in found.words if i not in seen}, key=lambda i: -found.cosine[i])
    if found.words:
        group = {i for i in order if written_in(found.passages[i].language, query.word_language)}
        if options.fusion == "convex":
            scores = {i: found.cosine[i] for i in group}
            ranked = convex_order(scores, dict(found.words), options.convex_weight)
            order = reorder_within(order, group, ranked)
        else:
            ranked_words = [i for i, _ in found.words]
            order = fuse_within_group(
                order, group, ranked_words, options.word_weight, options.rrf_k
            )
    if options.document_weight > 0:
        doc_of = {i: found.passages[i].doc_id for i in order}
        group = {i for i in order if found.documents[doc_of[i]].kind in options.document_kinds}
        members = [i for i in order if i in group]
        ranked = document_prior(
            members, doc_of, options.document_weight, options.document_depth, options.rrf_k
        )
        order = reorder_within(order, group, ranked)
    return order


# ----- 4. diversify -----------------------------------------------------------------------------
def diversify(order: Sequence[int], passages: dict[int, Passage], limit: int) -> list[int]:
    """The first `limit` passages of `order`, skipping any that overlaps one already taken
    (neighbouring windows of one document repeat each other)."""
    chosen: list[int] = []
    for row_id in order:
        if not any(_overlaps(passages[row_id], passages[j]) for j in chosen):
            chosen.append(row_id)
            if len(chosen) == limit:
                break
    return chosen


def _overlaps(a: Passage, b: Passage) -> bool:
    return a.doc_id == b.doc_id and a.char_start < b.char_end and b.char_start < a.char_end


# ----- 6. cite ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Highlighter:
    """Picks each passage's sentences closest to the question (e5 vectors, cached at ingest)."""

    embedder: Embedder
    cache: Cache | None
    limit: int

    def __call__(
        self, vector: NDArray[np.float32], passages: list[Passage]
    ) -> list[tuple[tuple[int, int], ...]]:
        if self.limit <= 0 or not passages:
            return [() for _ in passages]
        spans = [passage_sentences(p.text) for p in passages]
        vectors = embed_with_cache(self.embedder, self.cache, sentence_texts(passages, spans))
        scores = (vectors @ vector).tolist() if len(vectors) else []
        result = []
        offset = 0
        for passage_spans in spans:
            part = scores[offset : offset + len(passage_spans)]
            offset += len(passage_spans)
            result.append(choose_highlights(passage_spans, part, self.limit))
        return result


def cite(
    chosen: list[int],
    found: Candidates,
    query: Query,
    store: Store,
    highlighter: Highlighter,
    options: SearchOptions,
) -> tuple[Hit, ...]:
    """Hits for the chosen passages, best first: citation, link, highlights, retriever."""
    passages = [found.passages[i] for i in chosen]
    documents = found.documents
    dense_ids = {i for i, _ in found.dense}
    word_ids = {i for i, _ in found.words}
    hits = []
    for rank, (row_id, passage, marks) in enumerate(
        zip(chosen, passages, highlighter(query.vector, passages), strict=True), start=1
    ):
        document = documents[passage.doc_id]
        retriever: Retriever = (
            "hybrid"
            if row_id in dense_ids and row_id in word_ids
            else "vector"
            if row_id in dense_ids
            else "keyword"
        )
        hits.append(
            Hit(
                passage=passage,
                document=document,
                score=round(float(found.cosine[row_id]), 4),
                rank=rank,
                retriever=retriever,
                citation=make_citation(
                    document, passage, options.corpus_dir, options.link_base_url
                ),
                highlights=marks,
            )
        )
    return tuple(hits)
