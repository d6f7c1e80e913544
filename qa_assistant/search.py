"""Hybrid search: question → dense and word retrieval → neighbours → fusion → second stage."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qa_assistant.answering import choose_highlights, make_citation, passage_sentences
from qa_assistant.fusion import fuse_within_group, neighbour_smoothed, reciprocal_rank_fusion
from qa_assistant.keyword_index import (
    STEMS_COLUMN,
    TEXT_COLUMN,
    exact_terms,
    fts_query,
    keyword_terms,
    stemmed_terms,
)
from qa_assistant.language import detect_language, written_in
from qa_assistant.types import Hit, Passage, Retriever, SearchFilters

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from qa_assistant.embedding import Embedder
    from qa_assistant.index_store import EmbeddingCache, IndexStore
    from qa_assistant.rerank import Reranker


@dataclass(frozen=True)
class SearchOptions:
    """Tunables of one search (taken from Settings by the Assistant)."""

    candidates: int = 50
    rrf_k: int = 60
    keyword_weight: float = 0.0
    keyword_terms: str = "layered"
    word_weight: float = 0.5
    stemming: bool = False
    neighbour_weight: float = 0.0
    neighbour_radius: int = 2
    neighbour_kinds: tuple[str, ...] | None = None
    highlight_sentences: int = 2
    link_base_url: str | None = None
    corpus_dir: str = "corpus"


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits plus what the answer step needs to decide about abstention."""

    hits: tuple[Hit, ...]
    best_score: float
    query_language: str | None


def text_sha(text: str) -> str:
    """Key of the embedding cache."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_with_cache(
    embedder: Embedder, cache: EmbeddingCache | None, texts: list[str]
) -> NDArray[np.float32]:
    """Passage vectors, computing only those not cached for this model."""
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    shas = [text_sha(t) for t in texts]
    cached = cache.get_many(embedder.name, shas) if cache else {}
    missing = sorted(
        {sha: text for sha, text in zip(shas, texts, strict=True) if sha not in cached}.items()
    )
    if missing:
        vectors = embedder.embed_passages([text for _, text in missing])
        fresh = {sha: vectors[i] for i, (sha, _) in enumerate(missing)}
        if cache:
            cache.put_many(embedder.name, fresh)
        cached.update(fresh)
    return np.vstack([cached[sha] for sha in shas]).astype(np.float32)


class HybridSearcher:
    """Runs both retrievers on one index version and fuses them."""

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        cache: EmbeddingCache | None,
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
        options = self.options
        query_vector = self.embedder.embed_queries([question])[0]
        dense = self.store.vector_search(query_vector, options.candidates, filters)
        query_language = detect_language(question, default="und")
        # The question's language among those of the materials: which passages word search sees.
        word_language = detect_language(question, default="und", among=self.store.languages())
        exact: list[tuple[int, float]] = []
        words: list[tuple[int, float]] = []
        word_match: str | None = None
        word_filters = _within(filters, word_language)
        if options.keyword_terms in ("exact", "layered") and options.keyword_weight > 0:
            exact = self._keyword(fts_query(exact_terms(question), TEXT_COLUMN), filters)
        if options.keyword_terms in ("all", "layered"):
            word_match = _word_query(question, word_language, options.stemming)
            words = self._keyword(word_match, word_filters)
        cosine = dict(dense)
        best = max(cosine.values(), default=0.0)  # what abstention compares with min_score
        if options.neighbour_weight > 0:
            dense, words = self._in_context(
                query_vector, dense, words, word_match, filters, word_filters, cosine
            )
        keyword = exact + words
        passages = self.store.passages(sorted({i for i, _ in dense} | {i for i, _ in keyword}))
        self._cosines(query_vector, [i for i in passages if i not in cosine], cosine)
        ranked = self._rank(dense, exact, words, passages, cosine, word_language)
        dense_ids = {i for i, _ in dense}
        keyword_ids = {i for i, _ in keyword}
        chosen: list[tuple[int, Passage]] = []
        limit = max(top_k, self.reranker.candidates) if self.reranker else top_k
        for row_id in ranked:
            passage = passages[row_id]
            if any(_overlaps(passage, other) for _, other in chosen):
                continue  # neighbouring windows of one document repeat each other
            chosen.append((row_id, passage))
            if len(chosen) == limit:
                break
        if self.reranker:
            order = self.reranker.order(
                question,
                query_vector,
                [p for _, p in chosen],
                [cosine[i] for i, _ in chosen],
                word_language,
            )
            chosen = [chosen[i] for i in order][:top_k]
        documents = self.store.documents_by_id({p.doc_id for _, p in chosen})
        highlights = self._highlights(query_vector, [p for _, p in chosen])
        hits = []
        for rank, ((row_id, passage), marks) in enumerate(
            zip(chosen, highlights, strict=True), start=1
        ):
            document = documents[passage.doc_id]
            retriever: Retriever = (
                "hybrid"
                if row_id in dense_ids and row_id in keyword_ids
                else "vector"
                if row_id in dense_ids
                else "keyword"
            )
            hits.append(
                Hit(
                    passage=passage,
                    document=document,
                    score=round(float(cosine[row_id]), 4),
                    rank=rank,
                    retriever=retriever,
                    citation=make_citation(
                        document, passage, options.corpus_dir, options.link_base_url
                    ),
                    highlights=marks,
                )
            )
        return SearchResult(hits=tuple(hits), best_score=float(best), query_language=query_language)

    def _cosines(
        self, query_vector: NDArray[np.float32], row_ids: list[int], into: dict[int, float]
    ) -> None:
        """Add the question's cosine with each stored passage vector to `into`."""
        if row_ids:
            vectors = self.store.stored_vectors(row_ids)
            into.update(zip(row_ids, (vectors @ query_vector).tolist(), strict=True))

    def _in_context(
        self,
        query_vector: NDArray[np.float32],
        dense: list[tuple[int, float]],
        words: list[tuple[int, float]],
        word_match: str | None,
        filters: SearchFilters,
        word_filters: SearchFilters | None,
        cosine: dict[int, float],
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Both rankings re-scored with each passage's neighbours (`neighbour_smoothed`).

        The candidates grow by the neighbours of every hit, so that a passage in the middle of
        a matching discussion is found even when its own words match less; the cosines and
        word scores of their neighbours in turn are read from the index.
        """
        options = self.options
        radius = options.neighbour_radius
        hits = {i for i, _ in dense} | {i for i, _ in words}
        around = self.store.adjacent(sorted(hits), radius, options.neighbour_kinds)
        if all(sum(j is not None for j in row) == 1 for row in around.values()):
            return dense, words  # no hit has neighbours (e.g. no transcript among them)
        candidates = {j for row in around.values() for j in row if j is not None}
        allowed = self.store.allowed_ids(filters)
        if allowed is not None:
            candidates &= set(allowed.tolist())
        around = self.store.adjacent(sorted(candidates), radius, options.neighbour_kinds)
        context = sorted({j for row in around.values() for j in row if j is not None})
        self._cosines(query_vector, [i for i in context if i not in cosine], cosine)
        word_scores = dict(words)
        if word_match is not None and word_filters is not None:
            unseen = [i for i in context if i not in word_scores]
            word_scores.update(self.store.keyword_scores(word_match, unseen, word_filters))
        limit = options.candidates

        def ranking(scores: dict[int, float], matched: set[int]) -> list[tuple[int, float]]:
            smoothed = neighbour_smoothed(scores, around, options.neighbour_weight)
            ranked = sorted(
                (i for i in candidates if i in matched), key=lambda i: (-smoothed[i], i)
            )
            return [(i, smoothed[i]) for i in ranked[:limit]]

        matched = {i for i in candidates if any(j in word_scores for j in around[i])}
        return ranking(cosine, candidates), ranking(word_scores, matched)

    def _keyword(self, match: str | None, filters: SearchFilters | None) -> list[tuple[int, float]]:
        if match is None or filters is None:
            return []
        return self.store.keyword_search(match, self.options.candidates, filters)

    def _rank(
        self,
        dense: list[tuple[int, float]],
        exact: list[tuple[int, float]],
        words: list[tuple[int, float]],
        passages: dict[int, Passage],
        cosine: dict[int, float],
        word_language: str,
    ) -> list[int]:
        """The fused order of the candidates.

        "exact": RRF of the dense ranking and the exact-term ranking (all languages).
        "all": RRF of the dense ranking and word search within the question's language.
        "layered": the "exact" order first; then the passages in the question's language are
        re-ordered, among the positions they hold, by RRF with word search. Word search only
        sees passages in the question's language, so it may re-order those among themselves
        but never lift them over a passage in another language that the dense model ranked
        higher, the cross-lingual answer a French question about a Spanish talk needs.
        """
        options = self.options
        if options.keyword_terms == "all":
            fused = reciprocal_rank_fusion(
                [[i for i, _ in dense], [i for i, _ in words]],
                [1.0, options.keyword_weight],
                k=options.rrf_k,
            )
            return [i for i, _ in fused]
        base = [
            i
            for i, _ in reciprocal_rank_fusion(
                [[i for i, _ in dense], [i for i, _ in exact]],
                [1.0, options.keyword_weight],
                k=options.rrf_k,
            )
        ]
        if not words or options.word_weight <= 0:
            return base
        seen = set(base)
        base += sorted({i for i, _ in words if i not in seen}, key=lambda i: -cosine[i])
        group = {i for i in base if written_in(passages[i].language, word_language)}
        return fuse_within_group(
            base, group, [i for i, _ in words], options.word_weight, k=options.rrf_k
        )

    def _highlights(
        self, query_vector: NDArray[np.float32], passages: list[Passage]
    ) -> list[tuple[tuple[int, int], ...]]:
        limit = self.options.highlight_sentences
        if limit <= 0 or not passages:
            return [() for _ in passages]
        spans = [passage_sentences(p.text) for p in passages]
        texts = sentence_texts(passages, spans)
        vectors = embed_with_cache(self.embedder, self.cache, texts)
        scores = (vectors @ query_vector).tolist() if len(texts) else []
        result = []
        offset = 0
        for passage_spans in spans:
            part = scores[offset : offset + len(passage_spans)]
            offset += len(passage_spans)
            result.append(choose_highlights(passage_spans, part, limit))
        return result


def sentence_texts(
    passages: list[Passage], spans: list[list[tuple[int, int]]] | None = None
) -> list[str]:
    """The sentences of the passages, in order: the units scored for highlighting."""
    if spans is None:
        spans = [passage_sentences(p.text) for p in passages]
    return [p.text[s:e] for p, ss in zip(passages, spans, strict=True) for s, e in ss]


def _word_query(question: str, language: str, stemming: bool) -> str | None:
    """Word search: the question's words against the passages' words as written; with
    `stemming`, its Snowball stems against the passages' stems, in the question's language
    (as written when that language is unclear)."""
    terms = keyword_terms(question)
    if not stemming or language == "und":
        return fts_query(terms, TEXT_COLUMN)
    return fts_query(stemmed_terms(terms, language), STEMS_COLUMN)


def _within(filters: SearchFilters, language: str) -> SearchFilters | None:
    """`filters` narrowed to passages in `language` (None when that leaves nothing)."""
    if language == "und":
        return filters
    allowed: tuple[str, ...] = (language, "und")
    if filters.languages:
        allowed = tuple(x for x in filters.languages if x in allowed)
        if not allowed:
            return None
    return dataclasses.replace(filters, languages=allowed)


def _overlaps(a: Passage, b: Passage) -> bool:
    return a.doc_id == b.doc_id and a.char_start < b.char_end and b.char_start < a.char_end
