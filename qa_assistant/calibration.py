"""The abstention calibration of an index version: how closely the probe questions match it.

The writer computes it after each change (add, remove, rebuild) and stores it with the version
(`IndexStore.save_calibration`), naming the generation it describes. Searchers read it once
per generation and keep it; for an index written before calibrations existed (or of an older
calibration format), or while a writer has not stored one yet, they compute it themselves on
the first question and keep it in memory. Computing it measures each probe question as a
question is measured (`Searcher.evidence`: one dense search, cached sentence vectors, a few
word counts): the probes' vectors are the same for every library, so they are embedded once
and kept in the embedding cache.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from qa_assistant.abstention import Calibration, calibrate, load_probes, probes_digest
from qa_assistant.embedding import text_sha

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from qa_assistant.embedding import Embedder
    from qa_assistant.store import Cache as EmbeddingCache
    from qa_assistant.store import Store as IndexStore
    from qa_assistant.types import Evidence

logger = logging.getLogger(__name__)

# Probe vectors are query vectors (e5 embeds queries with another prompt than passages): they
# are cached under the model's name with this suffix, apart from passage vectors of equal text.
QUERY_CACHE_SUFFIX = ":query"


class Meter(Protocol):
    """Measures a question against one index version (`search.Searcher`)."""

    def evidence(self, question: str, vector: NDArray[np.float32]) -> Evidence:
        """How closely the library matches the question whose vector is `vector`."""
        ...


class Calibrator:
    """Computes, stores and memoises the calibration of index versions (safe for threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memo: tuple[str, int, Calibration] | None = None  # (folder, generation, value)
        self._vectors: tuple[str, NDArray[np.float32]] | None = None  # (model, probe vectors)

    def current(
        self,
        store: IndexStore,
        model: str,
        meter: Callable[[], Meter],
        embedder: Callable[[], Embedder],
        cache: EmbeddingCache,
    ) -> Calibration:
        """The calibration of the generation this thread reads: memoised, stored or computed.

        Args:
            meter: measures the probes against `store`, made only if they must be measured.
            embedder: gives the model, loaded only if the probes' vectors are not cached.
        """
        generation = store.generation()
        key = store.name
        with self._lock:
            if self._memo is not None and self._memo[:2] == (key, generation):
                return self._memo[2]
        calibration = self.stored(store, model, generation)
        if calibration is None:
            logger.info("computing the abstention calibration of generation %d", generation)
            calibration = self._compute(store, model, generation, meter(), embedder, cache)
        with self._lock:
            self._memo = (key, generation, calibration)
        return calibration

    def refresh(
        self,
        store: IndexStore,
        model: str,
        meter: Callable[[], Meter],
        embedder: Callable[[], Embedder],
        cache: EmbeddingCache,
    ) -> Calibration:
        """Compute and store the calibration of the store's latest generation, unless stored.

        Only the index's writer calls this (it holds the write lock).
        """
        generation = store.generation()
        calibration = self.stored(store, model, generation)
        if calibration is None:
            calibration = self._compute(store, model, generation, meter(), embedder, cache)
            store.save_calibration(calibration.to_json())
        with self._lock:
            self._memo = (store.name, generation, calibration)
        return calibration

    def stored(self, store: IndexStore, model: str, generation: int) -> Calibration | None:
        """The stored calibration, if it describes this generation, model and probe set."""
        text = store.calibration()
        calibration = Calibration.from_json(text) if text else None
        if calibration is None or not calibration.describes(
            generation, model, probes_digest(load_probes())
        ):
            return None
        return calibration

    def _compute(
        self,
        store: IndexStore,
        model: str,
        generation: int,
        meter: Meter,
        embedder: Callable[[], Embedder],
        cache: EmbeddingCache,
    ) -> Calibration:
        probes = load_probes()
        vectors = self._probe_vectors(model, embedder, cache)
        measured = [
            meter.evidence(probe.text, vector)
            for probe, vector in zip(probes, vectors, strict=True)
        ]
        return calibrate(probes, measured, generation, model, store.passage_count())

    def _probe_vectors(
        self, model: str, embedder: Callable[[], Embedder], cache: EmbeddingCache
    ) -> NDArray[np.float32]:
        """The probes' query vectors: from memory, else the embedding cache, else the model."""
        with self._lock:
            if self._vectors is not None and self._vectors[0] == model:
                return self._vectors[1]
        texts = [probe.text for probe in load_probes()]
        shas = [text_sha(text) for text in texts]
        found = cache.get_many(model + QUERY_CACHE_SUFFIX, shas)
        missing = [i for i, sha in enumerate(shas) if sha not in found]
        if missing:
            fresh = embedder().embed_queries([texts[i] for i in missing])
            computed = {shas[i]: fresh[row] for row, i in enumerate(missing)}
            cache.put_many(model + QUERY_CACHE_SUFFIX, computed)
            found.update(computed)
        vectors = np.vstack([found[sha] for sha in shas]).astype(np.float32)
        with self._lock:
            self._vectors = (model, vectors)
        return vectors
