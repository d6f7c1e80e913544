"""FAISS index of passage vectors keyed by passage row id, exact or approximate by size.

- Exact (`IndexIDMap2(IndexFlatIP)`): below `APPROXIMATE_FROM` vectors. Vectors are
  normalised, so scores are cosines.
- Approximate (`IndexIVFScalarQuantizer`, 8-bit codes, inner product): from `APPROXIMATE_FROM`
  vectors on. It holds 384 bytes per e5 vector instead of 1,536, and a question scans only
  `nprobe` of its `nlist` lists. Its scores are approximate: the index store re-scores the
  candidates it returns with the exact vectors it keeps (`IndexStore.vector_search`), so the
  order and the cosines a search returns are exact among them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

APPROXIMATE_FROM = 100_000  # vectors from which the approximate index is built
NPROBE = 48  # lists scanned per question
TRAIN_PER_LIST = 40  # training vectors per list (k-means), at most MAX_TRAIN
MAX_TRAIN = 160_000
# With a filter that leaves less than this share of the vectors, every list is scanned (the
# allowed vectors may sit in lists the question would not visit).
SCAN_ALL_BELOW = 0.05


# One thread: a question searches one vector, and FAISS's OpenMP threads wait for each other
# when other work holds the cores (flat search over 10,000 vectors under load: p95 24 ms with
# two threads, 0.3 ms with one).
FAISS_THREADS = 1


def _faiss() -> Any:
    """The faiss module, set to FAISS_THREADS threads."""
    import faiss

    if faiss.omp_get_max_threads() != FAISS_THREADS:
        faiss.omp_set_num_threads(FAISS_THREADS)
    return faiss


def list_count(size: int) -> int:
    """IVF lists for `size` vectors: about 4·√size, between 64 and 16,384."""
    return int(min(16_384, max(64, 4 * math.sqrt(max(size, 1)))))


class VectorIndex:
    """Inner-product search over normalised vectors, exact or approximate."""

    def __init__(self, dimension: int, index: Any = None):
        faiss = _faiss()

        self.dimension = dimension
        self._index: Any = (
            index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        )
        self._quantizer: Any = None  # an IVF index's coarse quantizer, kept alive with it

    @classmethod
    def approximate(
        cls, dimension: int, ids: NDArray[np.int64], vectors: NDArray[np.float32], seed: int = 0
    ) -> VectorIndex:
        """An IVF index with 8-bit scalar-quantised codes, trained on a sample of `vectors`."""
        faiss = _faiss()

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        nlist = list_count(len(vectors))
        quantizer = faiss.IndexFlatIP(dimension)
        index: Any = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sample = min(len(vectors), max(nlist * TRAIN_PER_LIST, 10_000), MAX_TRAIN)
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(vectors), size=sample, replace=False))
        index.train(vectors[chosen])
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        index.nprobe = min(NPROBE, nlist)
        made = cls(dimension, index)
        made._quantizer = quantizer  # keep the Python object alive with the index
        return made

    @property
    def exact(self) -> bool:
        """True for the flat index (its scores and stored vectors are exact)."""
        faiss = _faiss()

        return not isinstance(self._index, faiss.IndexIVF)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add vectors under the given ids (ids must not be present yet)."""
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: NDArray[np.int64]) -> int:
        """Remove the given ids; return how many were present."""
        if not len(ids):
            return 0
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(
        self, query: NDArray[np.float32], top_k: int, allowed: NDArray[np.int64] | None = None
    ) -> list[tuple[int, float]]:
        """Best (id, score) pairs for one query vector, optionally among `allowed` ids only.

        Exact scores for the flat index; approximate ones (to be re-scored) for IVF.
        """
        faiss = _faiss()

        if len(self) == 0 or top_k <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        selector = None
        if allowed is not None:
            if not len(allowed):
                return []
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            top_k = min(top_k, len(allowed))
        top_k = min(top_k, len(self))
        if self.exact:
            params = faiss.SearchParameters(sel=selector) if selector else None
        else:
            nlist = int(self._index.nlist)
            narrow = allowed is not None and len(allowed) < SCAN_ALL_BELOW * len(self)
            params = faiss.SearchParametersIVF(
                sel=selector, nprobe=nlist if narrow else min(NPROBE, nlist)
            )
        scores, ids = self._index.search(query, top_k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]

    def reconstruct(self, ids: list[int]) -> NDArray[np.float32]:
        """The stored vectors of the given ids, in order (exact index only)."""
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for row, item in enumerate(ids):
            out[row] = self._index.reconstruct(int(item))
        return out

    def ids(self) -> NDArray[np.int64]:
        """Every id held, in no particular order."""
        faiss = _faiss()

        if self.exact:
            return np.asarray(faiss.vector_to_array(self._index.id_map), dtype=np.int64)
        lists = self._index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
            for number in range(lists.nlist)
            if lists.list_size(number)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves either the old file or the new one, never half."""
        faiss = _faiss()

        tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dimension: int) -> VectorIndex:
        """Read an index written by `save`."""
        faiss = _faiss()

        index = faiss.read_index(str(path))
        if index.d != dimension:
            raise ValueError(f"{path} holds {index.d}-d vectors, expected {dimension}")
        return cls(dimension, index)
